"""`evtchn serve` as a real process: TCP + Unix socket, credentials from a file, clean stop, bad input."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import XenAPI

from tests.api.harness import socket_dir
from tests.api.hostkit import new_host_file

EVTCHN = str(Path(sys.executable).parent / "evtchn")


@contextmanager
def _serve(
    *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    proc = subprocess.Popen([EVTCHN, "serve", *args], stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    lines: list[str] = []
    try:
        while len([x for x in lines if " on " in x]) < (
            2 if "--unix" in args and "--no-tcp" not in args else 1
        ):
            line = proc.stderr.readline()
            assert line, f"serve exited early: {lines}"
            lines.append(line.strip())
        yield proc, lines
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)


def test_serve_tcp_and_unix_with_a_password_file(tmp_path: Path) -> None:
    store = new_host_file(tmp_path / "h.db")
    pw = tmp_path / "pw"
    pw.write_text("hunter2\n")
    sock = os.path.join(socket_dir(), "xapi")
    args = ["--host", str(store.path), "--port", "0", "--unix", sock, "--password-file", str(pw)]
    with _serve(*args) as (proc, lines):
        (url,) = [m.group(1) for x in lines if (m := re.search(r" on (http://\S+)", x))]
        assert f"evtchn serve: XenAPI for {store.path} on unix:{sock}" in lines
        tcp = XenAPI.Session(url)
        tcp.xenapi.login_with_password("root", "hunter2", "2.0", "t")
        vm = tcp.xenapi.VM.create({"name_label": "served", "HVM_boot_policy": ""})
        local = XenAPI.Session("http://" + sock.replace("/", "_") + "/", transport=XenAPI.UDSTransport())
        local.xenapi.login_with_password("root", "hunter2", "2.0", "t")
        local.xenapi.VM.start(vm, False, False)
        assert tcp.xenapi.VM.get_power_state(vm) == "Running"
        with pytest.raises(XenAPI.Failure) as e:
            XenAPI.Session(url).xenapi.login_with_password("root", "wrong", "2.0", "t")
        assert e.value.details == ["SESSION_AUTHENTICATION_FAILED"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert not os.path.exists(sock)
    assert store.vm(ref=vm).power_state == "Running"  # type: ignore[union-attr]


def test_serve_without_a_password_refuses_every_login(tmp_path: Path) -> None:
    store = new_host_file(tmp_path / "h.db")
    env = {k: v for k, v in os.environ.items() if k != "EVTCHN_PASSWORD"}
    with _serve("--host", str(store.path), "--port", "0", env=env) as (_, lines):
        assert any("no password set" in x and "every login will fail" in x for x in lines)
        (url,) = [m.group(1) for x in lines if (m := re.search(r" on (http://\S+)", x))]
        for pw in ["", "root", "password"]:
            with pytest.raises(XenAPI.Failure) as e:
                XenAPI.Session(url).xenapi.login_with_password("root", pw, "2.0", "t")
            assert e.value.details == ["SESSION_AUTHENTICATION_FAILED"]
    with _serve("--host", str(store.path), "--port", "0", env=dict(env, EVTCHN_PASSWORD="envpw")) as (
        _,
        lines,
    ):
        (url,) = [m.group(1) for x in lines if (m := re.search(r" on (http://\S+)", x))]
        XenAPI.Session(url).xenapi.login_with_password("root", "envpw", "2.0", "t")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--no-tcp"], "evtchn: --no-tcp needs --unix PATH: there would be nothing to listen on\n"),
        (["--password-file", "/nonexistent/pw"], "evtchn: /nonexistent/pw: cannot read password file: "),
        (["--host", "/nonexistent/h.db"], "evtchn: /nonexistent/h.db: no host file here"),
    ],
)
def test_serve_bad_input_is_one_line(args: list[str], message: str) -> None:
    r = subprocess.run([EVTCHN, "serve", "--port", "0", *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert r.stderr.startswith(message) and r.stderr.count("\n") == 1


def test_serve_refuses_a_busy_port_and_a_non_socket(tmp_path: Path) -> None:
    store = new_host_file(tmp_path / "h.db")
    regular = tmp_path / "file"
    regular.write_text("x")
    r = subprocess.run(
        [EVTCHN, "serve", "--host", str(store.path), "--unix", str(regular), "--no-tcp",
         "--insecure-no-auth"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert (r.returncode, r.stderr) == (
        2,
        f"evtchn: {regular}: exists and is not a socket; refusing to replace it\n",
    )
    assert regular.read_text() == "x"
    with _serve("--host", str(store.path), "--port", "0", "--insecure-no-auth") as (_, lines):
        (port,) = [m.group(1) for x in lines if (m := re.search(r":(\d+)/$", x))]
        r = subprocess.run(
            [EVTCHN, "serve", "--host", str(store.path), "--port", port, "--insecure-no-auth"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert r.returncode == 2 and r.stderr.startswith(f"evtchn: cannot listen on 127.0.0.1:{port}: ")


def test_serve_with_tcp_and_a_bad_unix_path_exits_with_one_line(tmp_path: Path) -> None:
    """With TCP already bound, a Unix socket that cannot be used used to hang the process (shutdown() of a
    server never started) or blame the TCP address."""
    store = new_host_file(tmp_path / "h.db")
    regular = tmp_path / "file"
    regular.write_text("x")
    base = [EVTCHN, "serve", "--host", str(store.path), "--port", "0", "--insecure-no-auth", "--unix"]
    r = subprocess.run([*base, str(regular)], capture_output=True, text=True, timeout=30)
    assert (r.returncode, r.stderr) == (
        2,
        f"evtchn: {regular}: exists and is not a socket; refusing to replace it\n",
    )
    too_long = os.path.join(socket_dir(), "x" * 120, "xapi")
    r = subprocess.run([*base, too_long], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and r.stderr.startswith(
        f"evtchn: {too_long}: cannot listen on this Unix socket: "
    )
    assert r.stderr.count("\n") == 1
