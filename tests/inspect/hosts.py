"""Simulated hosts for the inspection tests, plumbed by hand through the Hypervisor API."""

from __future__ import annotations

from evtchn.xen import DOMID_SELF, Hypervisor, HypervisorSettings


def dom0_host(
    version: tuple[int, int] = (4, 22), *, baseline: int = 50, vcpus: int = 2, fifo_pages: int = 0
) -> Hypervisor:
    """dom0 with `baseline` ports of its own: per-vCPU timer VIRQs and IPIs, then IPIs as filler.
    `fifo_pages` > 0 switches dom0 to FIFO with that many event-array pages (1024 ports each)."""
    hv = Hypervisor(HypervisorSettings(xen_version=version))
    hv.create_domain(0, privileged=True, max_vcpus=vcpus, nr_pirqs=64)
    if fifo_pages:
        hv.init_control(0, 1, 0, 0)
        for gfn in range(2, 2 + fifo_pages):
            hv.expand_array(0, gfn)
    used = 0
    for v in range(vcpus):
        hv.bind_virq(0, 0, v)
        used += 1
    while used < baseline:
        hv.bind_ipi(0, used % vcpus)
        used += 1
    return hv


def pv_guest(hv: Hypervisor, domid: int, *, backend_order: tuple[int, ...] = (1, 2, 0, 3)) -> dict[str, int]:
    """A PV guest as the seed shows it (reference §10): guest ports store, console, VIRQ 0, IPI, IPI,
    VIRQ 1, IPI, then four device frontends that dom0 binds in `backend_order`. Returns dom0's ports."""
    hv.create_domain(domid)
    store = hv.alloc_unbound(0, domid, 0)  # the toolstack allocates these in the guest (§7.1)
    console = hv.alloc_unbound(0, domid, 0)
    hv.bind_virq(domid, 0, 0)
    hv.bind_ipi(domid, 0)
    hv.bind_ipi(domid, 0)
    hv.bind_virq(domid, 1, 0)
    hv.bind_ipi(domid, 0)
    fronts = [hv.alloc_unbound(domid, DOMID_SELF, 0) for _ in range(4)]
    out = {"store": hv.bind_interdomain(0, domid, store), "console": hv.bind_interdomain(0, domid, console)}
    for i in backend_order:
        out[f"dev{i}"] = hv.bind_interdomain(0, domid, fronts[i])
    return out


def pv_guest_partial(hv: Hypervisor, domid: int, *, connect: int) -> int:
    """A PV guest started on a dom0 that ran out (reference §8.3a): store and console bind, then only
    `connect` of its four frontends; the rest stay waiting for dom0. Returns the dom0 ports it holds."""
    hv.create_domain(domid)
    store = hv.alloc_unbound(0, domid, 0)
    console = hv.alloc_unbound(0, domid, 0)
    hv.bind_virq(domid, 0, 0)
    hv.bind_ipi(domid, 0)
    fronts = [hv.alloc_unbound(domid, DOMID_SELF, 0) for _ in range(4)]
    hv.bind_interdomain(0, domid, store)
    hv.bind_interdomain(0, domid, console)
    for port in fronts[:connect]:
        hv.bind_interdomain(0, domid, port)
    return 2 + connect
