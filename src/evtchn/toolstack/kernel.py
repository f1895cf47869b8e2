"""Linux's side of binding: which VIRQs/IPIs a kernel binds per vCPU, and how it enables what it bound.

    kernel_binds(profile.pv_guest_kernel, vcpus=2)   # [(0, "virq:0"), (0, "ipi:resched"), …, (1, …)]
    dom0_binds(profile, hardware)                    # dom0's boot binds: per-vCPU, global VIRQs, PIRQs
    FifoTracker.init(hv, domid, vcpus)               # EVTCHNOP_init_control; False: 2-level fallback

The bind lists are the profile's kernel data (reference §7.3); nothing here branches on a profile's name.
"""

from __future__ import annotations

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


def settle(hv: Hypervisor, domid: int, port: int, *, fifo: bool) -> None:
    """Linux enables the IRQ it bound: unmask. FIFO event-array pages start masked (Linux pre-masks them);
    the 2-level model starts with every mask bit clear, so there is nothing to do (reference §4, §5).
    The event bind_interdomain leaves pending is handled by a later drain (Plumbing.dom0_events)."""
    if fifo:
        hv.unmask(domid, port)
