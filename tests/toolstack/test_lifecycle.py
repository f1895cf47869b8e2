"""VM lifecycle on the simulated host: power states, xenstore paths, boot timing, admission."""

from __future__ import annotations

import re

import pytest

from evtchn.inspect.lsevtchn import format_lsevtchn
from evtchn.toolstack import (
    BadPowerState,
    DiskSpec,
    Host,
    NicSpec,
    NoSuchVm,
    StartError,
    ToolstackError,
    VmExists,
    VmSpec,
    seed_vm_spec,
    vm_cost,
)
from tests.toolstack.helpers import hardware_leaving


def test_power_states_and_errors() -> None:
    host = Host.create("xenserver-6.2")
    vm = host.define_vm(seed_vm_spec("a"))
    assert vm.power_state == "Halted" and vm.domid is None
    with pytest.raises(VmExists):
        host.define_vm(seed_vm_spec("a"))
    with pytest.raises(VmExists, match="'Domain-0' already exists"):  # dom0's name is taken
        host.define_vm(seed_vm_spec("Domain-0"))
    with pytest.raises(VmExists, match="'Domain-0' already exists"):
        host.update_vm("a", seed_vm_spec("Domain-0"))
    with pytest.raises(NoSuchVm, match="no VM named 'b'"):
        host.start_vm("b")
    with pytest.raises(BadPowerState) as info:
        host.shutdown_vm("a")
    assert (info.value.vm, info.value.expected, info.value.actual) == ("a", ["running", "paused"], "halted")
    host.start_vm("a")
    with pytest.raises(BadPowerState) as info:
        host.start_vm("a")
    assert (info.value.expected, info.value.actual) == (["halted"], "running")
    with pytest.raises(BadPowerState):
        host.remove_vm("a")
    with pytest.raises(BadPowerState):
        host.update_vm("a", seed_vm_spec("a"))
    with pytest.raises(ToolstackError, match="already booted"):
        host.boot_vm("a")
    host.destroy_vm("a")
    host.update_vm("a", seed_vm_spec("a").model_copy(update={"vcpus": 2}))
    assert host.vms["a"].spec.vcpus == 2
    host.update_vm("a", seed_vm_spec("renamed"))
    assert "renamed" in host.vms and "a" not in host.vms
    host.remove_vm("renamed")
    assert host.vms == {}
    host.check_invariants()


def test_xenstore_paths_of_a_running_guest() -> None:
    """The real paths (reference §7.2, §7.4): store/console, vbd, split vif, multi-queue, backends."""
    host = Host.create("xen-xl")
    spec = VmSpec(
        name="g",
        type="pv",
        vcpus=2,
        disks=[DiskSpec(userdevice=0), DiskSpec(userdevice=1, queues=1)],
        nics=[NicSpec(devid=0, queues=1), NicSpec(devid=1)],
    )
    host.define_vm(spec)
    vm = host.start_vm("g")
    d = vm.domid
    xs = host.xenstore
    r = xs.read
    assert int(r(f"/local/domain/{d}/store/port")) == 1
    assert int(r(f"/local/domain/{d}/console/port")) == 2
    assert r(f"/local/domain/{d}/console/tty").startswith("/dev/pts/")
    # xvda: 2 rings (min(blkfront 4, 2 vCPUs, dom0 4)): multi-queue keys.
    vbd = f"/local/domain/{d}/device/vbd/51712"
    assert r(f"{vbd}/multi-queue-num-queues") == "2"
    assert {r(f"{vbd}/queue-{q}/event-channel") for q in range(2)} == {
        str(p) for p in vm.devices[0].guest_ports
    }
    assert xs.exists(f"{vbd}/queue-0/ring-ref") and not xs.exists(f"{vbd}/event-channel")
    # xvdb: one ring.
    vbd2 = f"/local/domain/{d}/device/vbd/51728"
    assert r(f"{vbd2}/event-channel") == str(vm.devices[1].guest_ports[0]) and xs.exists(f"{vbd2}/ring-ref")
    # vif 0: one queue, split tx/rx; vif 1: 2 queues, split.
    vif0 = f"/local/domain/{d}/device/vif/0"
    assert xs.exists(f"{vif0}/event-channel-tx") and xs.exists(f"{vif0}/event-channel-rx")
    assert not xs.exists(f"{vif0}/event-channel")
    vif1 = f"/local/domain/{d}/device/vif/1"
    assert r(f"{vif1}/multi-queue-num-queues") == "2"
    assert xs.exists(f"{vif1}/queue-1/event-channel-rx") and xs.exists(f"{vif1}/queue-1/tx-ring-ref")
    # Backends under dom0, connected, with hotplug done.
    for kind, devid in (("vbd", 51712), ("vbd", 51728), ("vif", 0), ("vif", 1)):
        back = f"/local/domain/0/backend/{kind}/{d}/{devid}"
        assert r(f"{back}/state") == "4" and r(f"{back}/hotplug-status") == "connected"
        assert r(f"{back}/frontend-id") == str(d)
    assert r(f"/local/domain/0/backend/vif/{d}/0/feature-split-event-channels") == "1"
    assert [len(dev.dom0_ports) for dev in vm.devices] == [2, 1, 2, 4]
    # The guest's table pairs each frontend port with the backend's dom0 port; its Linux 6.1 spreads
    # them over both vCPUs (tests/fidelity/test_vcpu_spreading.py).
    out = format_lsevtchn(host.hv, d or 0).stdout
    vcpus = set()
    for dev in vm.devices:
        for gp, dp in zip(dev.guest_ports, dev.dom0_ports, strict=True):
            m = re.search(
                rf"^{gp:4d}: VCPU (\d): Interdomain \(Connected\) - Remote Domain 0, Port {dp}$", out, re.M
            )
            assert m is not None
            vcpus.add(m[1])
    assert vcpus == {"0", "1"}
    host.shutdown_vm("g")
    assert xs.ls("/local/domain") == ["0"]
    assert all(xs.ls(f"/local/domain/0/backend/{k}") == [] for k in xs.ls("/local/domain/0/backend"))
    host.check_invariants()


