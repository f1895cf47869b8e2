"""Hypervisor.to_state / from_state: a JSON snapshot that restores the hypervisor exactly."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evtchn.xen import DOMID_SELF, Hypervisor, HypervisorSettings
from evtchn.xen.snapshot import SnapshotError
from tests.properties.ops import Op, apply_op, new_host, op_strategy


def _roundtrip(hv: Hypervisor) -> Hypervisor:
    return Hypervisor.from_state(json.loads(json.dumps(hv.to_state())))


@settings(max_examples=60, deadline=None)
@given(st.lists(op_strategy(), max_size=50), st.lists(op_strategy(), max_size=50))
def test_restored_hypervisor_continues_identically(before: list[Op], after: list[Op]) -> None:
    hv = new_host()
    for op in before:
        apply_op(hv, op)
    restored = _roundtrip(hv)
    assert restored.to_state() == hv.to_state()
    for op in after:
        assert apply_op(restored, op) == apply_op(hv, op), op
    assert restored.to_state() == hv.to_state()


def test_fifo_domain_round_trips_queues_and_busy_ports() -> None:
    hv = Hypervisor(HypervisorSettings(xen_version=(4, 17)))
    hv.create_domain(0, privileged=True)
    hv.create_domain(7, max_vcpus=2)
    hv.init_control(7, 100, 0, 0)
    hv.expand_array(7, 101)
    ports = [hv.bind_ipi(7, 0) for _ in range(3)]
    for p in ports:
        hv.unmask(7, p)
    hv.set_priority(7, ports[2], 0)
    for p in ports:
        hv.send(7, p)
    hv.close(7, ports[0])  # still LINKED: busy, not reusable until drained
    restored = _roundtrip(hv)
    assert restored.settings == hv.settings
    assert restored.bind_ipi(7, 1) == hv.bind_ipi(7, 1) == 4
    assert restored.drain(7, 0) == hv.drain(7, 0) == [ports[2], ports[1]]
    assert restored.bind_ipi(7, 0) == hv.bind_ipi(7, 0) == ports[0]


def test_snapshot_is_plain_json_and_compact() -> None:
    hv = Hypervisor()
    hv.create_domain(0, privileged=True)
    hv.init_control(0, 1, 0, 0)
    for _ in range(2000):
        hv.alloc_unbound(0, DOMID_SELF, 0)
    text = json.dumps(hv.to_state())
    assert json.loads(text) == hv.to_state()
    assert len(text) < 60_000  # base64 columns, not a list of 2000 ints per column


@pytest.mark.parametrize(
    "state, message",
    [
        ({}, "version 1, found None"),
        ({"version": 99}, "found 99"),
        ([], "found 'list'"),
        ({"version": 1, "settings": {}}, "malformed hypervisor snapshot: KeyError"),
    ],
)
def test_bad_snapshot_is_a_clear_error(state: object, message: str) -> None:
    with pytest.raises(SnapshotError, match=message):
        Hypervisor.from_state(state)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "where, key, value, message",
    [
        ("ports", "state", None, "AttributeError"),  # a column that is not base64 text
        ("abi", "pending", 7, "AttributeError"),
        ("abi", "word_bits", 2**40, "word size 1099511627776 is not 32 or 64"),
        ("abi", "word_bits", 100_000, "word size 100000 is not 32 or 64"),  # 1.25 GB of bitmap
    ],
)
def test_malformed_field_is_a_snapshot_error(where: str, key: str, value: object, message: str) -> None:
    """README: anything but a snapshot is a SnapshotError with a one-line reason, never a traceback."""
    state = new_host().to_state()
    state["domains"][0][where][key] = value
    with pytest.raises(SnapshotError, match=message):
        Hypervisor.from_state(state)


def test_corrupt_column_is_refused() -> None:
    hv = new_host()
    state = hv.to_state()
    state["domains"][0]["ports"]["notify"] = "AAAAAA=="
    with pytest.raises(SnapshotError, match="port column 'notify' has 2 entries, not 64"):
        Hypervisor.from_state(state)


def test_corrupt_deflated_column_is_refused() -> None:
    hv = Hypervisor()
    hv.create_domain(1)
    hv.init_control(1, 1, 0, 0)
    hv.expand_array(1, 2)
    hv.expand_array(1, 3)
    state = hv.to_state()
    words = state["domains"][0]["abi"]["words"]
    assert words.startswith("z:")  # 8 KiB of event words: deflated
    state["domains"][0]["abi"]["words"] = "z:AAAA"
    with pytest.raises(SnapshotError, match="malformed hypervisor snapshot"):
        Hypervisor.from_state(state)
