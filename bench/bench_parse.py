"""Parse throughput on a 1 000 000-line 'e' dump against a bare `for line in file` loop (run in the same
process, best of several runs each). Prints ratios; the target for the vectorised parser is ≥ 0.3.

    python bench/bench_parse.py [--lines N] [--repeat R]

The dump is the simulator's own `xl dmesg`-style output ("(XEN) " prefix, 4.4+ layout) of a host with a
busy dom0 and a few hundred guests, the 'e' key pressed repeatedly until the file holds N lines.
Times are CPU times (best of R).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from evtchn.inspect import analyze, format_edump, format_lsevtchn, parse_file, parse_text
from evtchn.xen import DOMID_SELF, Hypervisor, HypervisorSettings


def build_host(guests: int, vcpus: int) -> Hypervisor:
    """A big FIFO host: dom0 (16 vCPUs, PIRQs) and `guests` PV guests of `vcpus` vCPUs with 4-8 devices.

    Each guest vCPU binds the timer and debug VIRQs and five IPIs, as Linux does (reference §7.1).
    """
    hv = Hypervisor(HypervisorSettings(xen_version=(4, 22)))
    hv.create_domain(0, privileged=True, max_vcpus=16, nr_pirqs=256)
    hv.init_control(0, 1, 0, 0)
    for gfn in range(2, 40):
        hv.expand_array(0, gfn)
    for v in range(16):
        hv.bind_virq(0, 0, v)
        for _ in range(4):
            hv.bind_ipi(0, v)
    for pirq in range(16, 120):
        hv.bind_pirq(0, pirq)
    for domid in range(1, guests + 1):
        hv.create_domain(domid, max_vcpus=vcpus)
        for port in (hv.alloc_unbound(0, domid, 0), hv.alloc_unbound(0, domid, 0)):
            hv.bind_interdomain(0, domid, port)
        for v in range(vcpus):
            hv.bind_virq(domid, 0, v)
            hv.bind_virq(domid, 1, v)
            for _ in range(5):
                hv.bind_ipi(domid, v)
        for _ in range(4 + domid % 5):
            hv.bind_interdomain(0, domid, hv.alloc_unbound(domid, DOMID_SELF, 0))
    return hv


def write_dump(path: Path, text: str, lines: int) -> None:
    chunk = text.splitlines(keepends=True)
    out: list[str] = []
    while len(out) < lines:
        out.extend(chunk[: lines - len(out)])
    path.write_text("".join(out))


def best(fn: Callable[[], object], repeat: int) -> float:
    """Best CPU time of `repeat` runs: process time, so other work on a shared machine does not count;
    the result is dropped after the clock stops."""
    times = []
    for _ in range(repeat):
        t = time.process_time()
        result = fn()
        times.append(time.process_time() - t)
        del result
    return min(times)


def bare_loop(path: Path) -> int:
    n = 0
    with path.open() as f:
        for _line in f:
            n += 1
    return n


def measure(path: Path, lines: int, repeat: int) -> tuple[float, float, float, int, int]:
    """(bare loop, parse_file, parse_file + analyze) best times, ports and tables found."""
    dump = parse_file(path)
    assert dump.bad == [] and dump.accounted() == lines, (len(dump.bad), dump.accounted())
    assert bare_loop(path) == lines
    base = best(lambda: bare_loop(path), repeat)
    fast = best(lambda: parse_file(path), repeat)
    full = best(lambda: analyze(parse_file(path)), repeat)
    return base, fast, full, dump.ports, len(dump.tables)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    n = args.lines
    big = build_host(guests=n // 450 + 1, vcpus=64)
    small = build_host(guests=300, vcpus=2)
    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp) / "one-dump.txt"
        write_dump(one, format_edump(big, prefix=True), n)
        many = Path(tmp) / "many-dumps.txt"
        write_dump(many, format_edump(small, prefix=True), n)
        ls = Path(tmp) / "lsevtchn.txt"
        write_dump(ls, "".join(format_lsevtchn(small, d).stdout for d in sorted(small.domains)), n)

        rows = [("one 'e' dump of a big FIFO host", *measure(one, n, args.repeat))]
        rows.append(("the 'e' key pressed again and again", *measure(many, n, args.repeat)))
        slow = best(lambda: parse_text(one.read_bytes(), fast=False), 1)
        ls_base = best(lambda: bare_loop(ls), args.repeat)
        ls_time = best(lambda: parse_file(ls), args.repeat)

    print(f"parse throughput against a bare `for line in file` loop, {n} lines, best of {args.repeat}")
    for name, base, fast, full, ports, tables in rows:
        print(f"{name}: {ports} ports in {tables} tables")
        print(f"  bare loop            {base * 1e3:8.1f} ms  (baseline)")
        print(f"  parse_file           {fast * 1e3:8.1f} ms  ratio {base / fast:.2f}  (target >= 0.3)")
        print(f"  parse_file + analyze {full * 1e3:8.1f} ms  ratio {base / full:.2f}")
    base = rows[0][1]
    print(
        f"per-line parser alone (no vectorised scan), one dump: {slow * 1e3:8.1f} ms  ratio {base / slow:.3f}"
    )
    print(f"lsevtchn of each domain, again and again: {ls_time * 1e3:8.1f} ms  ratio {ls_base / ls_time:.3f}")


if __name__ == "__main__":
    main()
