"""Events raised by Xen itself (VIRQs, PIRQs, Xen-consumer ports) and the guest's own side of delivery
(masking, the upcall handler), all through the domain's ABI ops table (reference §4–§6)."""

from __future__ import annotations

from evtchn.xen.constants import NR_VIRQS, VirqClass
from evtchn.xen.core import INTERDOMAIN, HypervisorCore, arg
from evtchn.xen.errors import Errno, XenError


class Delivery(HypervisorCore):
    def raise_virq(self, domid: int, virq: int, vcpu: int = 0) -> bool:
        """send_guest_vcpu_virq / send_global_virq: False when no port is bound (the event is dropped).

        A global VIRQ goes to its handler domain whatever `domid` says (reference §6).
        """
        virq = arg("raise_virq", "virq", virq)
        vcpu = arg("raise_virq", "vcpu", vcpu)
        if not 0 <= virq < NR_VIRQS:
            raise XenError(Errno.EINVAL, "raise_virq", f"VIRQ {virq} out of range")
        cls = self._virq_class(virq)
        if cls is VirqClass.GLOBAL:
            handler = self._virq_handler(virq)
            if handler is None:
                return False
            d = handler
        else:
            d = self.domain(domid)
        v = vcpu if cls is VirqClass.VCPU else 0
        if not d.has_vcpu(v):
            return False
        port = d.vcpus[v].virq_to_evtchn[virq]
        if not port:
            return False
        self._set_pending(d, port)
        return True

    def notify_via_xen_port(self, domid: int, port: int) -> None:
        """notify_via_xen_event_channel(): Xen (e.g. ioreq) signals the peer of its Xen-consumer port."""
        d = self.domain(domid)
        port = self._valid_port("notify_via_xen", d, port)
        t = d.ports
        if not t.consumer[port] or t.state[port] != INTERDOMAIN:
            return
        rd = self.domains[t.rdom[port]]
        self._set_pending(rd, t.union[port])

    def raise_pirq(self, domid: int, pirq: int) -> bool:
        """A physical interrupt for the domain: False when the PIRQ has no port (dropped)."""
        d = self.domain(domid)
        port = d.pirq_to_evtchn.get(arg("raise_pirq", "pirq", pirq))
        if port is None:
            return False
        self._set_pending(d, port)
        return True

    def mask(self, domid: int, port: int) -> None:
        """The guest setting its own mask bit (2L) or MASKED (FIFO); no hypercall, no errno."""
        d = self.domain(domid)
        port = arg("mask", "port", port)
        if d.ports.is_valid(port) and port < d.abi.max_evtchns:
            d.abi.mask(d, port)

    def drain(self, domid: int, vcpu: int = 0) -> list[int]:
        """The guest's upcall on one vCPU: the ports it handles, in Linux's order, acknowledged."""
        d = self.domain(domid)
        vcpu = self._vcpu("drain", d, vcpu)
        self._touch(d)
        return d.abi.drain(d, vcpu)
