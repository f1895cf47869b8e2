"""RSS of `evtchn serve` under abuse, against its own idle RSS measured in the same run (issue 15).

    python bench/bench_serve.py [--held 1000] [--junk-mb 100] [--bad-logins 10000] [--big-refs 100] [-v]

The server runs in its own process on a fresh host file (20 VMs, half running); this process is the abuser:
1 000 held connections (half with a partial request), 100 MB of junk bodies just under the body limit,
10 000 bad logins, 100 `VM.get_record` calls with distinct 200 KiB refs (the issue's answer-cache growth, at
the largest ref a body may carry). After each phase it reads VmRSS from /proc and checks that a well-behaved
client still gets an answer within a second. Targets: peak RSS <= 2x the idle RSS and <= idle + 64 MiB, and
every well-behaved call answered in time; exit 1 on a miss.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from pathlib import Path
from typing import Any

RATIO_TARGET = 2.0
GROWTH_TARGET_MIB = 64


def _make_host(path: Path) -> None:
    from evtchn.store import create_store
    from evtchn.toolstack.host import Host
    from evtchn.toolstack.spec import seed_vm_spec

    host = Host.create("xenserver-8")
    for i in range(20):
        host.define_vm(seed_vm_spec(f"vm{i:02d}"))
        if i % 2:
            host.start_vm(f"vm{i:02d}")
    create_store(host, path)


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _proxy(url: str) -> Any:
    return xmlrpc.client.ServerProxy(url)


def _polite(url: str) -> float:
    """Seconds a fresh client needs to log in and list the VMs."""
    t0 = time.perf_counter()
    s = _proxy(url)
    ref = s.session.login_with_password("root", "bench")["Value"]
    assert s.VM.get_all(ref)["Status"] == "Success"
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--held", type=int, default=1000)
    ap.add_argument("--junk-mb", type=int, default=100)
    ap.add_argument("--bad-logins", type=int, default=10_000)
    ap.add_argument("--big-refs", type=int, default=100)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    host = tmp / "host.db"
    _make_host(host)
    pw = tmp / "pw"
    pw.write_text("bench\n")
    evtchn = str(Path(sys.executable).parent / "evtchn")
    proc = subprocess.Popen(
        [evtchn, "serve", "--host", str(host), "--port", "0", "--password-file", str(pw)],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    url = ""
    while not url:
        line = proc.stderr.readline()
        if not line:
            print("bench_serve: evtchn serve exited early", file=sys.stderr)
            return 1
        if " on http://" in line:
            url = line.split(" on ", 1)[1].strip()
    addr_host, addr_port = url.removeprefix("http://").rstrip("/").split(":")
    addr = (addr_host, int(addr_port))
    rows: list[tuple[str, float, float, float]] = []
    cpu0 = time.process_time()
    try:
        for _ in range(50):
            _polite(url)  # warm: imports, caches, a few sessions
        idle = _rss_mib(proc.pid)
        rows.append(("idle", idle, _polite(url), 0.0))

        t0 = time.perf_counter()
        held = []
        for i in range(args.held):
            s = socket.create_connection(addr)
            s.sendall(b"POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n<methodCall>" if i % 2 else b"POST")
            held.append(s)
        time.sleep(0.5)
        rows.append(
            (f"{args.held} held connections", _rss_mib(proc.pid), _polite(url), time.perf_counter() - t0)
        )

        t0 = time.perf_counter()
        junk = os.urandom(250 * 1024)
        for _ in range(args.junk_mb * 1024 * 1024 // len(junk)):
            with socket.create_connection(addr, timeout=30) as s:
                s.sendall(b"POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(junk) + junk)
                s.recv(200)
        rows.append(
            (f"{args.junk_mb} MB junk bodies", _rss_mib(proc.pid), _polite(url), time.perf_counter() - t0)
        )

        t0 = time.perf_counter()
        ref = _proxy(url).session.login_with_password("root", "bench")["Value"]
        bad = _proxy(url)
        for _ in range(args.bad_logins):
            bad.session.login_with_password("root", "wrong")
        rows.append((f"{args.bad_logins} bad logins", _rss_mib(proc.pid), -1.0, time.perf_counter() - t0))

        t0 = time.perf_counter()
        s = _proxy(url)
        for i in range(args.big_refs):
            r = s.VM.get_record(ref, f"OpaqueRef:{i}-" + "x" * (200 * 1024))
            assert r["ErrorDescription"][0] == "HANDLE_INVALID"
        rows.append((f"{args.big_refs} x 200 KiB refs", _rss_mib(proc.pid), -1.0, time.perf_counter() - t0))
        for h in held:
            h.close()
    finally:
        proc.kill()
        proc.wait()
    peak = max(r[1] for r in rows)
    print(f"{'phase':<26} {'RSS MiB':>8} {'polite s':>9} {'phase s':>8}")
    for name, rss, polite, took in rows:
        p = f"{polite:9.3f}" if polite >= 0 else f"{'(throttled)':>9}"
        print(f"{name:<26} {rss:8.1f} {p} {took:8.1f}")
    ratio = peak / idle
    print(
        f"peak {peak:.1f} MiB = {ratio:.2f}x idle {idle:.1f} MiB (target <= {RATIO_TARGET}x and "
        f"<= idle + {GROWTH_TARGET_MIB} MiB); client CPU {time.process_time() - cpu0:.1f} s"
    )
    slow = [r for r in rows if r[2] > 1.0]
    ok = ratio <= RATIO_TARGET and peak - idle <= GROWTH_TARGET_MIB and not slow
    if slow:
        print(f"MISS: a well-behaved client waited over 1 s during {slow[0][0]}")
    print("OK" if ok else "MISS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