def test_xenserver_62_uses_its_own_paths_and_no_hvm_console() -> None:
    host = Host.create("xenserver-6.2")
    host.define_vm(seed_vm_spec("w"))
    vm = host.start_vm("w")
    d = vm.domid
    assert not host.xenstore.exists(f"/local/domain/{d}/console")  # CA-73960 (reference §7.3)
    assert host.xenstore.read(f"/local/domain/{d}/serial/0/limit") == "65536"
    # Xen 4.1 allocated the ioreq ports at vCPU init, before the store port (reference §7.1).
    assert int(host.xenstore.read(f"/local/domain/{d}/store/port")) == 3
    out = format_lsevtchn(host.hv, d or 0).stdout.splitlines()
    assert out[0].startswith("   1: VCPU 0: Interdomain (Connected) - Remote Domain 0, Port")


def test_deferred_boot_and_hvm_pv_drivers() -> None:
    """HVM devices connect only when the PV drivers load (reference §13.4): boot as a separate step."""
    host = Host.create("xenserver-6.2")
    host.define_vm(seed_vm_spec("w"))
    before = host.dom0_ports_used()
    vm = host.start_vm("w", boot=False)
    cost = vm_cost(host.profile, host.hardware, vm.spec)
    assert host.dom0_ports_used() - before == cost.start_time
    assert [d.state for d in vm.devices] == ["plugged"] * 4
    host.boot_vm("w")
    assert host.dom0_ports_used() - before == cost.total
    assert all(d.connected for d in vm.devices)
    host.check_invariants()


def test_paused_start_boots_on_unpause() -> None:
    host = Host.create("xen-xl")
    host.define_vm(seed_vm_spec("w"))
    vm = host.start_vm("w", paused=True)
    assert vm.power_state == "Paused" and not vm.booted
    assert host.hv.domains[vm.domid or 0].controller_paused
    with pytest.raises(BadPowerState):
        host.boot_vm("w")
    host.unpause_vm("w")
    assert vm.power_state == "Running" and vm.booted and all(d.connected for d in vm.devices)
    with pytest.raises(BadPowerState):
        host.unpause_vm("w")


def test_hvm_without_pv_drivers_and_cdrom() -> None:
    host = Host.create("xen-xl")
    spec = VmSpec(
        name="emu",
        type="hvm",
        disks=[DiskSpec(userdevice=0), DiskSpec(userdevice=3, kind="cdrom", mode="ro")],
        nics=[NicSpec()],
        pv_drivers=False,
    )
    host.define_vm(spec)
    before = host.dom0_ports_used()
    vm = host.start_vm("emu")
    # Only xenstore, console and the device model: emulated devices use no channels (reference §7.1).
    assert host.dom0_ports_used() - before == 1 + 1 + 2 == vm_cost(host.profile, host.hardware, spec).total
    assert [d.state for d in vm.devices] == ["emulated"] * 3
    host.shutdown_vm("emu")
    host.update_vm("emu", spec.model_copy(update={"pv_drivers": True}))
    vm = host.start_vm("emu")
    # With PV drivers the disk connects, the CD-ROM stays emulated (Linux blkfront ignores it in HVM).
    assert [d.state for d in vm.devices] == ["connected", "emulated", "connected"]
    host.check_invariants()


