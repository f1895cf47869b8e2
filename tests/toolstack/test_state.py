"""Host.to_state()/from_state(): JSON-serialisable and exact — the restored host behaves identically."""

from __future__ import annotations

import json

import pytest

from evtchn.toolstack import DiskSpec, Host, NicSpec, StartError, ToolstackError, VmSpec, seed_vm_spec
from tests.toolstack.helpers import hardware_leaving


def _busy_host(profile: str) -> Host:
    host = Host.create(profile)
    for i in range(6):
        host.define_vm(seed_vm_spec(f"hvm{i}"))
        host.start_vm(f"hvm{i}")
    host.define_vm(VmSpec(name="pv", type="pv", vcpus=2, disks=[DiskSpec(userdevice=0)], nics=[NicSpec()]))
    host.start_vm("pv")
    host.shutdown_vm("hvm2")
    host.define_vm(seed_vm_spec("paused"))
    host.start_vm("paused", paused=True)
    host.define_vm(seed_vm_spec("unbooted"))
    host.start_vm("unbooted", boot=False)
    host.define_vm(seed_vm_spec("halted"))
    return host


@pytest.mark.parametrize("profile", ["xenserver-6.1", "xenserver-6.2", "xenserver-8", "xen-xl"])
def test_round_trip_is_exact(profile: str) -> None:
    host = _busy_host(profile)
    state = host.to_state()
    text = json.dumps(state, sort_keys=True)
    again = Host.from_state(json.loads(text))
    assert json.dumps(again.to_state(), sort_keys=True) == text
    again.check_invariants()
    # Both hosts now do the same thing.
    for h in (host, again):
        h.unpause_vm("paused")
        h.boot_vm("unbooted")
        h.define_vm(seed_vm_spec("new"), uuid="00000000-0000-4000-8000-000000000001")
        h.start_vm("new")
        h.reboot_vm("pv")
        h.shutdown_vm("hvm0")
    assert json.dumps(again.to_state(), sort_keys=True) == json.dumps(host.to_state(), sort_keys=True)
    assert again.vms["new"].domid == host.vms["new"].domid


def test_round_trip_keeps_failed_devices_and_errors() -> None:
    host = Host.create("xenserver-6.1", hardware_leaving(Host.create("xenserver-6.1").profile, 3))
    host.define_vm(seed_vm_spec("a"))
    vm = host.start_vm("a")
    assert [d.connected for d in vm.devices] == [True, False, False, False]
    host.define_vm(seed_vm_spec("b"))
    with pytest.raises(StartError):
        host.start_vm("b")
    again = Host.from_state(json.loads(json.dumps(host.to_state())))
    assert [d.error for d in again.vms["a"].devices] == [d.error for d in vm.devices]
    assert again.vms["b"].last_error == host.vms["b"].last_error
    assert again.xenstore.dump() == host.xenstore.dump()
    again.check_invariants()


def test_bad_state_is_refused() -> None:
    state = Host.create().to_state()
    state["version"] = 99
    with pytest.raises(ToolstackError, match="version"):
        Host.from_state(state)


def test_malformed_state_is_one_line() -> None:
    state = Host.create().to_state()
    del state["binders"]
    with pytest.raises(ToolstackError, match="host state is malformed: KeyError"):
        Host.from_state(state)
    state = Host.create().to_state()
    state["vms"] = [{"name": "x"}]
    with pytest.raises(ToolstackError, match="malformed"):
        Host.from_state(state)
