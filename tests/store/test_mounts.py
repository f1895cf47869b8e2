"""Host files on a read-only mount and on a full disk (small tmpfs): real mounts, made here as root;
skipped cleanly where the test cannot make one."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from evtchn.cli import main
from evtchn.store import create_store, open_store
from evtchn.toolstack import Host, seed_vm_spec


def _mount(*args: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


def _umount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _host(path: Path, vms: int = 3) -> None:
    host = Host.create("xenserver-6.2")
    for i in range(vms):
        host.define_vm(seed_vm_spec(f"g{i}"))
    host.start_vm("g0")
    create_store(host, path)


@pytest.fixture
def read_only_mount(tmp_path: Path) -> Iterator[Path]:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    _host(src / "host.db")
    if not _mount("--bind", str(src), str(dst)):
        pytest.skip("cannot bind-mount here (needs root)")
    try:
        if not _mount("-o", "remount,bind,ro", str(dst)):
            pytest.skip("cannot remount read-only here")
        yield dst / "host.db"
    finally:
        _umount(dst)


def _run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args))
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exc_info
    return r.exit_code, r.stdout, r.stderr


def test_read_only_mount_reads_work_and_writes_say_read_only(read_only_mount: Path) -> None:
    path = read_only_mount
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    h = ("--host", str(path))
    for args in (
        ["vm", "list"],
        ["host", "show"],
        ["vm", "show", "g0"],
        ["lsevtchn", "0"],
        ["debug-keys", "e"],
    ):
        code, out, err = _run(*args, *h)
        assert code == 0 and out, (args, err)
    assert "g0" in _run("vm", "list", *h)[1]
    code, _, err = _run("vm", "start", "g1", *h)
    assert code != 0 and err.count("\n") == 1 and "read-only" in err, err
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert sorted(os.listdir(path.parent)) == ["host.db"]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "disk"
    where.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield where
    finally:
        _umount(where)


def test_full_disk_during_a_write_keeps_the_previous_host(small_disk: Path) -> None:
    path = small_disk / "host.db"
    _host(path, vms=6)
    before = open_store(path).read().to_state()
    filler = small_disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:  # fill the disk to the last block
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    failed = 0
    for name in ("g1", "g2", "g3", "g4", "g5"):
        code, _, err = _run("vm", "start", name, "--host", str(path))
        if code != 0:
            failed += 1
            assert err.count("\n") == 1 and "no space left on device" in err, err
    assert failed > 0
    filler.unlink()
    after = open_store(path).read()
    after.check_invariants()
    started = [vm.name for vm in after.vms.values() if vm.power_state == "Running"]
    assert len(started) == 1 + (5 - failed)  # every start either committed whole or left nothing
    if failed == 5:
        assert after.to_state() == before
