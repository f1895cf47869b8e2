"""The events table (w-api's event.from), generic objects, and free-text VM names that may repeat."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from evtchn.store import create_store, open_store
from evtchn.store.errors import EventsLost
from evtchn.store.schema import EVENTS_KEPT
from evtchn.store.sqlite import Store
from evtchn.toolstack import Host, seed_vm_spec
from tests.store.fakehost import FakeCodec, FakeHost


def _real(tmp_path: Path) -> Store[Host]:
    host = Host.create("xenserver-6.2")
    host.define_vm(seed_vm_spec("web"))
    return create_store(host, tmp_path / "h.db")


def test_every_row_change_is_one_event_in_order(tmp_path: Path) -> None:
    store = _real(tmp_path)
    start = store.last_event()
    vm_ref = store.vms()[0].ref
    with store.transaction() as host:
        host.start_vm("web")
    events, token = store.events_since(start)
    assert token == store.last_event() > start
    assert [e.id for e in events] == sorted(e.id for e in events)
    vm_events = [e for e in events if e.cls == "VM"]
    assert [(e.ref, e.operation, e.snapshot["power_state"]) for e in vm_events] == [
        (vm_ref, "mod", "Running")
    ]
    kinds = {e.cls for e in events}
    assert kinds <= {"VM", "VBD", "VIF"} and all(e.operation == "mod" for e in events)
    # nothing changed, nothing delivered; a class filter filters
    assert store.events_since(token) == ([], token)
    with store.transaction() as host:
        host.shutdown_vm("web")
        host.remove_vm("web")
    only_vms, _ = store.events_since(token, ["vm"])
    assert [(e.cls, e.ref, e.operation) for e in only_vms] == [("VM", vm_ref, "del")]  # one operation
    assert store.vms() == []


def test_a_rolled_back_operation_leaves_no_event(tmp_path: Path) -> None:
    store = _real(tmp_path)
    token = store.last_event()
    with pytest.raises(RuntimeError), store.transaction() as host:
        host.start_vm("web")
        raise RuntimeError("abandon")
    assert store.events_since(token) == ([], token)
    assert store.vms()[0].power_state == "Halted"


def test_objects_are_persisted_with_events(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "h.db", FakeCodec(), FakeHost())
    token = store.last_event()
    with store.txn() as tx:
        ref = tx.put_object("VDI", {"virtual_size": 1 << 30}, name_label="disk 1")
    with store.txn() as tx:
        tx.put_object("VDI", {"virtual_size": 2 << 30}, ref=ref, name_label="disk 1")
        tx.put_object("VDI", {"virtual_size": 2 << 30}, ref=ref, name_label="disk 1")  # no change, no event
    obj = open_store_fake(store.path).object(ref)
    assert obj is not None and obj.record == {"virtual_size": 2 << 30} and obj.cls == "VDI"
    with store.txn() as tx:
        assert tx.delete_object(ref) and not tx.delete_object(ref)
    events, _ = store.events_since(token, ["VDI"])
    assert [e.operation for e in events] == ["add", "mod", "del"]
    assert events[1].snapshot["virtual_size"] == 2 << 30 and events[1].snapshot["uuid"] == obj.uuid
    assert store.objects("VDI") == []


def open_store_fake(path: Path) -> Store[FakeHost]:
    return Store(path, FakeCodec())


def test_old_tokens_get_events_lost(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "h.db", FakeCodec(), FakeHost())
    token = store.last_event()
    with store.txn() as tx:
        for i in range(EVENTS_KEPT + 5):
            tx.put_object("message", {"n": i}, name_label="m")
    with store.txn() as tx:
        tx.put_object("message", {"n": -1}, name_label="m")
    with pytest.raises(EventsLost, match="dropped"):
        store.events_since(token)
    newest = store.last_event()
    events, _ = store.events_since(newest - 3)
    assert len(events) == 3


def test_names_may_repeat_and_lookups_return_every_match(tmp_path: Path) -> None:
    host = FakeHost()
    host.define_vm("web server (1)")
    host.define_vm("web server (1)".upper())
    store = Store.create(tmp_path / "h.db", FakeCodec(), host)
    with store.transaction() as h:
        twin = h.define_vm("web server (1)-b")
        twin.name = "web server (1)"  # the fake keys by its own dict; the rows see two equal names
        h.vms["second"] = h.vms.pop("web server (1)-b")
    matches = store.vms_by_name("web server (1)")
    assert len(matches) == 2 and len({m.uuid for m in matches}) == 2
    assert store.vm(name="web server (1)") in matches


def test_a_write_in_another_process_wakes_a_waiting_reader(tmp_path: Path) -> None:
    store = _real(tmp_path)
    token = store.last_event()
    script = textwrap.dedent(f"""
        import time
        from evtchn.store import open_store
        time.sleep(0.3)
        with open_store({str(store.path)!r}).transaction() as host:
            host.start_vm("web")
    """)
    child = subprocess.Popen([sys.executable, "-c", script])
    t0 = time.monotonic()
    events, _ = open_store(store.path).wait_events(token, ["VM"], timeout=60)
    waited = time.monotonic() - t0
    child.wait(timeout=60)
    assert child.returncode == 0
    assert [e.snapshot["power_state"] for e in events] == ["Running"]
    assert waited < 30


def test_wait_events_times_out_empty(tmp_path: Path) -> None:
    store = _real(tmp_path)
    token = store.last_event()
    t0 = time.monotonic()
    assert store.wait_events(token, timeout=0.2) == ([], token)
    assert 0.15 < time.monotonic() - t0 < 5


def test_an_integer_past_64_bits_is_one_line_and_changes_nothing(tmp_path: Path) -> None:
    """Issue 15: memory_mib = 2^64 reached the row writer as OverflowError."""
    from evtchn.store.errors import StoreError

    store = _real(tmp_path)
    before = store.generation()
    huge = seed_vm_spec("huge").model_copy(update={"memory_mib": 2**64})
    with pytest.raises(StoreError, match="too large for the host file") as e, store.transaction() as host:
        host.define_vm(huge)
    assert "\n" not in str(e.value)
    assert store.generation() == before and [r.name for r in store.vms()] == ["web"]
