"""Every start-time and connect-time failure point: leave exactly k free dom0 ports (k = 0..cost) or cap
the guest at m ports, start, and check what the real components would do (reference §8.3, §8.3a)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from evtchn.inspect.lsevtchn import format_lsevtchn
from evtchn.toolstack import (
    DiskSpec,
    Host,
    NicSpec,
    Profile,
    StartError,
    VmSpec,
    costs,
    get_profile,
    seed_vm_spec,
)
from tests.toolstack.helpers import hardware_leaving, small_dom0


def _hvm_mq(name: str) -> VmSpec:
    return VmSpec(
        name=name,
        type="hvm",
        vcpus=4,
        disks=[DiskSpec(userdevice=0), DiskSpec(userdevice=1)],
        nics=[NicSpec(devid=0)],
    )


def _pv(name: str) -> VmSpec:
    return VmSpec(
        name=name,
        type="pv",
        vcpus=2,
        disks=[DiskSpec(userdevice=0), DiskSpec(userdevice=1)],
        nics=[NicSpec(devid=0), NicSpec(devid=1)],
    )


def _pvh(name: str) -> VmSpec:
    return VmSpec(name=name, type="pvh", vcpus=1, disks=[DiskSpec(userdevice=0)], nics=[NicSpec(devid=0)])


CASES = [
    ("xenserver-6.1", seed_vm_spec),
    ("xenserver-6.2", seed_vm_spec),
    ("xenserver-6.2", _pv),
    ("xenserver-6.5", _pv),
    ("xenserver-8", seed_vm_spec),
    ("xen-xl", seed_vm_spec),
    ("xen-xl", _hvm_mq),
    ("xen-xl", _pv),
    ("xen-xl", _pvh),
]


def _start_steps(profile: Profile, spec: VmSpec) -> list[tuple[str, int]]:
    """Start-time binds in xenopsd order: store, console, device model."""
    steps = [("xenstored_introduce", 1)]
    if costs.console_bound(profile, spec):
        steps.append(("xenconsoled_bind", 1))
    if spec.type == "hvm":
        steps.append(("VM_create_device_model", costs.dm_ports(profile, spec)))
    return steps


def _device_needs(profile: Profile, host: Host, spec: VmSpec) -> list[int]:
    disks = [costs.vbd_rings(profile, host.hardware, spec, d) for d in spec.disks]
    nics = [
        costs.vif_ports(profile, host.hardware, spec, n) for n in sorted(spec.nics, key=lambda n: n.devid)
    ]
    return disks + nics


@pytest.mark.parametrize(("profile_name", "make"), CASES, ids=[f"{p}-{m.__name__}" for p, m in CASES])
def test_every_dom0_failure_point(profile_name: str, make: Callable[[str], VmSpec]) -> None:
    profile = small_dom0(get_profile(profile_name))
    spec = make("vm")
    cost = costs.vm_cost(profile, hardware_leaving(profile, 0), spec)
    for k in range(cost.total + 1):
        host = Host.create(profile, hardware_leaving(profile, k))
        baseline_used = host.dom0_ports_used()
        assert host.dom0_ports_free() == k
        host.define_vm(spec)
        steps = _start_steps(profile, spec)
        left = k
        failing = None
        for op, n in steps:
            if n > left:
                failing = op
                break
            left -= n
        if failing is not None:
            with pytest.raises(StartError) as info:
                host.start_vm("vm")
            err = info.value
            assert err.op == failing
            want = {
                "xenstored_introduce": profile.store_failure,
                "xenconsoled_bind": profile.console_failure,
                "VM_create_device_model": profile.dm_failure,
            }[failing]
            assert err.xenapi_code == want.xenapi_code
            assert err.message == host.vms["vm"].messages[-1]
            assert "{" not in err.message and all("{" not in p for p in err.xenapi_params)
            vm = host.vms["vm"]
            assert vm.power_state == "Halted" and vm.domid is None
            # Nothing leaked: dom0 is back to its baseline, no guest domain, no guest paths in xenstore.
            assert host.dom0_ports_used() == baseline_used
            assert set(host.hv.domains) == {0}
            assert host.xenstore.ls("/local/domain") == ["0"]
            for kind in host.xenstore.ls("/local/domain/0/backend"):
                assert host.xenstore.ls(f"/local/domain/0/backend/{kind}") == []
            host.check_invariants()
            continue
        vm = host.start_vm("vm")
        assert vm.power_state == "Running"
        # Connect time: devices in order, each needs all its ports or fails and holds none.
        expect = []
        for need in _device_needs(profile, host, spec):
            ok = 0 < need <= left
            if ok:
                left -= need
            expect.append(ok if need else None)
        got = [d.connected if d.state != "emulated" else None for d in vm.devices]
        assert got == expect, f"k={k}"
        for d in vm.devices:
            if d.state == "failed":
                assert d.error and d.dom0_ports == []
                kind = "vif" if d.kind == "vif" else host.vbd_backend_kind
                node = (
                    f"/local/domain/0/backend/vbd3/{vm.domid}/{d.devid}/tapdisk-error"
                    if kind == "vbd3"
                    else f"/local/domain/0/error/backend/{kind}/{vm.domid}/{d.devid}/error"
                )
                assert host.xenstore.read(node).startswith("28 ")
                # The guest keeps its frontend's ports, unbound, waiting for dom0 (on the vCPU its kernel
                # chose: a Linux >= 5.11 guest spreads them, tests/fidelity/test_vcpu_spreading.py).
                out = format_lsevtchn(host.hv, vm.domid or 0).stdout
                for p in d.guest_ports:
                    assert re.search(
                        rf"^{p:4d}: VCPU \d+: Interdomain \(Waiting connection\) - Remote Domain 0$",
                        out,
                        re.M,
                    )
        assert host.dom0_ports_free() == left
        host.check_invariants()
        host.shutdown_vm("vm")
        assert host.dom0_ports_used() == baseline_used
        host.check_invariants()


@pytest.mark.parametrize("profile_name", ["xen-xl", "xenserver-8"])
def test_every_guest_cap(profile_name: str) -> None:
    """max_event_channels = m: toolstack allocs, kernel binds, then frontends, as Linux fails (§8.3a)."""
    profile = get_profile(profile_name)
    # One queue per NIC, so each costs 2 ports split or 1 after the fallback.
    base = _pv("vm").model_copy(update={"nics": [NicSpec(devid=0, queues=1), NicSpec(devid=1, queues=1)]})
    full = costs.guest_ports(profile, Host.create(profile).hardware, base)
    kernel = profile.pv_guest_kernel
    binds = len(costs.kernel_binds(kernel, base.vcpus))
    for m in range(1, full + 2):
        host = Host.create(profile)
        spec = base.model_copy(update={"max_event_channels": m})
        host.define_vm(spec)
        before = host.dom0_ports_used()
        toolstack_ports = 2  # store and console, allocated by the toolstack (§8.1)
        if m < toolstack_ports:
            with pytest.raises(StartError) as info:
                host.start_vm("vm")
            assert info.value.op == "VM_build"
            assert host.dom0_ports_used() == before
            host.check_invariants()
            continue
        vm = host.start_vm("vm")
        if m < toolstack_ports + binds:
            # The kernel cannot bind its timer VIRQ or IPIs: BUG, the domain dies, the VM halts.
            assert vm.power_state == "Halted"
            assert any(
                msg.startswith("kernel BUG at drivers/xen/events/events_base.c") for msg in vm.messages
            )
            assert host.dom0_ports_used() == before
            host.check_invariants()
            continue
        assert vm.power_state == "Running"
        left = m - toolstack_ports - binds
        for disk, dev in zip(spec.disks, vm.devices[:2], strict=True):
            need = costs.vbd_rings(profile, host.hardware, spec, disk)
            if need <= left:
                left -= need
                assert dev.connected
            else:
                assert dev.state == "absent" and dev.guest_ports == [] and dev.dom0_ports == []
                assert f"vbd vbd-{dev.devid}: 28 allocating event channel" in vm.messages
        for dev in vm.devices[2:]:
            if left >= 2:
                left -= 2
                assert dev.connected and dev.split
            elif left == 1:
                left -= 1
                # netfront logs the failed split allocation and falls back to one channel.
                assert dev.connected and not dev.split and len(dev.guest_ports) == 1
                assert f"vif vif-{dev.devid}: 28 allocating event channel" in vm.messages
                front = f"/local/domain/{vm.domid}/device/vif/{dev.devid}"
                assert host.xenstore.read(f"{front}/event-channel") == str(dev.guest_ports[0])
                assert not host.xenstore.exists(f"{front}/event-channel-tx")
            else:
                assert dev.state == "absent"
        assert max(host.hv.domains[vm.domid or 0].ports.used_ports()) <= m
        host.check_invariants()


def test_vif_control_ring_failure() -> None:
    """The ctrl ring binds last; when only it fails, netback reports it and holds nothing for the VIF."""
    xl = small_dom0(get_profile("xen-xl"))
    kernel = xl.pv_guest_kernel.model_copy(update={"netfront_ctrl_ring": True})
    prof = xl.model_copy(update={"pv_guest_kernel": kernel})
    spec = VmSpec(name="c", type="pv", nics=[NicSpec(devid=0, queues=1)])
    host = Host.create(prof, hardware_leaving(prof, 1 + 1 + 2))  # store, console, tx+rx; not ctrl
    host.define_vm(spec)
    vm = host.start_vm("c")
    vif = vm.devices[0]
    ctrl = host.xenstore.read(f"/local/domain/{vm.domid}/device/vif/0/event-channel-ctrl")
    ref = host.xenstore.read(f"/local/domain/{vm.domid}/device/vif/0/ctrl-ring-ref")
    assert vif.state == "failed" and vif.dom0_ports == []
    assert vif.error == f"28 mapping shared-frame {ref} port {ctrl}"
    assert host.dom0_ports_free() == 2  # the queue's two binds were released with the device
    host.check_invariants()


def test_fifo_dom0_reuses_ports_after_a_failed_start() -> None:
    """On a FIFO dom0 a freed port whose event is still LINKED cannot be reused (reference §3); the
    rollback lets dom0 handle its events first, so the ports a failed start took are free again at once."""
    host = Host.create("xen-xl")
    # Two guest ports: store and console fit, then qemu's ioreq server cannot get its ports.
    host.define_vm(seed_vm_spec("w").model_copy(update={"max_event_channels": 2}))
    first_free = host.hv.domains[0].ports.find_free()
    with pytest.raises(StartError) as info:
        host.start_vm("w")
    assert info.value.op == "VM_create_device_model"
    d0 = host.hv.domains[0]
    assert not any(d0.abi.is_busy(d0, p) for p in range(1, d0.ports.valid) if d0.ports.state[p] == 0)
    assert d0.ports.find_free() == first_free  # the same lowest port is handed out again
    host.check_invariants()


@pytest.mark.parametrize("profile_name", ["xenserver-6.1", "xenserver-6.2", "xenserver-8", "xen-xl"])
def test_every_guest_cap_of_an_hvm_guest(profile_name: str) -> None:
    """The seed's HVM VM under max_event_channels = m: the toolstack's own guest allocations (ioreq ports
    at domain creation on Xen 4.1, store/console at build, ioreq at device-model start) fail the start
    and leave nothing behind; past them the guest runs with what its frontends could allocate."""
    profile = get_profile(profile_name)
    spec = seed_vm_spec("vm")
    full = costs.guest_ports(profile, Host.create(profile).hardware, spec)
    ops = set()
    for m in range(1, full + 2):
        host = Host.create(profile)
        before = host.dom0_ports_used()
        host.define_vm(spec.model_copy(update={"max_event_channels": m}))
        try:
            vm = host.start_vm("vm")
        except StartError as e:
            ops.add(e.op)
            vm = host.vms["vm"]
            assert vm.power_state == "Halted" and vm.domid is None and vm.last_error == e.message
            assert host.dom0_ports_used() == before and set(host.hv.domains) == {0}
            assert host.xenstore.ls("/local/domain") == ["0"]
            host.check_invariants()
            continue
        if vm.power_state == "Running":
            assert max(host.hv.domains[vm.domid or 0].ports.used_ports()) <= m
            if m >= full:
                assert all(d.connected for d in vm.devices)
        host.check_invariants()
    # Xen 4.1 allocates the ioreq ports when the domain is created (reference §7.1): with two of them
    # (6.2: per vCPU + buffered) a 1-port guest already fails there, before the store port.
    assert ops and ops <= {"VM_create", "VM_build", "VM_create_device_model"}
    if profile.ioreq_at_domain_create and costs.dm_ports(profile, spec) > 1:
        assert "VM_create" in ops
    if not profile.ioreq_at_domain_create:
        assert "VM_create_device_model" in ops
