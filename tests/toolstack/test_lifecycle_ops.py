"""The lifecycle of issue 10 through the toolstack, each with its event-channel effect: pause/unpause,
suspend/resume, reboot, hot-plug, localhost migration, clone, and memory admission. What is checked is
what Xen and a user would see: ports on both sides, domains, power states, device status, error texts."""

from __future__ import annotations

import pytest

from evtchn.store.codec import status_code
from evtchn.toolstack import (
    BadPowerState,
    DiskSpec,
    Host,
    NicSpec,
    StartError,
    VmSpec,
    costs,
    get_hardware,
    get_profile,
    seed_vm_spec,
)
from evtchn.toolstack.errors import DeviceError, HostNotEnoughFreeMemory
from evtchn.xen import ECS
from tests.toolstack.helpers import hardware_leaving


def _pv(name: str) -> VmSpec:
    return VmSpec(name=name, type="pv", vcpus=2, disks=[DiskSpec(userdevice=0)], nics=[NicSpec(devid=0)])


def _ports(host: Host, domid: int) -> list[tuple[int, int]]:
    """(port, state) of every used port of a domain: what lsevtchn shows."""
    t = host.hv.domains[domid].ports
    return [(p, int(t.state[p])) for p in range(1, t.valid) if t.state[p] != ECS.FREE]


def _host_with_room(profile_name: str, spec: VmSpec, room: int) -> Host:
    """A host where dom0 has exactly `room` ports free."""
    profile = get_profile(profile_name)
    return Host.create(profile, hardware_leaving(profile, room))


def test_pause_keeps_every_channel() -> None:
    host = Host.create("xen-xl")
    vm = host.define_vm(_pv("p"))
    host.start_vm("p")
    assert vm.domid is not None
    dom0, guest = _ports(host, 0), _ports(host, vm.domid)
    host.pause_vm("p")
    assert vm.power_state == "Paused" and host.hv.domains[vm.domid].controller_paused == 1
    assert (_ports(host, 0), _ports(host, vm.domid)) == (dom0, guest)
    with pytest.raises(BadPowerState) as info:
        host.pause_vm("p")
    assert (info.value.expected, info.value.actual) == (["running"], "paused")
    host.unpause_vm("p")
    assert vm.power_state == "Running" and host.hv.domains[vm.domid].controller_paused == 0
    assert (_ports(host, 0), _ports(host, vm.domid)) == (dom0, guest)
    host.check_invariants()


@pytest.mark.parametrize("profile", ["xenserver-6.2", "xenserver-8", "xen-xl"])
def test_suspend_releases_everything_and_resume_binds_it_again(profile: str) -> None:
    host = Host.create(profile)
    baseline = host.dom0_ports_used()
    vm = host.define_vm(seed_vm_spec("s"))
    host.start_vm("s")
    running = host.dom0_ports_used()
    assert running - baseline == host.can_start(vm.spec).needed
    old = vm.domid
    host.suspend_vm("s")
    assert (vm.power_state, vm.domid, host.dom0_ports_used()) == ("Suspended", None, baseline)
    assert old not in host.hv.domains and not host.xenstore.exists(f"/local/domain/{old}")
    host.check_invariants()
    with pytest.raises(BadPowerState):
        host.start_vm("s")  # a suspended VM resumes; it does not start
    host.resume_vm("s")
    assert vm.power_state == "Running" and vm.domid not in (None, old)
    assert host.dom0_ports_used() == running
    assert all(d.connected for d in vm.devices)
    host.check_invariants()


def test_resume_on_a_short_dom0_fails_like_a_start_and_stays_suspended() -> None:
    spec = seed_vm_spec("s")
    profile = get_profile("xenserver-6.2")
    cost = costs.vm_cost(profile, get_hardware(None), spec)
    host = _host_with_room("xenserver-6.2", spec, cost.total)
    vm = host.define_vm(spec)
    other, third = host.clone_vm("s", "other"), host.clone_vm("s", "third")
    host.start_vm("s")
    host.suspend_vm("s")
    host.start_vm(other.uuid)  # takes the room back: 0 ports free
    assert host.dom0_ports_free() == 0
    before = (_ports(host, 0), sorted(host.hv.domains))
    with pytest.raises(StartError) as resumed:
        host.resume_vm("s")
    # A start of a third copy fails the same way, at the same atom.
    with pytest.raises(StartError) as started:
        host.start_vm(third.uuid)
    assert resumed.value.op == started.value.op == "xenstored_introduce"
    enospc = 'xenopsd internal error: Xs_protocol.Error("ENOSPC")'
    assert resumed.value.message == started.value.message == enospc
    assert vm.power_state == "Suspended" and vm.domid is None and vm.last_error == resumed.value.message
    assert (_ports(host, 0), sorted(host.hv.domains)) == before
    host.check_invariants()


