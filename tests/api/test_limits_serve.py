"""`evtchn serve` as a process under abuse: bounded RSS, a stalled stderr, honest lock messages, SIGKILL."""

from __future__ import annotations

import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import xmlrpc.client
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from evtchn.store import open_store
from tests.api.hostkit import new_host_file

EVTCHN = str(Path(sys.executable).parent / "evtchn")


@contextmanager
def served(host: Path, *extra: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`evtchn serve` on a free port; stderr is a pipe this helper stops reading once it has the URL."""
    proc = subprocess.Popen(
        [EVTCHN, "serve", "--host", str(host), "--port", "0", "--insecure-no-auth", *extra],
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    try:
        url = ""
        while not url:
            line = proc.stderr.readline().decode()
            assert line, "serve exited early"
            if " on http://" in line:
                url = line.split(" on ", 1)[1].strip()
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _addr(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    return host, int(port)


def _proxy(url: str) -> Any:
    return xmlrpc.client.ServerProxy(url)


def _xapi(url: str) -> Any:
    return _proxy(url).session


def abuse(url: str, held: int, junk_mb: int, bad_logins: int, big_refs: int) -> list[socket.socket]:
    """The issue's abuse, scaled: held partial requests, junk bodies, bad logins, huge refs; returns the held
    sockets (still open)."""
    addr = _addr(url)
    socks = []
    for i in range(held):
        s = socket.create_connection(addr)
        s.sendall(b"POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n<methodCall>" if i % 2 else b"POS")
        socks.append(s)
    junk = os.urandom(256 * 1024)
    for _ in range(junk_mb * 4):
        with socket.create_connection(addr, timeout=30) as s:
            s.sendall(b"POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(junk) + junk)
            s.recv(100)
    server = _proxy(url)
    session = server.session.login_with_password("root", "")["Value"]
    for _ in range(bad_logins):  # after the 5th, throttled: refused unchecked
        server.session.login_with_password(["not", "a", "string"], "x")
    for i in range(big_refs):
        server.VM.get_record(session, f"OpaqueRef:{i}" + "x" * (200 * 1024))
    return socks


def test_rss_stays_bounded_under_abuse(tmp_path: Path) -> None:
    host = new_host_file(tmp_path / "h.db").path
    with served(host) as (proc, url):
        _xapi(url).login_with_password("root", "")
        before = rss_kib(proc.pid)
        socks = abuse(url, held=200, junk_mb=10, bad_logins=1000, big_refs=60)
        after = rss_kib(proc.pid)
        assert _proxy(url).system.listMethods()  # still serving
        for s in socks:
            s.close()
    assert after - before < 40 * 1024, f"RSS grew {before} -> {after} KiB"


def test_a_stalled_stderr_never_blocks_requests(tmp_path: Path) -> None:
    host = new_host_file(tmp_path / "h.db").path
    with served(host, "-v") as (_proc, url):  # -v: a log line per request; nobody reads stderr now
        done = threading.Event()

        def calls() -> None:
            server = _proxy(url)
            for _ in range(2000):  # ~140 KB of log lines: far past a 64 KiB pipe
                server.system.listMethods()
            done.set()

        threading.Thread(target=calls, daemon=True).start()
        assert done.wait(60), "requests blocked behind the unread stderr"


def _stderr_after_stop(proc: subprocess.Popen[bytes]) -> str:
    proc.send_signal(signal.SIGTERM)
    assert proc.stderr is not None
    out = proc.stderr.read().decode()
    proc.wait(timeout=10)
    return out


def test_waiting_is_logged_only_for_another_process(tmp_path: Path) -> None:
    host = new_host_file(tmp_path / "h.db").path
    with served(host) as (proc, url):
        session = _xapi(url).login_with_password("root", "")["Value"]

        def churn(i: int) -> None:
            s = _proxy(url)
            for j in range(6):
                ref = s.VM.create(session, {"name_label": f"c{i}-{j}", "HVM_boot_policy": ""})["Value"]
                s.VM.destroy(session, ref)

        threads = [threading.Thread(target=churn, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # now another process takes the file's write lock for a moment
        other = sqlite3.connect(host, timeout=0, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        timer = threading.Timer(1.0, other.rollback)
        timer.start()
        r = _proxy(url).VM.create(session, {"name_label": "late", "HVM_boot_policy": ""})
        timer.join()
        other.close()
        assert r["Status"] == "Success"
        err = _stderr_after_stop(proc)
    assert err.count("waiting for another process") == 1, err


@pytest.mark.parametrize("seed", range(2))
def test_sigkill_mid_request_leaves_no_half_operation(tmp_path: Path, seed: int) -> None:
    store = new_host_file(tmp_path / "h.db")
    with store.transaction() as h:
        baseline = h.dom0_ports_used()
    rnd = random.Random(seed)
    outcome: dict[str, Any] = {}
    with served(store.path) as (proc, url):
        s = _proxy(url)
        session = s.session.login_with_password("root", "")["Value"]
        vms = [
            s.VM.create(session, {"name_label": f"k{i}", "HVM_boot_policy": ""})["Value"] for i in range(30)
        ]
        progress = [0]

        def client() -> None:
            c = _proxy(url)
            for i, vm in enumerate(vms):
                progress[0] = i
                try:
                    outcome[vm] = c.VM.start(session, vm, False, False)["Status"]
                except (OSError, xmlrpc.client.ProtocolError, http_errors()) as e:
                    outcome[vm] = f"error: {type(e).__name__}"
                    return

        t = threading.Thread(target=client)
        t.start()
        kill_at = rnd.randrange(3, 25)
        while progress[0] < kill_at and t.is_alive():
            time.sleep(0.0005)
        time.sleep(rnd.uniform(0, 0.004))  # somewhere inside that start
        proc.send_signal(signal.SIGKILL)
        t.join(timeout=30)
    # restart on the same file: every start the client saw succeed is Running; nothing is half-started
    with served(store.path) as (_proc, url):
        s = _proxy(url)
        session = s.session.login_with_password("root", "")["Value"]
        states = {vm: s.VM.get_power_state(session, vm)["Value"] for vm in vms}
        for vm, status in outcome.items():
            if status == "Success":
                assert states[vm] == "Running", (vm, outcome, states)
        assert set(states.values()) <= {"Running", "Halted"}
        for vm, st in states.items():
            if st == "Running":
                assert s.VM.hard_shutdown(session, vm)["Status"] == "Success"
    host = open_store(store.path).read()
    host.hv.check_invariants()
    assert host.dom0_ports_used() == baseline, "a port leaked across the SIGKILL"


def http_errors() -> type[Exception]:
    import http.client

    return http.client.HTTPException
