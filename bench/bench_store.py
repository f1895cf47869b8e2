"""Store benchmark: a persisted operation's cost must not grow with the host.

    python bench/bench_store.py            # all of it
    python bench/bench_store.py --quick    # a 1 000-VM host instead of 5 000, fewer repetitions

Measured in one run, CPU time (time.process_time), best of N:
  1. persisted VM start + shutdown (two transactions through the store) on a host of 5 000 VMs (a tenth
     of them running) vs the same on a host of 10 VMs (one running): target ratio <= 1.5;
  2. persisted VM start vs a bare SQLite transaction updating one row with the same durability settings
     (WAL, synchronous=FULL): reported (goal <= 10x, not a pass/fail target);
  3. resident memory of a fresh process holding a 1 000-VM FIFO host (xenserver-8, all running) through
     the store, after one transaction: target <= 100 MB.
Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from evtchn.store import create_store
from evtchn.store.sqlite import Store
from evtchn.toolstack import Host, seed_vm_spec
from evtchn.toolstack.errors import ToolstackError

RATIO_TARGET = 1.5
BARE_GOAL = 10.0
RSS_TARGET_MB = 100.0


def best_of(repeats: int, fn: Callable[[], float]) -> float:
    return min(fn() for _ in range(repeats))


def build(path: Path, vms: int, running: int, profile: str = "xenserver-8") -> Store[Host]:
    host = Host.create(profile)
    spec = seed_vm_spec("seed")
    for i in range(vms):
        host.define_vm(spec.model_copy(update={"name": f"vm{i}"}))
    for i in range(1, running + 1):
        host.start_vm(f"vm{i}")
    return create_store(host, path)


def vm_key(store: Store[Host], name: str) -> str:
    """The VM's uuid where the toolstack looks VMs up by uuid (as XenAPI does), else its name."""
    uuid = next(r.uuid for r in store.vms() if r.name == name)
    try:
        store.read().vm(uuid)
    except ToolstackError:
        return name
    return uuid


def in_memory(host: Host, key: str) -> float:
    """The same start + shutdown on the host object alone: what the toolstack itself costs."""
    t0 = time.process_time()
    host.start_vm(key)
    host.shutdown_vm(key)
    return time.process_time() - t0


def start_shutdown(store: Store[Host], name: str) -> float:
    t0 = time.process_time()
    with store.transaction() as host:
        host.start_vm(name)
    with store.transaction() as host:
        host.shutdown_vm(name)
    return time.process_time() - t0


def start_only(store: Store[Host], name: str) -> float:
    t0 = time.process_time()
    with store.transaction() as host:
        host.start_vm(name)
    elapsed = time.process_time() - t0
    with store.transaction() as host:
        host.shutdown_vm(name)
    return elapsed


def bare_row_update(path: Path) -> Callable[[], float]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v INTEGER)")
    conn.execute("INSERT OR REPLACE INTO t VALUES (1, 0)")

    def once() -> float:
        t0 = time.process_time()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE t SET v = v + 1 WHERE id = 1")
        conn.execute("COMMIT")
        return time.process_time() - t0

    return once


_RSS_CHILD = """
import sys
from pathlib import Path
from evtchn.store import create_store, open_store
from evtchn.toolstack import Host, seed_vm_spec
from evtchn.toolstack.errors import ToolstackError

path = Path(sys.argv[1])
if not path.exists():
    host = Host.create("xenserver-8")
    spec = seed_vm_spec("seed")
    for i in range(1000):
        host.define_vm(spec.model_copy(update={"name": f"vm{i}"}))
        host.start_vm(f"vm{i}")
    create_store(host, path)
    sys.exit(0)
store = open_store(path)
with store.transaction() as host:  # the store keeps this host between transactions, as serve does
    host.shutdown_vm("vm0")
with store.transaction() as host:
    host.start_vm("vm0")
rss = next(line for line in open("/proc/self/status") if line.startswith("VmRSS:"))
print(int(rss.split()[1]) / 1024)
"""


def rss_mb(tmp: Path) -> float:
    path = tmp / "rss.db"
    subprocess.run([sys.executable, "-c", _RSS_CHILD, str(path)], check=True)
    cmd = [sys.executable, "-c", _RSS_CHILD, str(path)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return float(out.stdout.strip())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    big_n = 1000 if args.quick else 5000
    repeats = 3 if args.quick else 7
    ok = True
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        t0 = time.perf_counter()
        small = build(tmp / "small.db", 10, 1)
        big = build(tmp / "big.db", big_n, big_n // 10)
        print(f"built hosts of 10 and {big_n} VMs in {time.perf_counter() - t0:.1f}s")
        # VMs named by uuid, as XenAPI clients do (a name is a scan of every VM in the toolstack)
        name_small = vm_key(small, "vm9")
        name_big = vm_key(big, f"vm{big_n - 1}")
        start_shutdown(small, name_small)  # warm: the first transaction loads the host
        start_shutdown(big, name_big)
        s = best_of(repeats, lambda: start_shutdown(small, name_small))
        b = best_of(repeats, lambda: start_shutdown(big, name_big))
        ratio = b / s
        verdict = "ok" if ratio <= RATIO_TARGET else "MISS"
        ok &= ratio <= RATIO_TARGET
        print(
            f"1. persisted start+shutdown: 10 VMs {s * 1e3:.2f} ms, {big_n} VMs {b * 1e3:.2f} ms CPU: "
            f"{ratio:.2f}x (target <= {RATIO_TARGET}) {verdict}"
        )
        with small.transaction() as h_small, big.transaction() as h_big:
            ms = best_of(repeats, lambda: in_memory(h_small, name_small))
            mb = best_of(repeats, lambda: in_memory(h_big, name_big))
        print(
            f"   of which the toolstack alone (no store): 10 VMs {ms * 1e3:.2f} ms, "
            f"{big_n} VMs {mb * 1e3:.2f} ms "
            f"({mb / ms:.2f}x); the store's own share: {(s - ms) * 1e3:.2f} ms vs {(b - mb) * 1e3:.2f} ms"
        )
        start = best_of(repeats, lambda: start_only(small, name_small))
        bare = best_of(repeats * 5, bare_row_update(tmp / "bare.db"))
        print(
            f"2. persisted VM start {start * 1e3:.2f} ms vs bare one-row SQLite transaction "
            f"{bare * 1e3:.3f} ms "
            f"CPU: {start / bare:.1f}x (goal <= {BARE_GOAL:g}x; reported)"
        )
        rss = rss_mb(tmp)
        verdict = "ok" if rss <= RSS_TARGET_MB else "MISS"
        ok &= rss <= RSS_TARGET_MB
        print(
            f"3. RSS holding a 1 000-VM FIFO host through the store: {rss:.1f} MB (target <= 100) {verdict}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
