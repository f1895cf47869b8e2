"""Suspend/resume, localhost migration and the rest of the power cycle through the toolstack, with their
event-channel effect and their failures on a short dom0 (issue 10)."""

from __future__ import annotations

from typing import Any

from evtchn.store import Store
from evtchn.toolstack import costs
from evtchn.toolstack.host import Host
from tests.api.harness import Endpoint
from tests.api.hostkit import drain_fillers, fill_dom0
from tests.api.sdk import fails, login, pv_vm


def _dom0_used(store: Store[Host]) -> int:
    return store.read().dom0_ports_used()


def _spec_of(store: Store[Host], uuid: str) -> Any:
    (vm,) = [v for v in store.read().vms.values() if v.uuid == uuid]
    return vm


def test_powercycle_suspend_and_resume_release_and_bind_every_port(x: Any, store: Store[Host]) -> None:
    vm = pv_vm(x, "cycle", disks=2, nics=1)
    idle = _dom0_used(store)
    for _ in range(3):  # powercycle.py's loop
        x.VM.start(vm, False, True)
        assert "suspend" in x.VM.get_record(vm)["allowed_operations"]
        running = _dom0_used(store)
        assert running > idle
        x.VM.suspend(vm)
        rec = x.VM.get_record(vm)
        assert rec["power_state"] == "Suspended" and rec["domid"] == "-1"
        assert sorted(rec["allowed_operations"]) == ["hard_shutdown", "resume", "resume_on"]
        assert _dom0_used(store) == idle  # every dom0 port released
        assert fails(x.VM.start, vm, False, True) == ["VM_BAD_POWER_STATE", vm, "halted", "suspended"]
        x.VM.resume(vm, False, True)
        assert x.VM.get_power_state(vm) == "Running" and _dom0_used(store) == running
        x.VM.clean_shutdown(vm)
        assert _dom0_used(store) == idle
    assert fails(x.VM.resume, vm, False, True) == ["VM_BAD_POWER_STATE", vm, "suspended", "halted"]
    store.read().check_invariants()


def test_resume_on_an_exhausted_dom0_fails_like_a_start_and_leaks_nothing(x: Any, store: Store[Host]) -> None:
    vm = pv_vm(x, "sleepy", disks=1, nics=1)
    x.VM.start(vm, False, True)
    x.VM.suspend(vm)
    fill_dom0(store, leave=0)
    before = _dom0_used(store)
    failure = fails(x.VM.resume, vm, False, True)
    assert failure == ["INTERNAL_ERROR", 'xenopsd internal error: Xs_protocol.Error("ENOSPC")']
    assert x.VM.get_power_state(vm) == "Suspended" and _dom0_used(store) == before
    store.read().check_invariants()
    drain_fillers(store)
    x.VM.resume(vm, False, True)
    assert x.VM.get_power_state(vm) == "Running"
    x.VM.hard_shutdown(vm)


def test_localhost_migration_needs_the_ports_twice(x: Any, store: Store[Host]) -> None:
    (host,) = x.host.get_all()
    vm = pv_vm(x, "mover", disks=2, nics=1)
    x.VM.start(vm, False, True)
    uuid = x.VM.get_uuid(vm)
    domid = x.VM.get_domid(vm)
    x.VM.pool_migrate(vm, host, {"live": "true"})
    assert x.VM.get_power_state(vm) == "Running" and x.VM.get_domid(vm) != domid
    assert x.VM.get_resident_on(vm) == host
    # a dom0 with room for the VM once but not twice refuses it, and the VM stays where it was
    spec = _spec_of(store, uuid).spec
    need = costs.vm_cost(store.read().profile, store.read().hardware, spec).total
    fill_dom0(store, leave=need - 1)
    before, domid = _dom0_used(store), x.VM.get_domid(vm)
    failure = fails(x.VM.pool_migrate, vm, host, {"live": "true"})
    assert failure[0] == "INTERNAL_ERROR"
    assert x.VM.get_power_state(vm) == "Running" and x.VM.get_domid(vm) == domid
    assert _dom0_used(store) == before
    assert not [v.name for v in store.read().vms.values() if v.name.startswith("mover.mig")]
    store.read().check_invariants()
    assert fails(x.VM.pool_migrate, vm, "OpaqueRef:elsewhere", {}) == [
        "HANDLE_INVALID", "host", "OpaqueRef:elsewhere",
    ]  # fmt: skip


def test_vbd_autodetect_on_a_full_vm_is_invalid_device(ep: Endpoint) -> None:
    x = login(ep)  # one transport: 255 creates are slow enough once
    vm = x.VM.create({"name_label": "full", "HVM_boot_policy": ""})
    for i in range(255):
        x.VBD.create({"VM": vm, "userdevice": str(i), "mode": "RO", "type": "CD"})
    assert x.VM.get_allowed_VBD_devices(vm) == []
    assert fails(x.VBD.create, {"VM": vm, "userdevice": "autodetect"}) == ["INVALID_DEVICE", "autodetect"]
    assert fails(x.VBD.create, {"VM": vm, "userdevice": "255"}) == ["INVALID_DEVICE", "255"]


def test_hard_shutdown_of_a_suspended_vm_discards_it_to_halted(x: Any, store: Store[Host]) -> None:
    vm = pv_vm(x, "discard", disks=1, nics=1)
    idle = _dom0_used(store)
    x.VM.start(vm, False, True)
    x.VM.suspend(vm)
    assert fails(x.VM.destroy, vm) == ["VM_BAD_POWER_STATE", vm, "halted", "suspended"]
    x.VM.hard_shutdown(vm)
    assert x.VM.get_power_state(vm) == "Halted" and _dom0_used(store) == idle
    assert fails(x.VM.resume, vm, False, True) == ["VM_BAD_POWER_STATE", vm, "suspended", "halted"]
    x.VM.destroy(vm)
    store.read().check_invariants()
