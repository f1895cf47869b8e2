"""The host file: creation, the read-only format checks, transactions, stable refs, paths."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from evtchn.store import paths
from evtchn.store.errors import HostExists, NoHostFile, NotAHostFile, StoreError, UnknownSchema
from evtchn.store.schema import APPLICATION_ID
from evtchn.store.sqlite import Store
from tests.store.fakehost import FakeCodec, FakeHost


def _fingerprint(p: Path) -> tuple[str, int]:
    return hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns


def _new(tmp_path: Path, vms: int = 2) -> Store[FakeHost]:
    host = FakeHost()
    for i in range(vms):
        host.define_vm(f"vm{i}", disks=2)
    return Store.create(tmp_path / "h" / "host.db", FakeCodec(), host)


def test_create_then_read_back_in_a_fresh_store(tmp_path: Path) -> None:
    store = _new(tmp_path)
    again = Store(store.path, FakeCodec())
    host = again.read()
    assert sorted(host.vms) == ["vm0", "vm1"]
    assert [r.name for r in again.vms()] == ["vm0", "vm1"]
    assert len(again.devices(kind="vbd")) == 4
    assert again.host_meta()["format"] == "evtchn-host"
    assert again.host_meta()["host_ref"].startswith("OpaqueRef:")


def test_create_never_overwrites(tmp_path: Path) -> None:
    store = _new(tmp_path)
    before = _fingerprint(store.path)
    with pytest.raises(HostExists, match="already exists"):
        Store.create(store.path, FakeCodec(), FakeHost())
    assert _fingerprint(store.path) == before


def test_create_replace_only_replaces_host_files(tmp_path: Path) -> None:
    store = _new(tmp_path)
    Store.create(store.path, FakeCodec(), FakeHost(profile="other"), replace=True)
    assert Store(store.path, FakeCodec()).read().profile == "other"
    assert Store(store.path, FakeCodec()).vms() == []
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    with pytest.raises(NotAHostFile):
        Store.create(text, FakeCodec(), FakeHost(), replace=True)
    assert text.read_text() == "hello\n"


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NoHostFile, match=r"no host file here; create one with `evtchn host create"):
        Store(tmp_path / "nope.db", FakeCodec())


@pytest.mark.parametrize("content", [b"", b"hello world\n" * 20, b"SQLite format 3\x00" + b"\x00" * 10])
def test_non_sqlite_files_are_rejected_untouched(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "x.db"
    p.write_bytes(content)
    before = _fingerprint(p)
    with pytest.raises(NotAHostFile, match="not an evtchn host file"):
        Store(p, FakeCodec())
    assert _fingerprint(p) == before
    assert sorted(os.listdir(tmp_path)) == ["x.db"]  # no -wal/-shm/journal left behind


def test_foreign_sqlite_database_is_rejected_untouched(tmp_path: Path) -> None:
    p = tmp_path / "other.sqlite"
    conn = sqlite3.connect(p)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    before = _fingerprint(p)
    with pytest.raises(NotAHostFile, match=r"an SQLite database but not an evtchn host file"):
        Store(p, FakeCodec())
    assert _fingerprint(p) == before


def test_unknown_schema_version_is_rejected_untouched(tmp_path: Path) -> None:
    store = _new(tmp_path)
    conn = sqlite3.connect(store.path)
    conn.execute("PRAGMA user_version = 99")
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    before = _fingerprint(store.path)
    with pytest.raises(UnknownSchema, match="schema version 99, this evtchn reads version 2"):
        Store(store.path, FakeCodec())
    assert _fingerprint(store.path) == before


def test_application_id_is_set(tmp_path: Path) -> None:
    store = _new(tmp_path)
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_transaction_commits_on_success(tmp_path: Path) -> None:
    store = _new(tmp_path)
    gen = store.generation()
    with store.transaction() as host:
        host.start_vm("vm0")
    other = Store(store.path, FakeCodec())
    assert other.read().vms["vm0"].power_state == "Running"
    row = other.vm(name="vm0")
    assert row is not None and row.power_state == "Running" and row.domid == 1
    assert other.generation() == gen + 1


def test_transaction_rolls_back_on_exception(tmp_path: Path) -> None:
    store = _new(tmp_path)
    store_bytes_before = store.read()
    with pytest.raises(RuntimeError, match="28"), store.transaction() as host:
        host.start_vm("vm0")  # takes 3 of the 10
        host.start_vm("vm1")  # takes 3 more
        host.pool = 0
        host.start_vm("vm0")  # raises: the two starts above must vanish too
    assert store.read() == store_bytes_before
    assert all(r.power_state == "Halted" for r in store.vms())


def test_refs_are_stable_and_die_with_their_object(tmp_path: Path) -> None:
    store = _new(tmp_path)
    refs = {r.name: r.ref for r in store.vms()}
    dev_refs = {d.ref for d in store.devices()}
    with store.transaction() as host:
        host.start_vm("vm1")
    again = Store(store.path, FakeCodec())
    assert {r.name: r.ref for r in again.vms()} == refs
    assert {d.ref for d in again.devices()} == dev_refs
    vm0_uuid = again.read().vms["vm0"].uuid
    with again.transaction() as host:
        del host.vms["vm0"]
        host.vms["vm0"] = host.vms.pop("vm1")  # renaming keeps the object (same uuid)
    rows = again.vms()
    assert [r.ref for r in rows] == [refs["vm1"]]
    assert again.vm(uuid=vm0_uuid) is None
    with again.transaction() as host:
        host.define_vm("fresh")
    assert again.vm(name="fresh") is not None
    assert again.vm(name="fresh").ref not in refs.values()  # type: ignore[union-attr]


def test_txn_ref_preassigns_a_ref_kept_by_save(tmp_path: Path) -> None:
    store = _new(tmp_path, vms=0)
    with store.txn() as tx:
        vm = tx.host.define_vm("a", disks=1)
        ref, _ = tx.ref("VM", vm.uuid, vm.uuid)
        vbd_ref, _ = tx.ref("VBD", f"{vm.uuid}/51712")
    row = store.vm(name="a")
    assert row is not None and row.ref == ref and row.uuid == vm.uuid
    assert [d.ref for d in store.devices(vm_ref=ref)] == [vbd_ref]


def test_default_path_honours_xdg_and_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EVTCHN_HOST", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert paths.default_path() == tmp_path / "xdg" / "evtchn" / "host.db"
    assert paths.resolve_path(None) == tmp_path / "xdg" / "evtchn" / "host.db"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert paths.default_path() == tmp_path / "home" / ".local" / "share" / "evtchn" / "host.db"
    monkeypatch.setenv("EVTCHN_HOST", str(tmp_path / "env.db"))
    assert paths.resolve_path(None) == tmp_path / "env.db"
    assert paths.resolve_path("cli.db") == Path("cli.db")


def test_bad_lock_timeout_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVTCHN_LOCK_TIMEOUT", "soon")
    with pytest.raises(Exception, match=r"EVTCHN_LOCK_TIMEOUT='soon': expected a number of seconds"):
        paths.lock_timeout()
    monkeypatch.setenv("EVTCHN_LOCK_TIMEOUT", "2.5")
    assert paths.lock_timeout() == 2.5
    monkeypatch.setenv("EVTCHN_LOCK_TIMEOUT", "inf")  # was accepted, then crashed converting to ms
    with pytest.raises(StoreError, match=r"EVTCHN_LOCK_TIMEOUT='inf': expected a number of seconds"):
        paths.lock_timeout()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0])
def test_bad_lock_timeout_argument(value: float) -> None:
    """--wait nan/inf crashed with a traceback; a negative wait blocked forever on the in-process lock."""
    with pytest.raises(StoreError, match=r"--wait .*: expected a number of seconds >= 0"):
        paths.lock_timeout(value)


def test_cached_host_is_dropped_when_another_store_commits(tmp_path: Path) -> None:
    a = _new(tmp_path)
    b = Store(a.path, FakeCodec())
    with a.transaction() as host:
        host.start_vm("vm0")
    with b.transaction() as host:  # b has no cache: loads a's commit
        assert host.vms["vm0"].power_state == "Running"
        host.start_vm("vm1")
    with a.transaction() as host:  # a's cached host is stale (generation moved): reloaded
        assert host.vms["vm1"].power_state == "Running"
    Store.create(a.path, FakeCodec(), FakeHost(profile="new"), replace=True)
    with a.transaction() as host:  # replaced file: generation still moved on, so no stale reuse
        assert host.profile == "new"


def test_failed_transaction_does_not_leave_a_dirty_cache(tmp_path: Path) -> None:
    store = _new(tmp_path)
    with store.transaction() as host:
        host.start_vm("vm0")
    with pytest.raises(KeyError), store.transaction() as host:
        host.pool = 0
        host.vms["vm1"].power_state = "Running"
        raise KeyError("abort")
    with store.transaction() as host:
        assert host.pool == 10 - 3 and host.vms["vm1"].power_state == "Halted"
