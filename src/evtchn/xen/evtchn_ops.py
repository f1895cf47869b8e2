"""The event-channel hypercalls (EVTCHNOP_*, xen/common/event_channel.c; reference §2).

Each takes the calling domain first, resolves DOMID_SELF, and raises XenError with Xen's errno in Xen's
order of checks. The hot paths (alloc_unbound, bind_interdomain, bind_ipi, send, close) test a live
domid and an in-range port inline and fall back to the checking helpers otherwise; per-port storage is
the PortTable's and delivery is the domain's ABI ops table, so nothing here depends on the ABI.
"""

from __future__ import annotations

from dataclasses import dataclass
from heapq import heappop, heappush

from evtchn.xen.constants import (
    DOMID_SELF,
    ECS,
    ECS_TO_STAT,
    FIFO_PRIORITY_DEFAULT,
    NR_VIRQS,
    EvtchnStat,
    VirqClass,
)
from evtchn.xen.core import (
    DOMID_MAX,
    INTERDOMAIN,
    IPI,
    PIRQ,
    UNBOUND,
    VIRQ,
    HypervisorCore,
    arg,
)
from evtchn.xen.errors import Errno, XenError
from evtchn.xen.ports import PortTable


@dataclass(frozen=True, slots=True)
class EvtchnStatus:
    """struct evtchn_status's output: `dom`/`port` for unbound and interdomain, `pirq`, `virq`."""

    status: EvtchnStat
    vcpu: int
    dom: int = 0
    port: int = 0
    pirq: int = 0
    virq: int = 0


