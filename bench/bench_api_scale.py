"""XenAPI VM.start + VM.hard_shutdown pairs per second through `evtchn serve`, by host size and by clients.

    python bench/bench_api_scale.py [--seconds 3] [--rounds 3] [--big 1000] [--small 10] [--clients 8]

Two host files are made with the same profile (xenserver-8) and VM shape (the seed VM of reference §10):
one with `--small` VMs and one with `--big` VMs, all running but the clients' own. Each is served by its own
`evtchn serve` process on a Unix socket; the unmodified XenAPI SDK drives it from client processes (one
process per client, so clients never share a GIL). Every client owns one halted VM and cycles
`VM.start` + `VM.hard_shutdown` on it for the measuring time; a pair counts when both calls succeeded.

Targets (exit 1 on a miss):
- one client on the big host does at least 1/1.5 of the pairs per second it does on the small host
  (a persisted operation's cost does not grow with the host, issue 14);
- `evtchn serve` holding the big (FIFO, xenserver-8) host stays within 100 MB of RSS after the runs;
Reported: the pairs per second of `--clients` concurrent clients against one client on the big host
(writes serialise on the host file, so this shows what concurrency costs or gains, not a target).
Each figure is the best of `--rounds` rounds (the least disturbed by other load on the machine).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SIZE_RATIO = 1.5
TARGET_RSS_MB = 100.0


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"no VmRSS for pid {pid}")


def _make_host(path: Path, vms: int, owned: int) -> None:
    from evtchn.store import create_store
    from evtchn.toolstack.host import Host
    from evtchn.toolstack.spec import seed_vm_spec

    host = Host.create("xenserver-8")
    for i in range(vms):
        name = f"vm{i:05d}"
        host.define_vm(seed_vm_spec(name))
        if i >= owned:  # the clients' own VMs (the first `owned`) stay halted; every other one runs
            host.start_vm(name)
    create_store(host, path)


def _serve(host: Path, sock: Path) -> subprocess.Popen[str]:
    evtchn = str(Path(sys.executable).parent / "evtchn")
    proc = subprocess.Popen(
        [evtchn, "serve", "--host", str(host), "--no-tcp", "--unix", str(sock), "--insecure-no-auth"],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"evtchn serve did not start on {sock}")
        time.sleep(0.05)
    return proc


def _client(sock: str, name: str, seconds: float, start: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    import XenAPI

    s = XenAPI.Session("http://" + sock.replace("/", "_") + "/", transport=XenAPI.UDSTransport())
    s.xenapi.login_with_password("root", "", "2.0", "bench-scale")
    vm = s.xenapi.VM.get_by_name_label(name)[0]
    while time.time() < start:  # every client begins at the same moment
        time.sleep(0.001)
    pairs, errors = 0, 0
    end = start + seconds
    while time.time() < end:
        try:
            s.xenapi.VM.start(vm, False, False)
            s.xenapi.VM.hard_shutdown(vm)
            pairs += 1
        except XenAPI.Failure:
            errors += 1
    out.put((pairs, errors))


def _rate(sock: Path, clients: int, seconds: float) -> float:
    ctx = mp.get_context("spawn")
    q: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    start = time.time() + 3.0  # time for the spawned interpreters to import and log in
    procs = [
        ctx.Process(target=_client, args=(str(sock), f"vm{i:05d}", seconds, start, q)) for i in range(clients)
    ]
    for p in procs:
        p.start()
    results = [q.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join()
    pairs: int = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    if errors:
        raise SystemExit(f"{errors} start/shutdown calls failed: the benchmark's VMs should always start")
    return pairs / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="measuring time per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--big", type=int, default=1000, help="VMs on the big host")
    ap.add_argument("--small", type=int, default=10, help="VMs on the small host")
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="evtchnbench"))
    sockdir = Path(f"/tmp/evtchn-scale-{os.getpid()}")  # no '_' in the path: the SDK maps '_' to '/'
    sockdir.mkdir()
    procs: list[subprocess.Popen[str]] = []
    try:
        owned = max(args.clients, 1)
        hosts = {"small": args.small, "big": args.big}
        socks: dict[str, Path] = {}
        for label, n in hosts.items():
            _make_host(work / f"{label}.db", max(n, owned), owned)
            socks[label] = sockdir / label
            procs.append(_serve(work / f"{label}.db", socks[label]))
        best: dict[str, float] = {"small-1": 0.0, "big-1": 0.0, f"big-{args.clients}": 0.0}
        for _ in range(args.rounds):
            best["small-1"] = max(best["small-1"], _rate(socks["small"], 1, args.seconds))
            best["big-1"] = max(best["big-1"], _rate(socks["big"], 1, args.seconds))
            key = f"big-{args.clients}"
            best[key] = max(best[key], _rate(socks["big"], args.clients, args.seconds))
        small, big, many = best["small-1"], best["big-1"], best[f"big-{args.clients}"]
        print(f"VM.start + VM.hard_shutdown pairs/s (best of {args.rounds} rounds of {args.seconds:g} s)")
        print(f"  1 client,  {args.small:5d}-VM host: {small:8.1f}")
        print(f"  1 client,  {args.big:5d}-VM host: {big:8.1f}")
        print(
            f"  {args.clients} clients, {args.big:5d}-VM host: {many:8.1f}"
            f"   ({many / big:.2f}× one client; reported)"
        )
        slowdown = small / big if big else float("inf")
        ok = slowdown <= TARGET_SIZE_RATIO
        print(
            f"size ratio (small / big, one client): {slowdown:.2f}× "
            f"(target <= {TARGET_SIZE_RATIO}×) {'OK' if ok else 'MISS'}"
        )
        rss = _rss_mb(procs[1].pid)
        rss_ok = rss <= TARGET_RSS_MB
        print(
            f"evtchn serve RSS holding the {args.big}-VM host: {rss:.1f} MB "
            f"(target <= {TARGET_RSS_MB:g} MB) {'OK' if rss_ok else 'MISS'}"
        )
        if not (ok and rss_ok):
            sys.exit(1)
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(sockdir, ignore_errors=True)


if __name__ == "__main__":
    main()