def test_reboot_builds_a_new_domain_with_the_same_channels() -> None:
    host = Host.create("xen-xl")
    vm = host.define_vm(_pv("r"))
    host.start_vm("r")
    used, old = host.dom0_ports_used(), vm.domid
    host.reboot_vm("r", hard=True)
    assert vm.domid != old and old not in host.hv.domains and host.dom0_ports_used() == used
    host.reboot_vm("r")
    assert host.dom0_ports_used() == used and vm.power_state == "Running"
    host.check_invariants()


@pytest.mark.parametrize(
    ("profile", "text"),
    [
        ("xenserver-6.2", "error 28 mapping ring-refs and evtchn"),
        ("xen-xl", "28 mapping ring-ref port {port}"),
    ],
)
def test_hot_plug_binds_at_connect_and_fails_like_the_backend(profile: str, text: str) -> None:
    spec = _pv("h")
    p = get_profile(profile)
    cost = costs.vm_cost(p, get_hardware(None), spec).total
    host = _host_with_room(profile, spec, cost)
    vm = host.define_vm(spec)
    host.start_vm("h")
    assert vm.domid is not None and host.dom0_ports_free() == 0
    dom0, guest = _ports(host, 0), _ports(host, vm.domid)
    with pytest.raises(DeviceError) as info:
        host.plug_device("h", DiskSpec(userdevice=1))
    dev = vm.device("vbd", DiskSpec(userdevice=1).vbd_devid)
    assert dev is not None and not dev.connected and dev.state == "failed"
    port = int(info.value.message.rsplit(" ", 1)[-1]) if "{port}" in text else 0
    assert info.value.message == dev.error == text.format(port=port)
    assert status_code(dev.error) == 28  # what XenAPI shows as status_code / status_detail
    assert (_ports(host, 0), _ports(host, vm.domid)) == (dom0, guest)  # nothing leaked on either side
    host.check_invariants()
    # Unplug the NIC: its ports come back, and the disk now plugs (its rings bind at connect time).
    nic_ports = len(vm.device("vif", 0).dom0_ports)  # type: ignore[union-attr]
    host.unplug_device("h", "vif", 0)
    assert host.dom0_ports_free() == nic_ports
    with pytest.raises(DeviceError) as again:
        host.unplug_device("h", "vif", 0)
    assert again.value.xenapi_code == "DEVICE_ALREADY_DETACHED"
    rings = costs.vbd_rings(p, host.hardware, vm.spec, DiskSpec(userdevice=1))
    host.plug_device("h", DiskSpec(userdevice=1))
    assert dev.connected and dev.error is None and len(dev.dom0_ports) == rings
    assert host.xenstore.read(f"/local/domain/{vm.domid}/device/vbd/{dev.devid}/state") == "4"
    with pytest.raises(DeviceError) as attached:
        host.plug_device("h", DiskSpec(userdevice=1))
    assert attached.value.xenapi_code == "DEVICE_ALREADY_ATTACHED"
    host.check_invariants()
    # The hot-plugged disk is in the spec now; a shutdown gives back every port, the disk's included.
    assert [d.vbd_devid for d in vm.spec.disks] == [DiskSpec(userdevice=i).vbd_devid for i in (0, 1)]
    host.shutdown_vm("h")
    assert host.dom0_ports_free() == cost
    host.check_invariants()


def test_hot_plugged_nic_fails_with_netbacks_text_on_xl() -> None:
    spec = _pv("n")
    p = get_profile("xen-xl")
    host = _host_with_room("xen-xl", spec, costs.vm_cost(p, get_hardware(None), spec).total)
    vm = host.define_vm(spec)
    host.start_vm("n")
    with pytest.raises(DeviceError, match=r"^28 mapping shared-frames \d+/\d+ port tx \d+ rx \d+$"):
        host.plug_device("n", NicSpec(devid=1))
    assert vm.device("vif", 1).state == "failed"  # type: ignore[union-attr]
    host.check_invariants()