class EventChannelOps(HypervisorCore):
    def alloc_unbound(self, caller: int, dom: int, remote_dom: int) -> int:
        """EVTCHNOP_alloc_unbound (6): ESRCH; alloc errors; EPERM (reference §2.2)."""
        domains = self.domains
        try:  # hot path: live domids (a dict subscript; the try costs nothing unless it raises)
            c = domains[caller] if caller.__class__ is int else self._caller("alloc_unbound", caller)
            d = (c if dom == DOMID_SELF else domains[dom]) if dom.__class__ is int else None
        except KeyError:
            c = self._caller("alloc_unbound", caller)
            d = None
        if d is None:
            d = self._target("alloc_unbound", c, dom)
        if remote_dom.__class__ is not int or not 0 <= remote_dom <= DOMID_MAX:
            # Xen does not validate the remote, but it must fit a domid_t.
            remote_dom = arg("alloc_unbound", "remote_dom", remote_dom)
            if not 0 <= remote_dom <= DOMID_MAX:
                raise XenError(Errno.ESRCH, "alloc_unbound", f"remote domid {remote_dom} is not a domid_t")
        if d.dying or (d is not c and not self._xsm_allows(c, d)):
            # Alloc errors come first; a port found before EPERM is released (its bucket stays).
            self._get_free_port("alloc_unbound", d)
            self._xsm_target("alloc_unbound", c, d)
        t = d.ports
        free = t.free_heap
        if t.__class__ is PortTable and free and free[0] <= t.limit_port:
            # The commonest case, PortTable.alloc_unbound inlined: an untracked table reuses a freed port.
            port = heappop(free)
            t.state[port] = 2  # ECS_UNBOUND
            t.rdom[port] = c.domid if remote_dom == DOMID_SELF else remote_dom  # the caller's
            return port
        got = t.alloc_unbound(c.domid if remote_dom == DOMID_SELF else remote_dom)
        if got is None:
            raise XenError(Errno.ENOSPC, "alloc_unbound", f"domain {d.domid} has no free event channel")
        return got

    def alloc_unbound_xen(self, dom: int, vcpu: int, remote_dom: int, consumer: str = "ioreq") -> int:
        """alloc_unbound_xen_event_channel(): a Xen-consumer port (ioreq, vm_event) (reference §2.1, §7.1)."""
        d = self.domain(dom)
        vcpu = self._vcpu("alloc_unbound", d, vcpu)
        remote_dom = arg("alloc_unbound", "remote_dom", remote_dom)
        if not 0 <= remote_dom <= DOMID_MAX:
            raise XenError(Errno.ESRCH, "alloc_unbound", f"remote domid {remote_dom} is not a domid_t")
        port = self._alloc("alloc_unbound", d, UNBOUND)
        t = d.ports
        t.consumer[port] = self.xen_consumer_index(consumer)
        t.xen_count += 1
        t.notify[port] = vcpu
        t.rdom[port] = remote_dom
        return port

    def bind_interdomain(self, caller: int, remote_dom: int, remote_port: int) -> int:
        """EVTCHNOP_bind_interdomain (0): ESRCH; alloc errors; EINVAL (reference §2.3)."""
        domains = self.domains
        try:  # hot path: live domids
            ld = domains[caller] if caller.__class__ is int else self._caller("bind_interdomain", caller)
            rd = (
                (ld if remote_dom == DOMID_SELF else domains[remote_dom])
                if remote_dom.__class__ is int
                else None
            )
        except KeyError:
            ld = self._caller("bind_interdomain", caller)
            rd = None
        if rd is None:
            rd = self._target("bind_interdomain", ld, remote_dom)
        if remote_port.__class__ is not int:
            remote_port = arg("bind_interdomain", "remote_port", remote_port)
        rt = rd.ports
        if (
            0 <= remote_port < rt.valid
            and rt.state[remote_port] == UNBOUND
            and rt.rdom[remote_port] == ld.domid
            and not ld.dying
        ):
            lt = ld.ports
            free = lt.free_heap
            if lt.__class__ is PortTable and rt.__class__ is PortTable and free and free[0] <= lt.limit_port:
                # The commonest case, PortTable.alloc_interdomain inlined (untracked tables, a freed port).
                lport = heappop(free)
                lt.state[lport] = 3  # ECS_INTERDOMAIN
                lt.rdom[lport] = rd.domid
                lt.union[lport] = remote_port
                rt.state[remote_port] = 3  # the unbound end connects
                rt.union[remote_port] = lport
                # In case the peer signalled while unbound, the local port is always set pending (on
                # vCPU 0); a fresh port is usable and within the ABI.
                ld.abi.set_pending(ld, lport)
                return lport
            got = lt.alloc_interdomain(rd.domid, remote_port, rt)
            if got is not None:
                ld.abi.set_pending(ld, got)  # as above
                return got
        # Alloc errors in the caller come before the remote port's EINVAL (reference §2.3).
        self._get_free_port("bind_interdomain", ld)
        raise XenError(
            Errno.EINVAL,
            "bind_interdomain",
            f"d{rd.domid} port {remote_port} is not unbound for d{ld.domid}",
        )

    def bind_virq(self, caller: int, virq: int, vcpu: int) -> int:
        """EVTCHNOP_bind_virq (1): EINVAL; EINVAL; ENOENT; EBUSY (4.21+); EEXIST; alloc (reference §2.4)."""
        d = self._caller("bind_virq", caller)
        virq = arg("bind_virq", "virq", virq)
        vcpu = arg("bind_virq", "vcpu", vcpu)
        if not 0 <= virq < NR_VIRQS:
            raise XenError(Errno.EINVAL, "bind_virq", f"VIRQ {virq} out of range")
        cls = self._virq_class(virq)
        if cls is not VirqClass.VCPU and vcpu != 0:
            raise XenError(Errno.EINVAL, "bind_virq", f"VIRQ {virq} binds on vCPU 0 only")
        self._vcpu("bind_virq", d, vcpu)
        if cls is VirqClass.GLOBAL and self.settings.global_virq_handler_only:
            handler = self._virq_handler(virq)
            if handler is not d:
                raise XenError(Errno.EBUSY, "bind_virq", f"domain {d.domid} is not VIRQ {virq}'s handler")
        v = d.vcpus[vcpu]
        if v.virq_to_evtchn[virq]:
            raise XenError(Errno.EEXIST, "bind_virq", f"VIRQ {virq} already bound on vCPU {vcpu}")
        t = d.ports
        port = self._alloc("bind_virq", d, VIRQ)
        t.notify[port] = vcpu
        t.union[port] = virq
        v.virq_to_evtchn[virq] = port
        return port

    def bind_ipi(self, caller: int, vcpu: int) -> int:
        """EVTCHNOP_bind_ipi (7): ENOENT; alloc errors (reference §2.5)."""
        try:  # hot path: a live domid
            d = self.domains[caller] if caller.__class__ is int else self._caller("bind_ipi", caller)
        except KeyError:
            d = self._caller("bind_ipi", caller)
        if vcpu.__class__ is not int or not 0 <= vcpu < d.max_vcpus:
            vcpu = self._vcpu("bind_ipi", d, vcpu)
        t = d.ports
        port = t.alloc(IPI) if not d.dying else None
        if port is None:
            port = self._alloc("bind_ipi", d, IPI)
        t.notify[port] = vcpu
        return port

    def bind_pirq(self, caller: int, pirq: int, flags: int = 0) -> int:
        """EVTCHNOP_bind_pirq (2), x86: EINVAL; EPERM; EEXIST; alloc errors (reference §2.6)."""
        d = self._caller("bind_pirq", caller)
        pirq = arg("bind_pirq", "pirq", pirq)
        arg("bind_pirq", "flags", flags)
        if not 0 <= pirq < d.nr_pirqs:
            raise XenError(Errno.EINVAL, "bind_pirq", f"PIRQ {pirq} ≥ nr_pirqs {d.nr_pirqs}")
        if not d.is_hvm and d.pirq_access is not None and pirq not in d.pirq_access:
            raise XenError(Errno.EPERM, "bind_pirq", f"domain {d.domid} has no access to PIRQ {pirq}")
        if pirq in d.pirq_to_evtchn:
            raise XenError(Errno.EEXIST, "bind_pirq", f"PIRQ {pirq} already bound")
        port = self._alloc("bind_pirq", d, PIRQ)
        d.ports.union[port] = pirq
        d.pirq_to_evtchn[pirq] = port
        d.pirq_irq.setdefault(pirq, pirq)
        return port

    def close(self, caller: int, port: int) -> None:
        """EVTCHNOP_close (3): EINVAL for invalid, FREE, RESERVED or Xen-consumer ports (reference §2.7)."""
        try:  # hot path: a live domid
            d = self.domains[caller] if caller.__class__ is int else self._caller("close", caller)
        except KeyError:
            d = self._caller("close", caller)
        t = d.ports
        if port.__class__ is not int or not 0 <= port < t.valid:
            port = self._valid_port("close", d, port)
        if t.xen_count and t.consumer[port]:  # (no port is Xen's while xen_count is 0: the common case)
            raise XenError(Errno.EINVAL, "close", f"port {port} belongs to Xen")
        # A guest's open port lies within its ABI (only Xen-consumer ports may outlive a shrink).
        state = t.state[port]
        if state == INTERDOMAIN:
            # The remote end returns to unbound, re-bindable only by the closer; no event is sent.
            busy = d.abi.free(d, port)
            peer = self.domains[t.rdom[port]].ports
            if busy or t.__class__ is not PortTable or peer.__class__ is not PortTable:
                t.release_interdomain(port, busy, peer)
                return
            # The commonest case, PortTable.release_interdomain inlined (untracked tables, not busy).
            rport = t.union[port]
            peer.state[rport] = 2  # ECS_UNBOUND, its rdom already names the closer
            peer.union[rport] = 0
            t.rdom[port] = 0
            t.union[port] = 0
        elif state != UNBOUND and state != IPI:
            self._close(d, port, guest=True)  # VIRQ and PIRQ unbind there; FREE/RESERVED are EINVAL
            return
        else:
            busy = d.abi.free(d, port)
            if busy or t.__class__ is not PortTable:
                t.release(port, busy)
                return
            # The commonest case, PortTable.release inlined (an untracked table, not busy). A 16-bit
            # column read costs less than a write, and these are mostly 0 already (an IPI's, dom0's).
            if t.rdom[port]:
                t.rdom[port] = 0
            if t.union[port]:
                t.union[port] = 0  # (a guest's port here holds no Xen consumer: checked above)
        t.state[port] = 0  # ECS_FREE
        if t.notify[port]:
            t.notify[port] = 0
        t.prio[port] = FIFO_PRIORITY_DEFAULT
        heappush(t.free_heap, port)

    def send(self, caller: int, port: int) -> None:
        """EVTCHNOP_send (4): EINVAL for invalid, Xen-consumer, FREE, RESERVED, PIRQ, VIRQ (§2.8)."""
        try:  # hot path: a live domid
            d = self.domains[caller] if caller.__class__ is int else self._caller("send", caller)
        except KeyError:
            d = self._caller("send", caller)
        t = d.ports
        if port.__class__ is not int or not 0 <= port < t.valid:
            port = self._valid_port("send", d, port)
        if t.xen_count and t.consumer[port]:  # (no port is Xen's while xen_count is 0: the common case)
            raise XenError(Errno.EINVAL, "send", f"port {port} belongs to Xen")
        state = t.state[port]
        if state == INTERDOMAIN:
            rd = self.domains[t.rdom[port]]
            rport = t.union[port]
            rt = rd.ports
            if rt.xen_count and rt.consumer[rport]:
                rd.xen_notifications[rport] = rd.xen_notifications.get(rport, 0) + 1
                self._touch(rd)
            else:
                rd.abi.set_pending(rd, rport)  # a bound peer is always usable and within the ABI
        elif state == IPI:
            self._set_pending(d, port)
        elif state != UNBOUND:  # a send on an unbound port is silently dropped
            raise XenError(Errno.EINVAL, "send", f"port {port} cannot send (state {ECS(state).name})")

    def status(self, caller: int, dom: int, port: int) -> EvtchnStatus:
        """EVTCHNOP_status (5): ESRCH; EINVAL past valid_evtchns; EACCES (4.15–4.18); EPERM (§2.9)."""
        c = self._caller("status", caller)
        d = self._target("status", c, dom)
        port = self._valid_port("status", d, port)
        t = d.ports
        if self.settings.status_eacces_xen_consumer and t.consumer[port]:
            raise XenError(Errno.EACCES, "status", f"port {port} belongs to Xen")
        self._xsm_target("status", c, d)
        state = ECS(t.state[port])
        stat = ECS_TO_STAT[state]
        vcpu = t.notify[port]
        if state == ECS.UNBOUND:
            return EvtchnStatus(stat, vcpu, dom=t.rdom[port])
        if state == ECS.INTERDOMAIN:
            return EvtchnStatus(stat, vcpu, dom=t.rdom[port], port=t.union[port])
        if state == ECS.PIRQ:
            return EvtchnStatus(stat, vcpu, pirq=t.union[port])
        if state == ECS.VIRQ:
            return EvtchnStatus(stat, vcpu, virq=t.union[port])
        return EvtchnStatus(stat, vcpu)

    def bind_vcpu(self, caller: int, port: int, vcpu: int) -> None:
        """EVTCHNOP_bind_vcpu (8): ENOENT; EINVAL (reference §2.10)."""
        d = self._caller("bind_vcpu", caller)
        vcpu = self._vcpu("bind_vcpu", d, vcpu)
        port = self._valid_port("bind_vcpu", d, port)
        t = d.ports
        if t.consumer[port]:
            raise XenError(Errno.EINVAL, "bind_vcpu", f"port {port} belongs to Xen")
        state = t.state[port]
        if state == VIRQ:
            if self._virq_class(t.union[port]) is VirqClass.VCPU:
                raise XenError(Errno.EINVAL, "bind_vcpu", f"port {port} is a per-vCPU VIRQ")
        elif state not in (UNBOUND, INTERDOMAIN, PIRQ):
            raise XenError(Errno.EINVAL, "bind_vcpu", f"port {port} cannot move (state {ECS(state).name})")
        t.set_notify(port, vcpu)

    def unmask(self, caller: int, port: int) -> None:
        """EVTCHNOP_unmask (9): EINVAL for an invalid port, else 0 (reference §2.11)."""
        d = self._caller("unmask", caller)
        port = self._valid_port("unmask", d, port)
        if self._usable(d, port) and port < d.abi.max_evtchns:
            d.abi.unmask(d, port)
