"""Linux's side of binding: which VIRQs/IPIs a kernel binds per vCPU, and how it enables what it bound.

    kernel_binds(profile.pv_guest_kernel, vcpus=2)   # [(0, "virq:0"), (0, "ipi:resched"), …, (1, …)]
    dom0_binds(profile, hardware)                    # dom0's boot binds: per-vCPU, global VIRQs, PIRQs
    FifoTracker.init(hv, domid, vcpus)               # EVTCHNOP_init_control; False: 2-level fallback
    settle(hv, domid, port, fifo=True, cpus=4)       # enable a new IRQ; >= 5.11 spreads it (target_vcpu)

The bind lists are the profile's kernel data (reference §7.3); nothing here branches on a profile's name.
"""

from __future__ import annotations

import sys
from array import array

from evtchn.toolstack.hardware import Hardware
from evtchn.toolstack.profiles import KernelFlavour, Profile
from evtchn.xen import Hypervisor, XenError
from evtchn.xen.abi import Fifo

VIRQ_DOM_EXC = 3
VIRQ_CON_RING = 8
_GFN_CONTROL = 0x1000  # fake guest frame numbers for FIFO control blocks and array pages
_GFN_ARRAY = 0x2000


def kernel_binds(kernel: KernelFlavour, vcpus: int) -> list[tuple[int, str]]:
    """(vCPU, "virq:<n>" | "ipi:<name>") in the order a booting Linux binds them, CPU by CPU; vCPU 0 uses
    the kernel's boot_order when it has one (linux: arch/x86/xen/smp_pv.c xen_pv_smp_prepare_cpus)."""
    smp = kernel.smp_only if vcpus > 1 else []
    per = kernel.per_vcpu + smp
    boot = per if kernel.boot_order is None else [b for b in kernel.boot_order if b in per]
    return [(v, b) for v in range(vcpus) for b in (boot if v == 0 else per)]


def dom0_binds(profile: Profile, hardware: Hardware) -> list[tuple[str, int, int]]:
    """What dom0 binds at host boot, in order: ("virq", vcpu, n) / ("ipi", vcpu, 0) / ("pirq", 0, p)."""
    out: list[tuple[str, int, int]] = []
    for vcpu, b in kernel_binds(profile.dom0_kernel, hardware.dom0_vcpus):
        kind, _, arg = b.partition(":")
        out.append((kind, vcpu, int(arg) if kind == "virq" else 0))
    out.extend(("virq", 0, v) for v in profile.dom0_kernel.global_virqs)
    out.extend(("pirq", 0, p) for p in hardware.pirq_numbers)
    return out


class FifoTracker:
    """Linux's lazy FIFO event-array growth: a bound port beyond capacity adds pages (reference §5, §12)."""

    @staticmethod
    def init(hv: Hypervisor, domid: int, vcpus: int) -> bool:
        """EVTCHNOP_init_control on every vCPU; False (2-level) when Xen refuses, as Linux falls back."""
        try:
            for v in range(vcpus):
                hv.init_control(domid, _GFN_CONTROL + v, 0, v)
        except XenError:
            return False
        FifoTracker.track(hv, domid, max(1, hv.domains[domid].ports.valid - 1))
        return True

    @staticmethod
    def track(hv: Hypervisor, domid: int, port: int) -> None:
        abi = hv.domains[domid].abi
        if isinstance(abi, Fifo):
            while port >= len(abi.pages) * 1024:
                hv.expand_array(domid, _GFN_ARRAY + len(abi.pages))


def irq_cpus(kernel: KernelFlavour, online: int) -> int:
    """How many online vCPUs the kernel spreads new non-per-CPU channels over: all of them under
    `least_loaded` (Linux >= 5.11), else 1 (everything stays on vCPU 0)."""
    return online if kernel.irq_affinity == "least_loaded" else 1


