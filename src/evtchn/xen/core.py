"""What every part of the hypervisor shares: the domain table, argument checks in Xen's order, the dummy
XSM policy, port allocation and evtchn_close() (xen/common/event_channel.c; reference §2, §3).

The hypercall families are mixins over this core (evtchn_ops.py, fifo_control.py, reset.py, domains.py,
delivery.py, debug.py); `Hypervisor` (hypervisor.py) is their sum. Nothing here asks which event ABI a
domain holds: per-port delivery goes through the domain's ops table (abi.py), storage through its
PortTable (ports.py).
"""

from __future__ import annotations

from evtchn.xen.constants import DOMID_SELF, ECS, VirqClass, virq_class
from evtchn.xen.domain import Domain
from evtchn.xen.errors import Errno, XenError
from evtchn.xen.settings import HypervisorSettings

FREE = int(ECS.FREE)
RESERVED = int(ECS.RESERVED)
UNBOUND = int(ECS.UNBOUND)
INTERDOMAIN = int(ECS.INTERDOMAIN)
PIRQ = int(ECS.PIRQ)
VIRQ = int(ECS.VIRQ)
IPI = int(ECS.IPI)
DOMID_MAX = 0xFFFF  # a domid_t


def arg(op: str, name: str, value: object) -> int:
    """A hypercall argument as a plain int; a value no C struct could carry is EFAULT (copy failure)."""
    if isinstance(value, int):
        return int(value)
    raise XenError(Errno.EFAULT, op, f"{name} must be an integer, not {type(value).__name__} {value!r}")


class HypervisorCore:
    def __init__(self, settings: HypervisorSettings | None = None) -> None:
        self.settings = settings or HypervisorSettings()
        self.domains: dict[int, Domain] = {}
        self.global_virq_handlers: dict[int, int] = {}
        self._xen_consumers: dict[str, int] = {}
        self.domid_rover = 0  # the last domid createdomain handed out by itself (xen: common/domctl.c)
        # Dirty tracking (xen/dirty.py): None until track_dirty(); then keys domid << 16 | bucket.
        self._dirty: set[int] | None = None
        self._created: set[int] = set()
        self._destroyed: set[int] = set()

    # ------------------------------------------------------------------ lookups

    def domain(self, domid: int) -> Domain:
        """The domain with this id; XenError(ESRCH) if there is none (or the id is not an int)."""
        if type(domid) is int:
            d = self.domains.get(domid)
            if d is not None:
                return d
        return self._lookup("domain", arg("domain", "domid", domid))

    def xen_consumer_index(self, consumer: str) -> int:
        """The xen_consumer number the 'e' key prints for a Xen-side user of ports (ioreq, vm_event)."""
        return self._xen_consumers.setdefault(consumer, len(self._xen_consumers) + 1)

    def xen_consumers(self) -> dict[str, int]:
        return dict(self._xen_consumers)

    def _touch(self, d: Domain) -> None:
        """A domain-level field changed (not a port): its record is exported at the next take_dirty()."""
        if self._dirty is not None:
            self._dirty.add(d.domid << 16 | 0xFFFF)

    def _caller(self, op: str, caller: object) -> Domain:
        """The calling domain (current->domain); ESRCH if there is none."""
        if type(caller) is int:
            d = self.domains.get(caller)
            if d is not None:
                return d
        return self._lookup(op, arg(op, "calling domid", caller))

    def _lookup(self, op: str, domid: int) -> Domain:
        d = self.domains.get(domid)
        if d is None:
            raise XenError(Errno.ESRCH, op, f"no domain {domid}")
        return d

    def _target(self, op: str, caller: Domain, dom: object) -> Domain:
        """A `dom` argument: DOMID_SELF is the caller; ESRCH for a domid no domain has (reference §2)."""
        if type(dom) is not int:
            dom = arg(op, "domid", dom)
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

    def _valid_port(self, op: str, d: Domain, port: object) -> int:
        """port_is_valid(): EINVAL unless the port lies in an allocated bucket (reference §3)."""
        if type(port) is not int:
            port = arg(op, "port", port)
        if not 0 <= port < d.ports.valid:
            raise XenError(Errno.EINVAL, op, f"port {port} is not valid in domain {d.domid}")
        return port

    def _vcpu(self, op: str, d: Domain, vcpu: object) -> int:
        """domain_vcpu(): ENOENT for a vCPU the domain does not have."""
        if type(vcpu) is not int:
            vcpu = arg(op, "vcpu", vcpu)
        if not 0 <= vcpu < d.max_vcpus:
            raise XenError(Errno.ENOENT, op, f"domain {d.domid} has no vCPU {vcpu}")
        return vcpu

    def _virq_class(self, virq: int) -> VirqClass:
        return virq_class(virq, argo_per_domain=self.settings.argo_per_domain)

    def _virq_handler(self, virq: int) -> Domain | None:
        domid = self.global_virq_handlers.get(virq)
        if domid is not None and domid in self.domains:
            return self.domains[domid]
        d = self.domains.get(0)  # the hardware domain
        return d if d is not None and d.privileged else None

    # ------------------------------------------------------------------ ports

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

    def _usable(self, d: Domain, port: int) -> bool:
        """evtchn_usable(): not Xen-consumed and not FREE/RESERVED."""
        return not d.ports.consumer[port] and d.ports.state[port] > RESERVED

    def _set_pending(self, d: Domain, port: int) -> None:
        t = d.ports
        if not t.consumer[port] and t.state[port] > RESERVED and port < d.abi.max_evtchns:
            d.abi.set_pending(d, port)

    def _close(self, d: Domain, port: int, *, guest: bool) -> None:
        """evtchn_close(): the guest path refuses Xen-consumer ports; destruction closes them too."""
        t = d.ports
        if guest and t.consumer[port]:
            raise XenError(Errno.EINVAL, "close", f"port {port} belongs to Xen")
        state = t.state[port]
        if state == INTERDOMAIN:
            self.domains[t.rdom[port]].ports.disconnect(t.union[port], d.domid)
        elif state <= RESERVED:
            raise XenError(Errno.EINVAL, "close", f"port {port} is not open")
        elif state == VIRQ:
            virq = t.union[port]
            for v in d.vcpus:
                if v.virq_to_evtchn[virq] == port:
                    v.virq_to_evtchn[virq] = 0
        elif state == PIRQ:
            d.pirq_to_evtchn.pop(t.union[port], None)
        abi = d.abi
        t.release(port, port < abi.max_evtchns and abi.free(d, port))
