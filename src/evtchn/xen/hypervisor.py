"""The hypervisor: a domain table and one method per EVTCHNOP, checks in Xen's order (reference §2).

    hv = Hypervisor()
    hv.create_domain(0, privileged=True, max_vcpus=4)
    hv.create_domain(1)
    p = hv.alloc_unbound(caller=1, dom=DOMID_SELF, remote_dom=0)   # a frontend's port
    q = hv.bind_interdomain(caller=0, remote_dom=1, remote_port=p)  # the backend binds it
    hv.send(caller=1, port=p)
    hv.drain(0, vcpu=0)  # -> [q]

Every operation takes the calling domain first, resolves DOMID_SELF, and raises XenError with Xen's errno;
nothing else escapes for bad arguments. Where Xen's answer differs between versions the difference is a
field of HypervisorSettings, defaulting to current Xen.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from heapq import heappop, heappush
from typing import Any

from evtchn.xen.abi import Fifo, FifoVcpu, TwoLevel
from evtchn.xen.constants import (
    DOMID_FIRST_RESERVED,
    DOMID_SELF,
    ECS,
    ECS_TO_STAT,
    FIFO_CONTROL_BLOCK_SIZE,
    FIFO_LINK_BITS,
    FIFO_MAX_EVENT_ARRAY_PAGES,
    FIFO_PRIORITY_DEFAULT,
    FIFO_PRIORITY_MIN,
    NR_VIRQS,
    PAGE_SIZE,
    EvtchnStat,
    VirqClass,
    virq_class,
)
from evtchn.xen.domain import Domain
from evtchn.xen.errors import Errno, XenError
from evtchn.xen.settings import HypervisorSettings

_FREE = int(ECS.FREE)
_RESERVED = int(ECS.RESERVED)
_UNBOUND = int(ECS.UNBOUND)
_INTERDOMAIN = int(ECS.INTERDOMAIN)
_PIRQ = int(ECS.PIRQ)
_VIRQ = int(ECS.VIRQ)
_IPI = int(ECS.IPI)
_PRIO_DEFAULT = FIFO_PRIORITY_DEFAULT
_DOMID_MAX = 0xFFFF


def _arg(op: str, name: str, value: object) -> int:
    """A hypercall argument as a plain int; a value no C struct could carry is EFAULT (copy failure)."""
    if isinstance(value, int):
        return int(value)
    raise XenError(Errno.EFAULT, op, f"{name} must be an integer, not {type(value).__name__} {value!r}")


@dataclass(frozen=True, slots=True)
class EvtchnStatus:
    """struct evtchn_status's output: `dom`/`port` for unbound and interdomain, `pirq`, `virq`."""

    status: EvtchnStat
    vcpu: int
    dom: int = 0
    port: int = 0
    pirq: int = 0
    virq: int = 0


@dataclass(frozen=True, slots=True)
class PortDump:
    """What the 'e' debug key prints for one port (reference §9.2)."""

    port: int
    state: ECS
    notify_vcpu: int
    xen_consumer: int
    pending: bool
    masked: bool
    abi_field: str
    remote_dom: int = 0
    remote_port: int = 0
    pirq: int = 0
    irq: int = 0
    virq: int = 0


