"""An HVM guest's device model: qemu binds the ioreq ports Xen allocated in the guest (Xen-consumer
ports), one per vCPU per ioreq page, plus the buffered-ioreq port (reference §7.1, §8.1 9, §13.1).

    dm_ports(profile, spec)    # dom0 ports qemu binds
    CREATE / DESTROY           # the atoms "VM_create_device_model" / "VM_destroy_device_model"
"""

from __future__ import annotations

from evtchn.toolstack.atoms import Atom
from evtchn.toolstack.devices.base import DeviceKind
from evtchn.toolstack.devices.dom0_daemons import DOM0
from evtchn.toolstack.plumbing import Plumbing
from evtchn.toolstack.profiles import Profile
from evtchn.toolstack.records import Vm
from evtchn.toolstack.spec import VmSpec
from evtchn.xen import XenError


def dm_ports(profile: Profile, spec: VmSpec) -> int:
    """HVM ioreq ports qemu binds: max_vcpus × per-vCPU (+1 buffered) (reference §7.1, §13.1)."""
    if spec.type != "hvm":
        return 0
    return spec.maxvcpus * profile.dm_ports_per_vcpu + (1 if profile.dm_bufioreq else 0)


ROW = DeviceKind("device_model", "qemu", "start", lambda p, h, s: dm_ports(p, s), "reference §7.1 HVM ioreq")


def alloc_ioreq(p: Plumbing, vm: Vm) -> list[int]:
    """Xen allocates the ioreq ports in the guest, for dom0 (Xen ≤ 4.3 at vCPU init, later at DM start)."""
    assert vm.domid is not None
    ports = []
    for v in range(vm.spec.maxvcpus):
        for _ in range(p.profile.dm_ports_per_vcpu):
            ports.append(p.hv.alloc_unbound_xen(vm.domid, v, DOM0))
    if p.profile.dm_bufioreq:
        ports.append(p.hv.alloc_unbound_xen(vm.domid, 0, DOM0, consumer="ioreq"))
    return ports


def _create(p: Plumbing, vm: Vm) -> None:
    if vm.spec.type != "hvm":
        return
    assert vm.domid is not None
    try:
        ports = p.early_ioreq if p.profile.ioreq_at_domain_create else alloc_ioreq(p, vm)
        for port in ports:
            p.qemu.bind(vm.domid, vm.domid, port)
    except XenError as e:
        raise p.fail(p.profile.dm_failure, vm, e, "VM_create_device_model") from None


def release(p: Plumbing, vm: Vm) -> None:
    if vm.domid is not None:
        p.qemu.release(vm.domid)


CREATE = Atom("VM_create_device_model", _create, release)
DESTROY = Atom("VM_destroy_device_model", release)
