"""The guest comes up: its kernel binds its own VIRQs/IPIs, then the PV frontends take their ports and
publish them, then dom0's backends bind (reference §8.3a, §13.4). A kernel whose own table is too small
for its per-vCPU binds dies with the kernel's BUG line.

    crashed = not boot(plumbing, vm)      # the caller applies the crash action (destroy)
"""

from __future__ import annotations

from evtchn.toolstack.devices import vbd, vif
from evtchn.toolstack.devices.xenbus import guest_cpus
from evtchn.toolstack.kernel import FifoTracker, kernel_binds, settle
from evtchn.toolstack.plumbing import Plumbing
from evtchn.toolstack.records import Vm
from evtchn.xen import XenError


def boot(p: Plumbing, vm: Vm) -> bool:
    """True once the guest is up (devices connected or failed); False if its kernel died binding."""
    assert vm.domid is not None
    vm.booted = True
    spec = vm.spec
    if not spec.has_pv_frontends:
        vm.guest_abi = "none (no PV drivers)"
        for dev in vm.devices:
            dev.state = "emulated"
        return True
    domid, hv = vm.domid, p.hv
    kernel = p.profile.guest_kernel(spec.type)
    fifo = kernel.fifo and FifoTracker.init(hv, domid, spec.vcpus)
    vm.guest_abi = "FIFO" if fifo else "2-level"
    for vcpu, bind in kernel_binds(kernel, spec.vcpus):
        kind, _, arg = bind.partition(":")
        try:
            port = hv.bind_virq(domid, int(arg), vcpu) if kind == "virq" else hv.bind_ipi(domid, vcpu)
        except XenError:
            fn = "bind_virq_to_irq" if kind == "virq" else "bind_ipi_to_irq"
            line = kernel.bug_lines.get(fn, 0)
            vm.messages.append(kernel.bug_line.format(function=fn, vcpu=vcpu, bind=bind, line=line))
            vm.last_error = vm.messages[-1]
            return False
        if fifo:
            FifoTracker.track(hv, domid, port)
        settle(hv, domid, port, fifo=fifo)
    # xenbus and the console driver bind the ports the toolstack allocated for them; a port not bound yet
    # is no channel of the kernel's when the other one is placed (kernel.target_vcpu).
    cpus = guest_cpus(p, vm)
    texts = [p.xenstore.get(f"/local/domain/{domid}/{key}/port") for key in ("store", "console")]
    ports = [int(t) for t in texts if t is not None]
    for i, port in enumerate(ports):
        settle(hv, domid, port, fifo=fifo, cpus=cpus, skip=tuple(ports[i + 1 :]))
    attached = [d for d in vm.devices if d.state == "plugged"]
    by_key = {(d.kind, d.devid): d for d in attached}
    disks = [
        d for d in spec.disks if vbd.disk_has_frontend(p.profile, spec, d) and ("vbd", d.vbd_devid) in by_key
    ]
    nics = [n for n in spec.nics if ("vif", n.devid) in by_key]
    for disk in disks:
        vbd.frontend(p, vm, disk, by_key[("vbd", disk.vbd_devid)], fifo)
    for nic in nics:
        vif.frontend(p, vm, nic, by_key[("vif", nic.devid)], fifo)
    for disk in disks:
        vbd.connect(p, vm, by_key[("vbd", disk.vbd_devid)])
    for nic in nics:
        vif.connect(p, vm, by_key[("vif", nic.devid)])
    for dev in attached:
        if dev.state == "plugged":
            dev.state = "emulated"
    p.dom0_events()
    return True


def guest_fifo(p: Plumbing, vm: Vm) -> bool:
    """Whether the running guest's kernel chose FIFO (its frontends track FIFO array growth)."""
    return vm.guest_abi == "FIFO"