def channels_on_cpu(hv: Hypervisor, domid: int, cpus: int, skip: tuple[int, ...] = ()) -> list[int]:
    """Linux's channels_on_cpu[] for vCPUs 0..cpus-1: the kernel's bound channels by notify vCPU — every
    non-FREE port except port 0, Xen's own (consumer) ports and `skip` (ports the kernel has not bound yet).
    Derived from the port table, so a host reloaded from the store counts the same."""
    d = hv.domains[domid]
    t = d.ports
    load = [0, *_count_notify(t.notify, cpus, d.max_vcpus)]  # FREE ports keep notify 0
    if t.xen_count:
        for p in range(1, t.high):
            if t.consumer[p] and 0 < t.notify[p] < cpus:
                load[t.notify[p]] -= 1
    load[0] = t.active - t.xen_count - sum(load)
    for p in skip:
        if t.state[p] and not t.consumer[p] and t.notify[p] < cpus:
            load[t.notify[p]] -= 1
    return load


_NUMPY_FROM = 4096  # ports: below this the byte counts are cheaper than importing numpy (the CLI's start-up)


def _count_notify(notify: array[int], cpus: int, bound: int = 65536) -> list[int]:
    """How many ports name each vCPU 1..cpus-1; `bound` is above every entry (the domain's max_vcpus: Xen
    refuses a notify vCPU past it). A big table is counted in one numpy pass; a small one with
    `bytes.count` of (v, 0), which on a little-endian 16-bit column whose entries are all below 256 (high
    bytes zero) can only match whole entries."""
    if len(notify) >= _NUMPY_FROM and notify.itemsize == 2:
        import numpy as np

        column = np.frombuffer(notify, dtype=np.uint16)
        if cpus <= 16:  # a comparison per vCPU beats bincount's widening copy
            return [int(np.count_nonzero(column == v)) for v in range(1, cpus)]
        return [int(c) for c in np.bincount(column, minlength=cpus)[1:cpus]]
    if sys.byteorder != "little" or notify.itemsize != 2:
        return [notify.count(v) for v in range(1, cpus)]
    raw = notify.tobytes()
    if bound > 256:
        high = raw[1::2]
        if high.count(0) != len(high):
            return [notify.count(v) for v in range(1, cpus)]
    return [raw.count(bytes((v, 0))) if v < 256 else 0 for v in range(1, cpus)]  # every entry is < 256


def target_vcpu(hv: Hypervisor, domid: int, cpus: int, skip: tuple[int, ...] = ()) -> int:
    """select_target_cpu(): the online CPU with the fewest channels, the lowest on a tie (strict `<` over
    for_each_cpu_and(dest, online)); the new channel already counts on CPU 0, where bind_evtchn_to_irq_chip
    put it (linux v6.1 drivers/xen/events/events_base.c)."""
    load = channels_on_cpu(hv, domid, cpus, skip)
    return min(range(cpus), key=load.__getitem__)


def settle(
    hv: Hypervisor,
    domid: int,
    port: int,
    *,
    fifo: bool,
    cpus: int = 1,
    skip: tuple[int, ...] = (),
    load: list[int] | None = None,
) -> None:
    """Linux enables the IRQ it bound (request_irq -> irq_startup): unmask, then irq_setup_affinity().
    FIFO event-array pages start masked (Linux pre-masks them); the 2-level model starts with every mask
    bit clear, so there is nothing to unmask (reference §4, §5). The event bind_interdomain leaves pending is
    handled by a later drain (Plumbing.dom0_events).

    With `cpus` > 1 (a Linux >= 5.11 kernel on an SMP domain) the affinity step moves the channel to
    target_vcpu() with EVTCHNOP_bind_vcpu (reference §2.10; linux set_affinity_irq ->
    xen_rebind_evtchn_to_cpu). Pending state does not move (Xen: only notify_vcpu_id changes). A caller
    binding many ports in a row (dom0's boot) passes `load`, channels_on_cpu() before this port, and it
    is kept up to date here instead of counted again."""
    if fifo:
        hv.unmask(domid, port)
    if cpus <= 1:
        if load is not None:
            load[hv.domains[domid].ports.notify[port]] += 1
        return
    notify = hv.domains[domid].ports.notify
    here = notify[port]
    if load is None:
        load = channels_on_cpu(hv, domid, cpus, skip)
    else:
        load[here] += 1
    vcpu = min(range(cpus), key=load.__getitem__)
    if vcpu != here:
        hv.bind_vcpu(domid, port, vcpu)
        load[here] -= 1
        load[vcpu] += 1
