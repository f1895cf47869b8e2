"""Schema-1 host files (checked-in fixture, made by the CLI before schema 2) keep working."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from evtchn.store import open_store
from evtchn.store.errors import ReadOnlyHost
from evtchn.store.schema import SCHEMA_VERSION

_MAIN = "from evtchn.cli import main; main()"
FIXTURE = Path(__file__).parent / "fixtures" / "schema1-host.db"


def _old_rows(path: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        vms = conn.execute("SELECT ref, uuid, name, power_state, domid, dom0_ports FROM vms ORDER BY uuid")
        devs = conn.execute(
            "SELECT ref, uuid, vm_ref, kind, devid, attached, status_code, status_detail, dom0_ports "
            "FROM devices ORDER BY ref"
        )
        return list(vms), list(devs)
    finally:
        conn.close()


def _version(path: Path) -> int:
    return int.from_bytes(path.read_bytes()[60:64], "big")


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _MAIN, *args], capture_output=True, text=True, timeout=120, env=env
    )


def test_fixture_is_schema_1() -> None:
    assert _version(FIXTURE) == 1


def test_schema_1_file_is_upgraded_in_place_keeping_every_row_and_ref(tmp_path: Path) -> None:
    path = tmp_path / "host.db"
    shutil.copyfile(FIXTURE, path)
    old_vms, old_devs = _old_rows(path)
    told: list[str] = []
    store = open_store(path, on_wait=told.append)
    assert _version(path) == SCHEMA_VERSION
    assert len(told) == 1 and "upgrading host file" in told[0] and "schema 1 to 2" in told[0]
    new_vms = sorted(
        ((v.ref, v.uuid, v.name, v.power_state, v.domid, v.dom0_ports) for v in store.vms()),
        key=lambda r: r[1],
    )
    assert new_vms == old_vms
    new_devs = sorted(
        (
            d.ref,
            d.uuid,
            d.vm_ref,
            d.kind,
            d.devid,
            int(d.attached),
            d.status_code,
            d.status_detail,
            d.dom0_ports,
        )
        for d in store.devices()
    )
    assert new_devs == sorted(old_devs)
    failed = [d for d in store.devices() if d.status_code == 28]
    assert len(failed) == 3 and all(
        "error 28 mapping ring-refs and evtchn" in d.status_detail for d in failed
    )
    host = store.read()
    host.check_invariants()
    # the upgraded host goes on working: stop one VM, its dom0 ports come back
    free = host.dom0_ports_free()
    with store.transaction() as h:
        h.shutdown_vm("big69")
    again = open_store(path)
    assert again.read().dom0_ports_free() == free + 13
    assert again.vm(name="big69") is not None and again.vm(name="big69").power_state == "Halted"  # type: ignore[union-attr]


def test_cli_on_a_schema_1_file_says_it_upgrades_then_works(tmp_path: Path) -> None:
    path = tmp_path / "host.db"
    shutil.copyfile(FIXTURE, path)
    got = _cli("vm", "list", "--host", str(path))
    assert got.returncode == 0, got.stderr
    assert got.stderr.count("\n") == 1 and "upgrading host file" in got.stderr
    assert "big72" in got.stdout and "3 failed" in got.stdout
    got = _cli("vm", "list", "--host", str(path))
    assert got.returncode == 0 and got.stderr == ""


def _read_only_copy(tmp_path: Path) -> Path:
    d = tmp_path / "ro"
    d.mkdir()
    path = d / "host.db"
    shutil.copyfile(FIXTURE, path)
    path.chmod(0o444)
    d.chmod(0o555)
    return path


def _as_nobody() -> bool:
    return os.geteuid() == 0 and shutil.which("setpriv") is not None


def test_read_only_schema_1_file_is_read_in_memory_and_never_changed(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes through file modes; the CLI test below runs as nobody")
    path = _read_only_copy(tmp_path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    store = open_store(path)
    assert {v.name for v in store.vms()} >= {"big72", "small"}
    with pytest.raises(ReadOnlyHost, match="read-only"), store.transaction() as host:
        host.shutdown_vm("big69")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


@pytest.mark.skipif(not _as_nobody(), reason="needs root and setpriv to run a command as another user")
def test_read_only_file_of_another_user_reads_work_and_writes_say_read_only() -> None:
    with tempfile.TemporaryDirectory() as top:  # pytest's tmp_path is private to root
        base = Path(top)
        base.chmod(0o755)
        path = _read_only_copy(base)
        scratch = base / "scratch"
        scratch.mkdir(mode=0o777)
        scratch.chmod(0o777)
        before = hashlib.sha256(path.read_bytes()).hexdigest()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "HOME": str(scratch),
               "MPLCONFIGDIR": str(scratch)}  # fmt: skip
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", _MAIN]

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            cmd = [*nobody, *args, "--host", str(path)]
            return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)

        for args in (
            ["vm", "list"],
            ["host", "show"],
            ["lsevtchn", "0"],
            ["lsevtchn", "72"],
            ["debug-keys", "e"],
        ):
            got = run(*args)
            assert got.returncode == 0, (args, got.stderr)
        got = run("can-start", str(FIXTURE.with_name("schema1-big.yaml")))
        assert got.returncode in (0, 1) and "Traceback" not in got.stderr, got.stderr
        got = run("vm", "shutdown", "big69")
        assert got.returncode != 0 and got.stderr.count("\n") == 1 and "read-only" in got.stderr, got.stderr
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before
        assert sorted(os.listdir(path.parent)) == ["host.db"]