class Hypervisor:
    def __init__(self, settings: HypervisorSettings | None = None) -> None:
        self.settings = settings or HypervisorSettings()
        self.domains: dict[int, Domain] = {}
        self.global_virq_handlers: dict[int, int] = {}
        self._xen_consumers: dict[str, int] = {}

    # ------------------------------------------------------------------ snapshot

    def to_state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot of everything: `Hypervisor.from_state(hv.to_state())` is exact."""
        from evtchn.xen.snapshot import to_state

        return to_state(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Hypervisor:
        """Restore a snapshot from to_state(); SnapshotError (a ValueError) if it is not one."""
        from evtchn.xen.snapshot import from_state

        return from_state(cls, state)

    # ------------------------------------------------------------------ domains

    def create_domain(
        self,
        domid: int | None = None,
        *,
        max_vcpus: int = 1,
        guest_width: int = 64,
        max_evtchn_port: int = -1,
        nr_pirqs: int = 0,
        privileged: bool = False,
        is_hvm: bool = False,
        target: int | None = None,
        paused: bool = False,
        pirq_access: frozenset[int] | None = None,
    ) -> Domain:
        """XEN_DOMCTL_createdomain; domid None takes the lowest free one above 0.

        A bad configuration is a ValueError naming the field (this is a domctl, not an EVTCHNOP).
        """
        if domid is None:
            domid = 1
            while domid in self.domains:
                domid += 1
        if not isinstance(domid, int) or not 0 <= domid < DOMID_FIRST_RESERVED:
            raise ValueError(f"domid {domid} is reserved or out of range")
        if domid in self.domains:
            raise ValueError(f"domain {domid} exists")
        d = Domain(
            domid,
            max_vcpus=max_vcpus,
            guest_width=guest_width,
            max_evtchn_port=max_evtchn_port,
            nr_pirqs=nr_pirqs,
            privileged=privileged,
            is_hvm=is_hvm,
            target=target,
            bucket_ports=self.settings.bucket_ports,
            pirq_access=pirq_access,
        )
        d.controller_paused = 1 if paused else 0
        self.domains[domid] = d
        return d

    def domain(self, domid: int) -> Domain:
        """The domain with this id; XenError(ESRCH) if there is none (or the id is not an int)."""
        if type(domid) is int:
            d = self.domains.get(domid)
            if d is not None:
                return d
        return self._lookup("domain", _arg("domain", "domid", domid))

    def pause(self, domid: int) -> None:
        self.domain(domid).controller_paused += 1

    def unpause(self, domid: int) -> None:
        d = self.domain(domid)
        d.controller_paused = max(0, d.controller_paused - 1)

    def kill_domain(self, domid: int) -> None:
        """The dying half of destruction: evtchn_destroy() closes ports from the top down (reference §3)."""
        d = self.domain(domid)
        d.dying = True
        for port in range(d.ports.valid - 1, 0, -1):
            if d.ports.state[port] > _RESERVED:
                self._close(d, port, guest=False)
        for virq, handler in list(self.global_virq_handlers.items()):
            if handler == domid:
                del self.global_virq_handlers[virq]

    def destroy_domain(self, domid: int) -> None:
        """Kill (if not yet dying) and then drop the domain from the table."""
        d = self.domain(domid)
        if not d.dying:
            self.kill_domain(domid)
        del self.domains[domid]

    def set_global_virq_handler(self, domid: int, virq: int) -> None:
        """XEN_DOMCTL_set_virq_handler; 4.21+ refuses with EBUSY while the old handler has it bound."""
        domid = self.domain(domid).domid
        virq = _arg("set_virq_handler", "virq", virq)
        if not 0 <= virq < NR_VIRQS or self._virq_class(virq) is not VirqClass.GLOBAL:
            raise XenError(Errno.EINVAL, "set_virq_handler", f"VIRQ {virq} is not global")
        old = self._virq_handler(virq)
        if (
            self.settings.global_virq_handler_only
            and old is not None
            and old.domid != domid
            and old.vcpus[0].virq_to_evtchn[virq]
        ):
            raise XenError(Errno.EBUSY, "set_virq_handler", f"domain {old.domid} still has VIRQ {virq}")
        self.global_virq_handlers[virq] = domid

    # ------------------------------------------------------------------ helpers

    def _caller(self, op: str, caller: object) -> Domain:
        """The calling domain (current->domain); ESRCH if there is none."""
        if type(caller) is int:
            d = self.domains.get(caller)
            if d is not None:
                return d
        return self._lookup(op, _arg(op, "calling domid", caller))

    def _lookup(self, op: str, domid: int) -> Domain:
        d = self.domains.get(domid)
        if d is None:
            raise XenError(Errno.ESRCH, op, f"no domain {domid}")
        return d

    def _target(self, op: str, caller: Domain, dom: object) -> Domain:
        """A `dom` argument: DOMID_SELF is the caller; ESRCH for a domid no domain has (reference §2)."""
        if type(dom) is not int:
            dom = _arg(op, "domid", dom)
        if dom == DOMID_SELF:
            return caller
        d = self.domains.get(dom)
        if d is None:
            raise XenError(Errno.ESRCH, op, f"no domain {dom}")
        return d

    @staticmethod
    def _xsm_allows(src: Domain, target: Domain) -> bool:
        return src is target or (src.target is not None and src.target == target.domid) or src.privileged

    def _xsm_target(self, op: str, src: Domain, target: Domain) -> None:
        """Dummy XSM_TARGET: the domain itself, its device model, or the control domain (reference §2)."""
        if self._xsm_allows(src, target):
            return
        raise XenError(Errno.EPERM, op, f"domain {src.domid} may not act on domain {target.domid}")

    def _get_free_port(self, op: str, d: Domain) -> int:
        """Alloc errors in order: EINVAL (dying), ENOSPC (reference §2, §3)."""
        if d.dying:
            raise XenError(Errno.EINVAL, op, f"domain {d.domid} is dying")
        port = d.ports.find_free()
        if port is None:
            raise XenError(Errno.ENOSPC, op, f"domain {d.domid} has no free event channel")
        return port

    def _alloc(self, op: str, d: Domain, state: int) -> int:
        """get_free_port() and take it: EINVAL (dying), ENOSPC (reference §2, §3)."""
        if d.dying:
            raise XenError(Errno.EINVAL, op, f"domain {d.domid} is dying")
        port = d.ports.alloc(state)
        if port is None:
            raise XenError(Errno.ENOSPC, op, f"domain {d.domid} has no free event channel")
        return port

    def _valid_port(self, op: str, d: Domain, port: object) -> int:
        """port_is_valid(): EINVAL unless the port lies in an allocated bucket (reference §3)."""
        if type(port) is not int:
            port = _arg(op, "port", port)
        if not 0 <= port < d.ports.valid:
            raise XenError(Errno.EINVAL, op, f"port {port} is not valid in domain {d.domid}")
        return port

    def _vcpu(self, op: str, d: Domain, vcpu: object) -> int:
        """domain_vcpu(): ENOENT for a vCPU the domain does not have."""
        if type(vcpu) is not int:
            vcpu = _arg(op, "vcpu", vcpu)
        if not 0 <= vcpu < d.max_vcpus:
            raise XenError(Errno.ENOENT, op, f"domain {d.domid} has no vCPU {vcpu}")
        return vcpu

    def _virq_class(self, virq: int) -> VirqClass:
        return virq_class(virq, argo_per_domain=self.settings.argo_per_domain)

    def _virq_handler(self, virq: int) -> Domain | None:
        domid = self.global_virq_handlers.get(virq)
        if domid is not None and domid in self.domains:
            return self.domains[domid]
        return self._hardware_domain()

    def _hardware_domain(self) -> Domain | None:
        d = self.domains.get(0)
        return d if d is not None and d.privileged else None

    def _usable(self, d: Domain, port: int) -> bool:
        """evtchn_usable(): not Xen-consumed and not FREE/RESERVED."""
        return not d.ports.consumer[port] and d.ports.state[port] > _RESERVED

    def _set_pending(self, d: Domain, port: int) -> None:
        t = d.ports
        if not t.consumer[port] and t.state[port] > _RESERVED and port < d.abi.max_evtchns:
            d.abi.set_pending(d, port)

    # ------------------------------------------------------------------ EVTCHNOPs

    def alloc_unbound(self, caller: int, dom: int, remote_dom: int) -> int:
        """EVTCHNOP_alloc_unbound (6): ESRCH; alloc errors; EPERM (reference §2.2)."""
        domains = self.domains
        c = domains.get(caller) if caller.__class__ is int else None  # hot path: a live domid
        if c is None:
            c = self._caller("alloc_unbound", caller)
        d = (c if dom == DOMID_SELF else domains.get(dom)) if type(dom) is int else None
        if d is None:
            d = self._target("alloc_unbound", c, dom)
        if type(remote_dom) is not int or not 0 <= remote_dom <= _DOMID_MAX:
            # Xen does not validate the remote, but it must fit a domid_t.
            remote_dom = _arg("alloc_unbound", "remote_dom", remote_dom)
            if not 0 <= remote_dom <= _DOMID_MAX:
                raise XenError(Errno.ESRCH, "alloc_unbound", f"remote domid {remote_dom} is not a domid_t")
        t = d.ports
        if d.dying or (d is not c and not self._xsm_allows(c, d)):
            # Alloc errors come first; a port found before EPERM is released (its bucket stays).
            self._get_free_port("alloc_unbound", d)
            self._xsm_target("alloc_unbound", c, d)
        free = t._free
        port: int | None
        if free and free[0] <= t.limit_port:  # hot path: PortTable.alloc() inlined for a reused port
            port = p = heappop(free)
            t.state[p] = _UNBOUND
        else:
            port = t.alloc(_UNBOUND)
        if port is None:
            raise XenError(Errno.ENOSPC, "alloc_unbound", f"domain {d.domid} has no free event channel")
        t.rdom[port] = c.domid if remote_dom == DOMID_SELF else remote_dom  # the caller's, not `dom`'s
        t.prio[port] = _PRIO_DEFAULT
        return port

    def alloc_unbound_xen(self, dom: int, vcpu: int, remote_dom: int, consumer: str = "ioreq") -> int:
        """alloc_unbound_xen_event_channel(): a Xen-consumer port (ioreq, vm_event) (reference §2.1, §7.1)."""
        d = self.domain(dom)
        vcpu = self._vcpu("alloc_unbound", d, vcpu)
        remote_dom = _arg("alloc_unbound", "remote_dom", remote_dom)
        if not 0 <= remote_dom <= _DOMID_MAX:
            raise XenError(Errno.ESRCH, "alloc_unbound", f"remote domid {remote_dom} is not a domid_t")
        port = self._alloc("alloc_unbound", d, _UNBOUND)
        index = self._xen_consumers.setdefault(consumer, len(self._xen_consumers) + 1)
        t = d.ports
        t.consumer[port] = index
        t.xen_count += 1
        t.notify[port] = vcpu
        t.rdom[port] = remote_dom
        t.prio[port] = _PRIO_DEFAULT
        return port

    def bind_interdomain(self, caller: int, remote_dom: int, remote_port: int) -> int:
        """EVTCHNOP_bind_interdomain (0): ESRCH; alloc errors; EINVAL (reference §2.3)."""
        domains = self.domains
        ld = domains.get(caller) if caller.__class__ is int else None  # hot path: a live domid
        if ld is None:
            ld = self._caller("bind_interdomain", caller)
        rd = (
            (ld if remote_dom == DOMID_SELF else domains.get(remote_dom)) if type(remote_dom) is int else None
        )
        if rd is None:
            rd = self._target("bind_interdomain", ld, remote_dom)
        if type(remote_port) is not int:
            remote_port = _arg("bind_interdomain", "remote_port", remote_port)
        rt = rd.ports
        remote_ok = (
            0 <= remote_port < rt.valid
            and rt.state[remote_port] == _UNBOUND
            and rt.rdom[remote_port] == ld.domid
        )
        lt = ld.ports
        free = lt._free
        lport: int | None
        if remote_ok and free and free[0] <= lt.limit_port and not ld.dying:
            lport = p = heappop(free)  # hot path: PortTable.alloc() inlined for a reused port
            lt.state[p] = _INTERDOMAIN
        else:
            lport = lt.alloc(_INTERDOMAIN) if remote_ok and not ld.dying else None
        if lport is None:
            # Alloc errors in the caller come before the remote port's EINVAL (reference §2.3).
            self._get_free_port("bind_interdomain", ld)
            raise XenError(
                Errno.EINVAL,
                "bind_interdomain",
                f"d{rd.domid} port {remote_port} is not unbound for d{ld.domid}",
            )
        lt.rdom[lport] = rd.domid
        lt.union[lport] = remote_port
        lt.prio[lport] = _PRIO_DEFAULT
        rt.state[remote_port] = _INTERDOMAIN  # its rdom already names the caller (checked above)
        rt.union[remote_port] = lport
        # In case the peer signalled while unbound, the local port is always set pending (on vCPU 0).
        abi = ld.abi
        if type(abi) is TwoLevel:
            # Hot path: TwoLevel.set_pending() inlined. A fresh port is never pending (close clears it).
            byte, bit = lport >> 3, 1 << (lport & 7)
            abi.pending_bits[byte] |= bit
            if not abi.mask_bits[byte] & bit:
                v = ld.vcpus[0]
                sel = 1 << (lport // abi.word_bits)
                if not v.pending_sel & sel:
                    v.pending_sel |= sel
                    if not v.upcall_pending:
                        v.upcall_pending = True
                        v.kicks += 1
        else:
            abi.set_pending(ld, lport)
        return lport

    def bind_virq(self, caller: int, virq: int, vcpu: int) -> int:
        """EVTCHNOP_bind_virq (1): EINVAL; EINVAL; ENOENT; EBUSY (4.21+); EEXIST; alloc (reference §2.4)."""
        d = self._caller("bind_virq", caller)
        virq = _arg("bind_virq", "virq", virq)
        vcpu = _arg("bind_virq", "vcpu", vcpu)
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
        port = self._alloc("bind_virq", d, _VIRQ)
        t.notify[port] = vcpu
        t.union[port] = virq
        t.prio[port] = _PRIO_DEFAULT
        v.virq_to_evtchn[virq] = port
        return port

    def bind_ipi(self, caller: int, vcpu: int) -> int:
        """EVTCHNOP_bind_ipi (7): ENOENT; alloc errors (reference §2.5)."""
        d = self.domains.get(caller) if caller.__class__ is int else None  # hot path: a live domid
        if d is None:
            d = self._caller("bind_ipi", caller)
        if type(vcpu) is not int or not 0 <= vcpu < d.max_vcpus:
            vcpu = self._vcpu("bind_ipi", d, vcpu)
        t = d.ports
        port = t.alloc(_IPI) if not d.dying else None
        if port is None:
            port = self._alloc("bind_ipi", d, _IPI)
        t.notify[port] = vcpu
        t.prio[port] = _PRIO_DEFAULT
        return port

    def bind_pirq(self, caller: int, pirq: int, flags: int = 0) -> int:
        """EVTCHNOP_bind_pirq (2), x86: EINVAL; EPERM; EEXIST; alloc errors (reference §2.6)."""
        d = self._caller("bind_pirq", caller)
        pirq = _arg("bind_pirq", "pirq", pirq)
        _arg("bind_pirq", "flags", flags)
        if not 0 <= pirq < d.nr_pirqs:
            raise XenError(Errno.EINVAL, "bind_pirq", f"PIRQ {pirq} ≥ nr_pirqs {d.nr_pirqs}")
        if not d.is_hvm and d.pirq_access is not None and pirq not in d.pirq_access:
            raise XenError(Errno.EPERM, "bind_pirq", f"domain {d.domid} has no access to PIRQ {pirq}")
        if pirq in d.pirq_to_evtchn:
            raise XenError(Errno.EEXIST, "bind_pirq", f"PIRQ {pirq} already bound")
        t = d.ports
        port = self._alloc("bind_pirq", d, _PIRQ)
        t.union[port] = pirq
        t.prio[port] = _PRIO_DEFAULT
        d.pirq_to_evtchn[pirq] = port
        d.pirq_irq.setdefault(pirq, pirq)
        return port

    def close(self, caller: int, port: int) -> None:
        """EVTCHNOP_close (3): EINVAL for invalid, FREE, RESERVED or Xen-consumer ports (reference §2.7)."""
        d = self.domains.get(caller) if caller.__class__ is int else None  # hot path: a live domid
        if d is None:
            d = self._caller("close", caller)
        t = d.ports
        if port.__class__ is not int or not 0 <= port < t.valid:
            port = self._valid_port("close", d, port)
        if t.consumer[port]:
            raise XenError(Errno.EINVAL, "close", f"port {port} belongs to Xen")
        # The common states inline (this is the hot path); VIRQ and PIRQ unbind in _close().
        state = t.state[port]
        if state == _INTERDOMAIN:
            rt = self.domains[t.rdom[port]].ports
            rport = t.union[port]
            # The remote end returns to unbound, re-bindable only by the closer (its rdom already names
            # the closer: peers point at each other); no event is sent.
            rt.state[rport] = _UNBOUND
            rt.union[rport] = 0
            t.union[port] = 0
        elif state != _UNBOUND and state != _IPI:
            self._close(d, port, guest=True)
            return
        abi = d.abi
        if type(abi) is TwoLevel:
            # Hot path: the 2L free (clear the pending bit, never busy) and PortTable.release() inlined.
            abi.pending_bits[port >> 3] &= ~(1 << (port & 7)) & 0xFF
            t.state[port] = _FREE
            t.notify[port] = 0
            t.rdom[port] = 0  # union is already 0: UNBOUND and IPI never hold one, INTERDOMAIN cleared above
            heappush(t._free, port)
        else:
            t.release(port, port < abi.max_evtchns and abi.free(d, port))

    def _close(self, d: Domain, port: int, *, guest: bool) -> None:
        """evtchn_close(): the guest path refuses Xen-consumer ports; destruction closes them too."""
        t = d.ports
        if guest and t.consumer[port]:
            raise XenError(Errno.EINVAL, "close", f"port {port} belongs to Xen")
        state = t.state[port]
        if state == _INTERDOMAIN:
            rd = self.domains[t.rdom[port]]
            rport = t.union[port]
            rt = rd.ports
            rt.state[rport] = _UNBOUND
            rt.rdom[rport] = d.domid
            rt.union[rport] = 0
        elif state <= _RESERVED:
            raise XenError(Errno.EINVAL, "close", f"port {port} is not open")
        elif state == _VIRQ:
            virq = t.union[port]
            for v in d.vcpus:
                if v.virq_to_evtchn[virq] == port:
                    v.virq_to_evtchn[virq] = 0
        elif state == _PIRQ:
            d.pirq_to_evtchn.pop(t.union[port], None)
        abi = d.abi
        t.release(port, port < abi.max_evtchns and abi.free(d, port))

    def send(self, caller: int, port: int) -> None:
        """EVTCHNOP_send (4): EINVAL for invalid, Xen-consumer, FREE, RESERVED, PIRQ, VIRQ (§2.8)."""
        d = self.domains.get(caller) if caller.__class__ is int else None  # hot path: a live domid
        if d is None:
            d = self._caller("send", caller)
        t = d.ports
        if port.__class__ is not int or not 0 <= port < t.valid:
            port = self._valid_port("send", d, port)
        if t.consumer[port]:
            raise XenError(Errno.EINVAL, "send", f"port {port} belongs to Xen")
        state = t.state[port]
        if state == _INTERDOMAIN:
            rd = self.domains[t.rdom[port]]
            rport = t.union[port]
            rt = rd.ports
            if rt.consumer[rport]:
                rd.xen_notifications[rport] = rd.xen_notifications.get(rport, 0) + 1
            else:
                # A bound peer is always usable and within the ABI.
                abi = rd.abi
                if type(abi) is TwoLevel:
                    # Hot path: TwoLevel.set_pending() inlined (reference §4 steps 1–2).
                    byte, bit = rport >> 3, 1 << (rport & 7)
                    pending = abi.pending_bits
                    old = pending[byte]
                    if old & bit:
                        return  # already pending: coalesced
                    pending[byte] = old | bit
                    if not abi.mask_bits[byte] & bit:
                        v = rd.vcpus[rt.notify[rport]]
                        sel = 1 << (rport // abi.word_bits)
                        if not v.pending_sel & sel:
                            v.pending_sel |= sel
                            if not v.upcall_pending:
                                v.upcall_pending = True
                                v.kicks += 1
                else:
                    abi.set_pending(rd, rport)
        elif state == _IPI:
            self._set_pending(d, port)
        elif state == _UNBOUND:
            return  # silently dropped
        else:
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
        if state == _VIRQ:
            if self._virq_class(t.union[port]) is VirqClass.VCPU:
                raise XenError(Errno.EINVAL, "bind_vcpu", f"port {port} is a per-vCPU VIRQ")
        elif state not in (_UNBOUND, _INTERDOMAIN, _PIRQ):
            raise XenError(Errno.EINVAL, "bind_vcpu", f"port {port} cannot move (state {ECS(state).name})")
        t.notify[port] = vcpu

    def unmask(self, caller: int, port: int) -> None:
        """EVTCHNOP_unmask (9): EINVAL for an invalid port, else 0 (reference §2.11)."""
        d = self._caller("unmask", caller)
        port = self._valid_port("unmask", d, port)
        if self._usable(d, port) and port < d.abi.max_evtchns:
            d.abi.unmask(d, port)

    def reset(self, caller: int, dom: int, *, budget: int | None = None) -> bool:
        """EVTCHNOP_reset (10): ESRCH; EPERM; EINVAL; EBUSY; EAGAIN (reference §2.12).

        Closes every port as the guest would (Xen-consumer ports survive). `budget` models preemption:
        after that many ports it stops and returns False; reset_cont() goes on. True when done.
        """
        d = self._reset_target("reset", caller, dom)
        if d.next_reset:
            raise XenError(Errno.EBUSY, "reset", f"a reset of domain {d.domid} is in progress")
        return self._reset_from(d, 1, budget)

    def reset_cont(self, caller: int, dom: int, *, budget: int | None = None) -> bool:
        """EVTCHNOP_reset_cont (14, Xen-internal): continue a preempted reset."""
        d = self._reset_target("reset_cont", caller, dom)
        if not d.next_reset:
            raise XenError(Errno.EBUSY, "reset_cont", f"no reset of domain {d.domid} is in progress")
        return self._reset_from(d, d.next_reset, budget)

    def _reset_target(self, op: str, caller: int, dom: int) -> Domain:
        c = self._caller(op, caller)
        d = self._target(op, c, dom)
        self._xsm_target(op, c, d)
        if d is not c and not d.controller_paused:
            raise XenError(Errno.EINVAL, op, f"domain {d.domid} is not paused by its controller")
        return d

    def _reset_from(self, d: Domain, start: int, budget: int | None) -> bool:
        if budget is not None and (type(budget) is not int or budget < 1):
            raise XenError(Errno.EINVAL, "reset", f"budget must be a positive integer, not {budget!r}")
        done = 0
        port = start
        t = d.ports
        while port < t.valid:
            if budget is not None and done >= budget:
                d.next_reset = port
                return False
            if t.state[port] > _RESERVED and not t.consumer[port]:
                self._close(d, port, guest=True)
            port += 1
            done += 1
        d.next_reset = 0
        if d.active_evtchns > d.xen_evtchns:
            raise XenError(Errno.EAGAIN, "reset", f"domain {d.domid} opened ports during the reset")
        if d.is_fifo:
            self._to_two_level(d)
        return True

    def _to_two_level(self, d: Domain) -> None:
        d.set_abi(TwoLevel(d.guest_width))
        d.ports.rebuild_free()
        for v in d.vcpus:
            v.pending_sel = 0
            v.upcall_pending = False

    # ------------------------------------------------------------------ FIFO

    def _fifo_available(self, op: str) -> None:
        if not self.settings.fifo_supported:
            errno = Errno.ENOSYS if self.settings.fifo_missing_errno_is_enosys else Errno.EOPNOTSUPP
            raise XenError(errno, op, "FIFO event channels are not available")

    def _check_gfn(self, op: str, d: Domain, gfn: int) -> None:
        """map_guest_page(): EINVAL for a frame the domain does not have."""
        if not 0 <= gfn < d.nr_gfns:
            raise XenError(Errno.EINVAL, op, f"GFN {gfn:#x} is not a page of domain {d.domid}")

    def init_control(self, caller: int, control_gfn: int, offset: int, vcpu: int) -> int:
        """EVTCHNOP_init_control (11) → link_bits 17: EOPNOTSUPP; ENOENT; EINVAL; EINVAL (§2.13)."""
        d = self._caller("init_control", caller)
        control_gfn = _arg("init_control", "control_gfn", control_gfn)
        offset = _arg("init_control", "offset", offset)
        self._fifo_available("init_control")
        vcpu = self._vcpu("init_control", d, vcpu)
        if not 0 <= offset <= PAGE_SIZE - FIFO_CONTROL_BLOCK_SIZE or offset & 7:
            raise XenError(Errno.EINVAL, "init_control", f"offset {offset} crosses the page or is unaligned")
        if isinstance(d.abi, Fifo):
            fv = d.abi.vcpus[vcpu]
            if fv.control_gfn is not None:
                raise XenError(Errno.EINVAL, "init_control", f"vCPU {vcpu} already has a control block")
            self._check_gfn("init_control", d, control_gfn)
            fv.control_gfn = control_gfn
            return FIFO_LINK_BITS
        self._check_gfn("init_control", d, control_gfn)
        old = d.abi
        fifo = Fifo(d.max_vcpus)
        fifo.vcpus[vcpu] = FifoVcpu(control_gfn=control_gfn)
        # setup_ports(): each port's 2L pending bit becomes evtchn->pending; priorities reset to 7.
        assert isinstance(old, TwoLevel)
        t = d.ports
        for port in range(1, min(t.valid, old.max_evtchns)):
            if old.is_pending(d, port):
                fifo.saved_pending[port >> 3] |= 1 << (port & 7)
            t.prio[port] = _PRIO_DEFAULT
        d.set_abi(fifo)
        for v in d.vcpus:
            v.pending_sel = 0
        return FIFO_LINK_BITS

    def expand_array(self, caller: int, array_gfn: int, *, premask: bool = True) -> None:
        """EVTCHNOP_expand_array (12): EOPNOTSUPP; ENOSPC (128 pages); EINVAL (bad GFN) (§2.13).

        `premask` models the guest masking the page's 1024 words before the call, as Linux does.
        """
        d = self._caller("expand_array", caller)
        array_gfn = _arg("expand_array", "array_gfn", array_gfn)
        self._fifo_available("expand_array")
        if not isinstance(d.abi, Fifo):
            raise XenError(Errno.EOPNOTSUPP, "expand_array", f"domain {d.domid} has not set up FIFO")
        if len(d.abi.pages) >= FIFO_MAX_EVENT_ARRAY_PAGES:
            raise XenError(Errno.ENOSPC, "expand_array", "the event array has 128 pages")
        self._check_gfn("expand_array", d, array_gfn)
        d.abi.add_page(d, array_gfn, premask=bool(premask))

    def set_priority(self, caller: int, port: int, priority: int) -> None:
        """EVTCHNOP_set_priority (13): EINVAL; ENOSYS (2L); EACCES (unusable); EINVAL (> 15) (§2.13)."""
        d = self._caller("set_priority", caller)
        port = self._valid_port("set_priority", d, port)
        priority = _arg("set_priority", "priority", priority)
        if not d.is_fifo:
            raise XenError(Errno.ENOSYS, "set_priority", "the 2-level ABI has no priorities")
        if not self._usable(d, port):
            raise XenError(Errno.EACCES, "set_priority", f"port {port} is not usable")
        if not 0 <= priority <= FIFO_PRIORITY_MIN:
            raise XenError(Errno.EINVAL, "set_priority", f"priority {priority} > 15")
        d.ports.prio[port] = priority

    # ------------------------------------------------------------------ Xen-side events

    def raise_virq(self, domid: int, virq: int, vcpu: int = 0) -> bool:
        """send_guest_vcpu_virq / send_global_virq: False when no port is bound (the event is dropped).

        A global VIRQ goes to its handler domain whatever `domid` says (reference §6).
        """
        virq = _arg("raise_virq", "virq", virq)
        vcpu = _arg("raise_virq", "vcpu", vcpu)
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
        if not t.consumer[port] or t.state[port] != _INTERDOMAIN:
            return
        rd = self.domains[t.rdom[port]]
        self._set_pending(rd, t.union[port])

    def raise_pirq(self, domid: int, pirq: int) -> bool:
        """A physical interrupt for the domain: False when the PIRQ has no port (dropped)."""
        d = self.domain(domid)
        port = d.pirq_to_evtchn.get(_arg("raise_pirq", "pirq", pirq))
        if port is None:
            return False
        self._set_pending(d, port)
        return True

    # ------------------------------------------------------------------ guest side

    def mask(self, domid: int, port: int) -> None:
        """The guest setting its own mask bit (2L) or MASKED (FIFO); no hypercall, no errno."""
        d = self.domain(domid)
        port = _arg("mask", "port", port)
        if d.ports.is_valid(port) and port < d.abi.max_evtchns:
            d.abi.mask(d, port)

    def drain(self, domid: int, vcpu: int = 0) -> list[int]:
        """The guest's upcall on one vCPU: the ports it handles, in Linux's order, acknowledged."""
        d = self.domain(domid)
        return d.abi.drain(d, self._vcpu("drain", d, vcpu))

    # ------------------------------------------------------------------ inspection

    def valid_evtchns(self, domid: int) -> int:
        return self.domain(domid).ports.valid

    def is_pending(self, domid: int, port: int) -> bool:
        d = self.domain(domid)
        port = _arg("is_pending", "port", port)
        return d.ports.is_valid(port) and port < d.abi.max_evtchns and d.abi.is_pending(d, port)

    def is_masked(self, domid: int, port: int) -> bool:
        d = self.domain(domid)
        port = _arg("is_masked", "port", port)
        return d.ports.is_valid(port) and port < d.abi.max_evtchns and d.abi.is_masked(d, port)

    def dump_port(self, domid: int, port: int) -> PortDump:
        """One port as the 'e' key prints it; XenError(EINVAL) past valid_evtchns."""
        d = self.domain(domid)
        port = self._valid_port("dump", d, port)
        t = d.ports
        state = ECS(t.state[port])
        in_abi = port < d.abi.max_evtchns
        u = t.union[port]
        pirq = u if state == ECS.PIRQ else 0
        return PortDump(
            port=port,
            state=state,
            notify_vcpu=t.notify[port],
            xen_consumer=t.consumer[port],
            pending=in_abi and d.abi.is_pending(d, port),
            masked=(not in_abi) or d.abi.is_masked(d, port),
            abi_field=d.abi.dump_field(d, port) if in_abi else "?     ",
            remote_dom=t.rdom[port] if state in (ECS.UNBOUND, ECS.INTERDOMAIN) else 0,
            remote_port=u if state == ECS.INTERDOMAIN else 0,
            pirq=pirq,
            irq=d.pirq_irq.get(pirq, pirq) if state == ECS.PIRQ else 0,
            virq=u if state == ECS.VIRQ else 0,
        )

    def dump_domain(self, domid: int) -> Iterator[PortDump]:
        """Ports from 1 while valid, skipping ECS_FREE — the 'e' key's walk (reference §9.2)."""
        d = self.domain(domid)
        for port in range(1, d.ports.valid):
            if d.ports.state[port] != _FREE:
                yield self.dump_port(domid, port)

    def check_invariants(self) -> None:
        """Peers point at each other; counters equal the non-free ports; free ports hold no binding
        (the hot paths rely on it). AssertionError otherwise."""
        for d in self.domains.values():
            t = d.ports
            assert t.state[0] == ECS.RESERVED, f"d{d.domid} port 0 is not reserved"
            for p in range(1, t.valid):
                s = t.state[p]
                if s == _FREE:
                    assert not (t.notify[p] or t.rdom[p] or t.union[p] or t.consumer[p]), (
                        f"d{d.domid}:{p} stale"
                    )
                elif s in (_UNBOUND, _IPI):
                    assert t.union[p] == 0, f"d{d.domid}:{p} {ECS(s).name} holds union {t.union[p]}"
            used = t.used_ports()
            assert t.active == len(used), f"d{d.domid} active {t.active} != {len(used)}"
            xen = sum(1 for p in used if t.consumer[p])
            assert t.xen_count == xen, f"d{d.domid} xen_evtchns {t.xen_count} != {xen}"
            for p in used:
                if t.state[p] == ECS.INTERDOMAIN:
                    rd = self.domains.get(t.rdom[p])
                    assert rd is not None, f"d{d.domid}:{p} peer domain {t.rdom[p]} gone"
                    rp = t.union[p]
                    assert rd.ports.state[rp] == ECS.INTERDOMAIN, f"d{d.domid}:{p} peer not interdomain"
                    assert rd.ports.rdom[rp] == d.domid and rd.ports.union[rp] == p, (
                        f"d{d.domid}:{p} peer d{rd.domid}:{rp} points elsewhere"
                    )
            assert max(used, default=0) <= d.limit_port or d.ports.consumer[max(used)], (
                f"d{d.domid} holds a port past its limit"
            )
