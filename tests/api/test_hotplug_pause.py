"""pause/unpause, VBD/VIF hot-plug, HOST_NOT_ENOUGH_FREE_MEMORY and the messages the host's refusals leave,
through the SDK over TCP and the Unix socket (issue 10; reference §8.3)."""

from __future__ import annotations

from typing import Any

from evtchn.store import Store
from evtchn.toolstack.host import Host
from tests.api.hostkit import drain_fillers, fill_dom0
from tests.api.sdk import fails, pv_vm

MIB = 1024**2


def _dom0_used(store: Store[Host]) -> int:
    return store.read().dom0_ports_used()


def _messages(x: Any, name: str) -> list[dict[str, Any]]:
    return [m for m in x.message.get_all_records().values() if m["name"] == name]


def test_pause_keeps_every_channel_and_allows_exactly_what_a_paused_vm_can_do(
    x: Any, store: Store[Host]
) -> None:
    vm = pv_vm(x, "napper", disks=1, nics=1)
    assert fails(x.VM.pause, vm) == ["VM_BAD_POWER_STATE", vm, "running", "halted"]
    x.VM.start(vm, False, True)
    running = _dom0_used(store)
    x.VM.pause(vm)
    assert x.VM.get_power_state(vm) == "Paused" and _dom0_used(store) == running
    assert sorted(x.VM.get_allowed_operations(vm)) == ["hard_reboot", "hard_shutdown", "unpause"]
    assert fails(x.VM.suspend, vm) == ["VM_BAD_POWER_STATE", vm, "running", "paused"]
    x.VM.unpause(vm)
    assert x.VM.get_power_state(vm) == "Running" and _dom0_used(store) == running
    assert fails(x.VM.unpause, vm) == ["VM_BAD_POWER_STATE", vm, "paused", "running"]
    x.VM.hard_shutdown(vm)
    store.read().check_invariants()


def test_hot_unplug_and_plug_free_and_bind_the_device_channels(x: Any, store: Store[Host]) -> None:
    vm = pv_vm(x, "plugger", disks=2, nics=1)
    x.VM.start(vm, False, True)
    running = _dom0_used(store)
    vbd = x.VM.get_VBDs(vm)[1]
    (vif,) = x.VM.get_VIFs(vm)
    assert sorted(x.VBD.get_allowed_operations(vbd)) == ["unplug", "unplug_force"]
    x.VBD.unplug(vbd)
    x.VIF.unplug(vif)
    assert not x.VBD.get_currently_attached(vbd) and not x.VIF.get_currently_attached(vif)
    assert _dom0_used(store) < running
    assert x.VBD.get_allowed_operations(vbd) == ["plug"]
    assert fails(x.VBD.unplug, vbd) == ["DEVICE_ALREADY_DETACHED", vbd]
    x.VBD.plug(vbd)
    x.VIF.plug(vif)
    assert x.VBD.get_currently_attached(vbd) and x.VIF.get_currently_attached(vif)
    assert _dom0_used(store) == running
    assert fails(x.VIF.plug, vif) == ["DEVICE_ALREADY_ATTACHED", vif]
    store.read().check_invariants()
    x.VM.clean_shutdown(vm)
    assert fails(x.VBD.plug, vbd) == ["VM_BAD_POWER_STATE", vm, "running", "halted"]


def test_hot_plug_on_an_exhausted_dom0_fails_as_the_backend_fails_and_leaks_nothing(
    x: Any, store: Store[Host]
) -> None:
    vm = pv_vm(x, "late", disks=2, nics=0)
    x.VM.start(vm, False, True)
    vbd = x.VM.get_VBDs(vm)[1]
    x.VBD.unplug(vbd)
    fill_dom0(store, leave=0)
    before = _dom0_used(store)
    failure = fails(x.VBD.plug, vbd)
    assert failure[0] == "INTERNAL_ERROR" and "error 28 mapping ring-refs and evtchn" in failure[1]
    rec = x.VBD.get_record(vbd)
    assert rec["currently_attached"] is False
    assert rec["status_code"] == "28" and "error 28" in rec["status_detail"]
    assert rec["allowed_operations"] == ["plug"]
    assert x.VM.get_power_state(vm) == "Running" and _dom0_used(store) == before
    store.read().check_invariants()
    (msg,) = _messages(x, "VBD_PLUG_FAILED")
    assert msg["cls"] == "VBD" and msg["obj_uuid"] == rec["uuid"] and "error 28" in msg["body"]
    assert msg["priority"] == "3"
    drain_fillers(store)
    x.VBD.plug(vbd)  # room again: the same device connects
    assert x.VBD.get_currently_attached(vbd) and x.VBD.get_status_code(vbd) == "0"


def test_start_refused_by_dom0_daemons_leaves_a_message(x: Any, store: Store[Host]) -> None:
    vm = pv_vm(x, "refused", disks=1, nics=1)
    fill_dom0(store, leave=0)
    failure = fails(x.VM.start, vm, False, True)
    assert failure == ["INTERNAL_ERROR", 'xenopsd internal error: Xs_protocol.Error("ENOSPC")']
    assert x.VM.get_power_state(vm) == "Halted"
    (msg,) = _messages(x, "VM_START_FAILED")
    assert msg["cls"] == "VM" and msg["obj_uuid"] == x.VM.get_uuid(vm) and "ENOSPC" in msg["body"]
    ref = x.message.get_by_uuid(msg["uuid"])
    assert x.message.get_name(ref) == "VM_START_FAILED"
    store.read().check_invariants()


def test_a_start_that_does_not_fit_free_memory_is_host_not_enough_free_memory(
    x: Any, store: Store[Host]
) -> None:
    (host,) = x.host.get_all()
    free = int(x.host.compute_free_memory(host))
    big = x.VM.create({"name_label": "whale", "memory_static_max": str(free + 1024 * MIB),
                       "HVM_boot_policy": ""})  # fmt: skip
    failure = fails(x.VM.start, big, False, True)
    assert failure[0] == "HOST_NOT_ENOUGH_FREE_MEMORY"
    needed, available = int(failure[1]), int(failure[2])
    assert needed > available and available == store.read().memory_free_mib() * MIB
    assert x.VM.get_power_state(big) == "Halted"
    assert [m["name"] for m in x.message.get_all_records().values()] == ["VM_START_FAILED"]