def test_localhost_migration_needs_the_ports_twice_over() -> None:
    spec = _pv("m")
    p = get_profile("xen-xl")
    cost = costs.vm_cost(p, get_hardware(None), spec)
    # Room for the VM and a second copy of it: the migration succeeds and gives the room back.
    host = _host_with_room("xen-xl", spec, 2 * cost.total)
    vm = host.define_vm(spec)
    host.start_vm("m")
    old, used = vm.domid, host.dom0_ports_used()
    host.migrate_vm("m")
    assert vm.domid != old and old not in host.hv.domains and host.dom0_ports_used() == used
    assert all(d.connected for d in vm.devices) and host.xenstore.read(f"/vm/{vm.uuid}/name") == "m"
    host.check_invariants()
    # Room for start-time binds only (connect-time short) and room for nothing: both fail, VM untouched.
    for room in (cost.start_time, 0):
        h = _host_with_room("xen-xl", spec, cost.total + room)
        v = h.define_vm(spec)
        h.start_vm("m")
        before = (v.domid, _ports(h, 0), _ports(h, v.domid or 0), sorted(h.hv.domains))
        with pytest.raises(StartError, match="migration failed, the VM stays where it was") as info:
            h.migrate_vm("m")
        assert info.value.op == "VM_migrate"
        assert v.power_state == "Running" and (v.domid, _ports(h, 0), _ports(h, v.domid or 0)) == before[:3]
        assert sorted(h.hv.domains) == before[3] and all(d.connected for d in v.devices)
        h.check_invariants()


def test_clone_copies_a_halted_spec_and_binds_nothing() -> None:
    host = Host.create("xenserver-8")
    vm = host.define_vm(seed_vm_spec("t"))
    used = host.dom0_ports_used()
    copy = host.clone_vm("t")
    assert copy.uuid != vm.uuid and copy.name == "t" and copy.spec == vm.spec
    assert host.dom0_ports_used() == used and copy.power_state == "Halted"
    named = host.clone_vm(vm.uuid, "Windows Server 2019 (1)")
    assert named.spec.name == named.name == "Windows Server 2019 (1)"
    host.start_vm(named.uuid)
    with pytest.raises(BadPowerState):
        host.clone_vm(named.uuid)


def test_memory_admission_refuses_what_does_not_fit() -> None:
    """A 1 TiB host admits (host − dom0 − Xen) // footprint VMs of 1 GiB, then HOST_NOT_ENOUGH_FREE_MEMORY
    [needed; available] in bytes; before, start_vm admitted 6 000."""
    host = Host.create("xen-xl")
    hw = host.hardware
    spec = VmSpec(name="g0", type="pv", vcpus=1, memory_mib=1024)
    # xenopsd's model written out: 1024 + 0 (internal) + 1 (external) + ceil((256 + 2048) / 256) shadow.
    footprint = 1024 + 0 + 1 + 9
    fits = (hw.host_memory_mib - hw.dom0_memory_mib - 512) // footprint
    for i in range(fits):
        host.define_vm(spec.model_copy(update={"name": f"g{i}"}))
        host.start_vm(f"g{i}")
    last = host.define_vm(spec.model_copy(update={"name": "last"}))
    domains = sorted(host.hv.domains)
    with pytest.raises(HostNotEnoughFreeMemory) as info:
        host.start_vm("last")
    free = hw.host_memory_mib - hw.dom0_memory_mib - 512 - fits * footprint
    assert info.value.xenapi_code == "HOST_NOT_ENOUGH_FREE_MEMORY"
    assert info.value.xenapi_params == [str(footprint * 2**20), str(free * 2**20)]
    assert host.memory_free_mib() == free and sorted(host.hv.domains) == domains
    assert last.power_state == "Halted"
    # Suspending one frees its memory; the refused VM then starts, and the suspended one cannot resume.
    host.suspend_vm("g0")
    host.start_vm("last")
    with pytest.raises(HostNotEnoughFreeMemory):
        host.resume_vm("g0")
    assert host.vm("g0").power_state == "Suspended"
    with pytest.raises(HostNotEnoughFreeMemory):
        host.migrate_vm("g1")  # a localhost migration needs the memory twice over too
    host.check_invariants()


def test_new_operations_mark_the_vm_dirty() -> None:
    host = Host.create("xen-xl")
    vm = host.define_vm(_pv("d"))
    host.start_vm("d")
    for op in (
        lambda: host.pause_vm("d"),
        lambda: host.unpause_vm("d"),
        lambda: host.plug_device("d", DiskSpec(userdevice=2)),
        lambda: host.unplug_device("d", "vbd", DiskSpec(userdevice=2).vbd_devid),
        lambda: host.migrate_vm("d"),
        lambda: host.suspend_vm("d"),
        lambda: host.resume_vm("d"),
    ):
        host.take_dirty_vms()
        op()
        assert host.take_dirty_vms() == {vm.uuid}
    host.shutdown_vm("d")
    host.take_dirty_vms()
    copy = host.clone_vm("d")
    assert host.take_dirty_vms() == {copy.uuid}