def test_reboot_releases_and_retakes() -> None:
    host = Host.create("xenserver-6.1")
    host.define_vm(seed_vm_spec("w"))
    vm = host.start_vm("w")
    used = host.dom0_ports_used()
    old = vm.domid
    host.reboot_vm("w")
    assert vm.power_state == "Running" and vm.domid != old
    assert host.dom0_ports_used() == used
    assert old not in host.hv.domains
    host.check_invariants()


def test_domids_come_from_a_rover() -> None:
    host = Host.create("xen-xl")
    for name in "abc":
        host.define_vm(seed_vm_spec(name))
    assert host.start_vm("a").domid == 1
    assert host.start_vm("b").domid == 2
    host.shutdown_vm("a")
    assert host.start_vm("c").domid == 3  # Xen does not reuse domid 1 at once
    assert host.vm_by_domid(3) is host.vms["c"]


def test_can_start() -> None:
    host = Host.create("xenserver-6.2", hardware_leaving(Host.create("xenserver-6.2").profile, 10))
    spec = seed_vm_spec("w")
    a = host.can_start(spec)
    assert (a.ok, a.needed, a.free, a.shortfall) == (True, 7, 10, 0)
    host.define_vm(spec)
    host.start_vm("w")
    b = host.can_start(seed_vm_spec("x"))
    assert (b.ok, b.needed, b.free, b.shortfall) == (False, 7, 3, 4)
    assert b.binding_limit.startswith("dom0 event channels (4095 usable)")
    assert "device channel(s) would fail" in b.detail
    host.define_vm(seed_vm_spec("x"))
    vm = host.start_vm("x")  # admission was right: it starts with failed devices
    assert not any(d.connected for d in vm.devices)  # store + qemu took the last 3
    c = host.can_start(seed_vm_spec("y"))
    assert not c.ok and c.free == 0 and "start would fail" in c.detail
    big = VmSpec(name="big", type="pv", vcpus=8, nics=[NicSpec()], max_event_channels=20)
    g = Host.create("xen-xl").can_start(big)
    assert (
        not g.ok and g.shortfall == 0 and g.binding_limit.startswith("guest max_event_channels (20 usable)")
    )


def test_can_start_says_how_a_short_guest_table_fails() -> None:
    """The admission detail names the failure the start would really show (reference §8.3a)."""
    xl = Host.create("xen-xl")
    pv = VmSpec(name="g", type="pv", vcpus=2, disks=[DiskSpec(userdevice=0)], nics=[NicSpec(queues=1)])
    for cap, words in ((1, "start would fail"), (5, "kernel BUG"), (15, "frontends would lack")):
        spec = pv.model_copy(update={"max_event_channels": cap})
        a = xl.can_start(spec)
        assert not a.ok and words in a.detail, (cap, a.detail)
        xl.define_vm(spec.model_copy(update={"name": f"g{cap}"}))
        try:
            vm = xl.start_vm(f"g{cap}")
        except StartError:
            assert cap == 1
            continue
        if cap == 5:
            # the kernel's BUG line, then xl's own (on_crash=destroy: "... destroying the domain")
            assert vm.power_state == "Halted" and "kernel BUG" in (vm.last_error or "")
            assert vm.messages[-1] == "Done. Exiting now"
        else:
            assert vm.power_state == "Running" and not all(d.connected for d in vm.devices)


@pytest.mark.parametrize("profile", ["xenserver-6.2", "xen-xl"])
def test_bound_ports_end_idle(profile: str) -> None:
    """Linux unmasks what it binds and handles the event bind_interdomain leaves pending, so on a running
    host the 'e' dump shows bound ports as [0/0] (reference §2.3, §9.2)."""
    host = Host.create(profile)
    for i in range(3):
        host.define_vm(seed_vm_spec(f"w{i}"))
        host.start_vm(f"w{i}")
    host.shutdown_vm("w1")
    host.define_vm(seed_vm_spec("again"))
    host.start_vm("again")
    for domid in host.hv.domains:
        for p in host.hv.dump_domain(domid):
            if p.xen_consumer or p.state == 2:  # Xen's ioreq ports; unbound ports nobody listens on
                continue
            assert (p.pending, p.masked) == (False, False), (domid, p)


def test_vm_dom0_ports_match_the_cost_table() -> None:
    for profile in ("xenserver-6.1", "xenserver-6.2", "xenserver-8", "xen-xl"):
        host = Host.create(profile)
        spec = VmSpec(name="m", type="hvm", vcpus=2, disks=[DiskSpec(userdevice=0)], nics=[NicSpec()])
        host.define_vm(spec)
        assert all(v == [] for v in host.vm_dom0_ports("m").values())
        host.start_vm("m")
        held = host.vm_dom0_ports("m")
        cost = vm_cost(host.profile, host.hardware, spec)
        assert {k: len(v) for k, v in held.items()} == cost.by_kind
        assert sum(map(len, held.values())) == host.dom0_ports_used() - sum(host.baseline().values())
