"""`evtchn host …` / `evtchn vm …` (and lsevtchn) on one host file from separate processes."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from evtchn.cli import main
from evtchn.store import open_store

BIN = Path(sys.executable).parent
SPEC = """\
name: web1
type: hvm
vcpus: 2
disks:
  - {userdevice: 0}
  - {userdevice: 1}
nics:
  - {devid: 0}
"""


def _run(
    *args: str, env: dict[str, str] | None = None, exe: str = "evtchn"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / exe), *args], capture_output=True, text=True, env=env, timeout=60)


def _cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args), env=env)
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture
def hostfile(tmp_path: Path) -> Path:
    p = tmp_path / "h.db"
    code, out, err = _cli("host", "create", "--profile", "xenserver-6.2", "--host", str(p))
    assert code == 0, err
    assert out.startswith(f"created host {p}: profile xenserver-6.2, dom0 uses ")
    return p


def test_lifecycle_across_separate_processes(hostfile: Path, tmp_path: Path) -> None:
    spec = tmp_path / "web1.yaml"
    spec.write_text(SPEC)
    env = dict(os.environ, EVTCHN_HOST=str(hostfile))  # the environment variable chooses the file
    r = _run("vm", "create", str(spec), env=env)
    assert r.returncode == 0 and r.stdout.startswith("created VM web1 (")
    r = _run("vm", "start", "web1", env=env)
    assert (r.returncode, r.stdout) == (0, "started web1: domid 1, running\n")
    listing = _run("vm", "list", env=env).stdout
    assert "web1" in listing and "Running" in listing
    show = _run("host", "show", env=env).stdout
    dom0 = open_store(hostfile).read().hv.domains[0]
    assert f"Domain-0   {dom0.active_evtchns:4d}   {dom0.limit_port - dom0.active_evtchns}    4095" in show
    assert "web1" in show
    # lsevtchn in another process reads the same file: web1's channels to dom0
    ls = _run("--host", str(hostfile), "1", exe="lsevtchn")
    assert ls.returncode == 0, ls.stderr
    assert "Interdomain (Connected) - Remote Domain 0, Port" in ls.stdout
    r = _run("vm", "shutdown", "web1", env=env)
    assert (r.returncode, r.stdout) == (0, "shut down web1\n")
    assert _run("--host", str(hostfile), "1", exe="lsevtchn").stdout == ""
    assert open_store(hostfile).vm(name="web1").power_state == "Halted"  # type: ignore[union-attr]


def test_vm_commands_and_their_errors(hostfile: Path, tmp_path: Path) -> None:
    h = ["--host", str(hostfile)]
    spec = tmp_path / "web1.yaml"
    spec.write_text(SPEC)
    assert _cli("vm", "create", str(spec), *h)[0] == 0
    assert _cli("vm", "create", str(spec), *h)[1:] == ("", "evtchn: a VM named 'web1' already exists\n")
    assert _cli("vm", "start", "nope", *h) == (2, "", "evtchn: no VM named 'nope'\n")
    assert _cli("vm", "start", "web1", "--paused", *h)[1] == "started web1: domid 1, paused\n"
    assert _cli("vm", "start", "web1", *h)[2] == "evtchn: VM web1 is paused; this needs it halted\n"
    assert _cli("vm", "remove", "web1", *h)[0] == 2
    assert _cli("vm", "reboot", "web1", *h)[1] == "rebooted web1: domid 2\n"
    assert _cli("vm", "destroy", "web1", *h)[1] == "destroyed domain of web1; it is halted\n"
    assert _cli("vm", "remove", "web1", *h)[1] == "removed web1\n"
    assert "VMs: none" in _cli("vm", "list", *h)[1]
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nvcpus: lots\n")
    code, _, err = _cli("vm", "create", str(bad), *h)
    assert code == 2 and err.startswith(f"evtchn: {bad}:2: field vcpus:") and err.count("\n") == 1
    code, _, err = _cli("vm", "create", str(tmp_path / "missing.yaml"), *h)
    assert code == 2 and "missing.yaml: cannot read" in err
    for wait in ("inf", "nan"):  # both used to crash with a traceback converting to milliseconds
        assert _cli("vm", "start", "web1", "--wait", wait, *h) == (
            2,
            "",
            f"evtchn: --wait {wait}: expected a number of seconds >= 0\n",
        )


def test_host_create_never_clobbers(hostfile: Path, tmp_path: Path) -> None:
    code, _, err = _cli("host", "create", "--profile", "xenserver-6.1", "--host", str(hostfile))
    assert (code, err) == (
        2,
        f"evtchn: {hostfile}: a file already exists here (use --force to replace a host file)\n",
    )
    assert _cli("host", "create", "--profile", "xenserver-6.1", "--force", "--host", str(hostfile))[0] == 0
    assert "profile:   xenserver-6.1" in _cli("host", "show", "--host", str(hostfile))[1]
    code, _, err = _cli("host", "create", "--profile", "no-such", "--host", str(tmp_path / "n.db"))
    assert (
        code == 2 and err.startswith("evtchn: no-such: no such profile") and not (tmp_path / "n.db").exists()
    )


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_foreign_and_future_files_are_errors_and_untouched(hostfile: Path, tmp_path: Path) -> None:
    text = tmp_path / "notes.db"
    text.write_text("not a database\n")
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as c:
        c.execute("CREATE TABLE t (x)")
    c.close()
    future = tmp_path / "future.db"
    future.write_bytes(hostfile.read_bytes())
    with sqlite3.connect(future) as c:
        c.execute("PRAGMA user_version = 7")
    c.close()
    for path, expected in [
        (text, "not an evtchn host file (not an SQLite database)"),
        (foreign, "an SQLite database but not an evtchn host file"),
        (future, "host file schema version 7, this evtchn reads version 2"),
        (tmp_path / "absent.db", "no host file here; create one with `evtchn host create --profile P`"),
    ]:
        before = _digest(path) if path.exists() else None
        for args in (["vm", "list"], ["host", "show"], ["vm", "start", "x"]):
            code, _, err = _cli(*args, "--host", str(path))
            assert code == 2 and err.startswith(f"evtchn: {path}: {expected}"), err
            assert err.count("\n") == 1
        assert (_digest(path) if path.exists() else None) == before


def test_default_path_under_xdg_data_home(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg"), "EVTCHN_HOST": ""}
    code, out, _ = _cli("host", "create", "--profile", "xenserver-6.2", env=env)
    assert code == 0 and str(tmp_path / "xdg" / "evtchn" / "host.db") in out
    assert (tmp_path / "xdg" / "evtchn" / "host.db").is_file()
    assert "VMs: none" in _cli("vm", "list", env=env)[1]


HOLD = """
import sys, time
from evtchn.store import open_store
with open_store(sys.argv[1]).transaction():
    print("locked", flush=True)
    time.sleep(20)
"""


def test_a_second_process_waits_then_gives_up_with_a_clear_message(hostfile: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(hostfile)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        r = _run("vm", "list", "--host", str(hostfile))  # reading never waits
        assert r.returncode == 0
        spec = hostfile.with_name("w.yaml")
        spec.write_text(SPEC)
        r = _run("vm", "create", str(spec), "--host", str(hostfile), "--wait", "0.5")
        assert r.returncode == 2
        assert r.stderr == (
            f"evtchn: waiting for another process using host file {hostfile} (up to 0.5s)\n"
            f"evtchn: {hostfile}: gave up after 0.5s waiting for another process using this host file "
            "(set --wait or $EVTCHN_LOCK_TIMEOUT to wait longer)\n"
        )
    finally:
        holder.kill()
        holder.wait()
    assert _run("vm", "create", str(spec), "--host", str(hostfile), "--wait", "0.5").returncode == 0
