"""Benchmarks of the hypervisor core, as ratios against baselines measured in the same run.

    python bench/bench_core.py            # prints each figure, its ratio and target; exit 1 if one is missed

1. Fill: one FIFO domain filled to 131 071 ports vs one filled to 4 095 (the guest expands its event
   array a page at a time, as Linux does). Target ≤ 40: linear growth (32× the ports). Xen's own
   get_free_port() scans from 0 every time, which is quadratic over a fill.
2. Mixed cycle, once per event ABI (2-level, and FIFO: the ABI of xenserver-8 and xen-xl):
   alloc_unbound, bind_interdomain, send, close, close — cost per hypercall against a minimal Python
   method call that stores one dict entry. Target ≤ 10× for each. Under FIFO the event words are
   pre-masked, as Linux leaves them until a handler is bound, so a bind and a send set PENDING only.
   Once more under FIFO with dirty tracking on, as a persisted host runs: target ≤ 20×.
3. Memory per allocated port in a full FIFO domain (tracemalloc, everything the domain holds).
   Target ≤ 32 B; Xen's own `struct evtchn` is 64 B.

Every time is this process's CPU time (time.process_time_ns), best of many short runs measured
alternately with their baseline, so that other load on a shared machine neither inflates nor skews a
ratio. The whole run is taken 3 times (`--repeat N` to change it) and each figure's best ratio is
reported, since a loaded machine can spoil one whole run.
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc
from collections.abc import Callable

from evtchn.xen import DOMID_SELF, Hypervisor

SMALL, LARGE = 4095, 131071
CHUNK = 2_000  # cycles per timed chunk: short, so that the best chunk dodges other load
BASE_CHUNK = 10 * CHUNK  # the baseline's chunk lasts about as long as a cycle chunk (~10× cheaper per call),
# so that both minima come from windows of the same length on a loaded machine
HYPERCALLS_PER_CYCLE = 5


def _interleaved(
    a: Callable[[], float], b: Callable[[], float], rounds: int, a_per_round: int = 1
) -> tuple[float, float]:
    """Best of each, measured alternately so that both see the same load on a shared machine."""
    best_a = best_b = float("inf")
    for _ in range(rounds):
        for _ in range(a_per_round):
            best_a = min(best_a, a())
        best_b = min(best_b, b())
    return best_a, best_b


def _fill(n: int) -> float:
    """Seconds to bind n IPIs in a fresh FIFO domain, expanding the array as each page fills."""
    hv = Hypervisor()
    hv.create_domain(1)
    hv.init_control(1, 1, 0, 0)
    bind, expand = hv.bind_ipi, hv.expand_array
    gc.disable()
    t0 = time.process_time_ns()
    for i in range(n):
        if not i & 1023:
            expand(1, 2 + (i >> 10))
        bind(1, 0)
    dt = (time.process_time_ns() - t0) / 1e9
    gc.enable()
    assert hv.domain(1).active_evtchns == n
    return dt


class _Store:
    __slots__ = ("d",)

    def __init__(self) -> None:
        self.d: dict[int, int] = {}

    def put(self, key: int, value: int) -> None:
        self.d[key] = value


def _baseline() -> Callable[[], float]:
    """A timer: seconds per minimal method call that stores one dict entry, in the cycle's loop shape."""
    put = _Store().put

    def run() -> float:
        t0 = time.process_time_ns()
        for i in range(BASE_CHUNK):
            put(i, 1)
            put(i, 2)
            put(i, 3)
            put(i, 4)
            put(i, 5)
        return (time.process_time_ns() - t0) / 1e9 / (BASE_CHUNK * HYPERCALLS_PER_CYCLE)

    return run


def cycle_timer(fifo: bool = False, tracked: bool = False) -> Callable[[], float]:
    """A timer: seconds per hypercall in the frontend/backend connect, notify, disconnect cycle."""
    hv = Hypervisor()
    hv.create_domain(0, privileged=True)
    hv.create_domain(1)
    if fifo:  # each guest sets FIFO up as Linux does: a control block, then one event-array page
        for domid in (0, 1):
            hv.init_control(domid, 1, 0, 0)
            hv.expand_array(domid, 2)
            assert hv.domain(domid).is_fifo
    for _ in range(50):  # some ports already in use, as on a real host
        hv.bind_ipi(0, 0)
        hv.bind_ipi(1, 0)
    if tracked:  # what a persisted host runs: every change recorded for the store (xen/dirty.py)
        hv.track_dirty()
    alloc, bind, send, close = hv.alloc_unbound, hv.bind_interdomain, hv.send, hv.close

    def run() -> float:
        t0 = time.process_time_ns()
        for _ in range(CHUNK):
            p = alloc(1, DOMID_SELF, 0)
            q = bind(0, 1, p)
            send(1, p)
            close(0, q)
            close(1, p)
        dt = (time.process_time_ns() - t0) / 1e9
        hv.check_invariants()
        assert hv.domain(0).active_evtchns == hv.domain(1).active_evtchns == 50
        return dt / (CHUNK * HYPERCALLS_PER_CYCLE)

    return run


def _memory_per_port(n: int) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    hv = Hypervisor()
    hv.create_domain(1)
    hv.init_control(1, 1, 0, 0)
    for i in range(n):
        if not i & 1023:
            hv.expand_array(1, 2 + (i >> 10))
        hv.bind_ipi(1, 0)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert hv.domain(1).active_evtchns == n
    return (after - before) / n


def measure() -> list[tuple[str, str, float, float, str]]:
    """One run: (name, figure, ratio, target, unit) per figure."""
    out: list[tuple[str, str, float, float, str]] = []
    small, large = _interleaved(lambda: _fill(SMALL), lambda: _fill(LARGE), rounds=5, a_per_round=4)
    out.append(
        (
            "fill FIFO 131071 vs 4095 ports",
            f"{large * 1e3:8.1f} ms vs {small * 1e3:6.2f} ms CPU ({LARGE / SMALL:.0f}× ports)",
            large / small,
            40,
            "×",
        )
    )
    for label, fifo, tracked, target in (
        ("2-level", False, False, 10),
        ("FIFO", True, False, 10),
        ("FIFO dirty-tracked", True, True, 20),
    ):
        gc.disable()
        base, per_call = _interleaved(
            _baseline(), cycle_timer(fifo, tracked), rounds=100 if target == 10 else 30
        )
        gc.enable()
        out.append(
            (
                f"mixed cycle {label}, per hypercall",
                f"{per_call * 1e9:8.0f} ns vs dict-store call {base * 1e9:5.0f} ns",
                per_call / base,
                target,
                "×",
            )
        )
    per_port = _memory_per_port(LARGE)
    out.append(
        ("memory per allocated port", f"{per_port:8.1f} B (Xen's struct evtchn: 64 B)", per_port, 32, " B")
    )
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    repeat = int(args[args.index("--repeat") + 1]) if "--repeat" in args else 3
    best: dict[str, tuple[str, str, float, float, str]] = {}
    for _ in range(max(1, repeat)):
        for row in measure():
            if row[0] not in best or row[2] < best[row[0]][2]:
                best[row[0]] = row
    ok = True
    for name, figure, ratio, target, unit in best.values():
        met = ratio <= target
        ok &= met
        verdict = "ok" if met else "MISSED"
        print(f"{name:<36} {figure:<48} {ratio:7.2f}{unit} (target ≤ {target:g}{unit}) {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
