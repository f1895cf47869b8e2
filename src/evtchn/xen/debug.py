"""What the 'e' debug key and the inspection tools read, and the model's own invariant check
(xen/common/event_channel.c dump_evtchn_info; reference §9.2)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from evtchn.xen.constants import ECS
from evtchn.xen.core import FREE, INTERDOMAIN, IPI, UNBOUND, HypervisorCore, arg


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


class DebugOutput(HypervisorCore):
    def valid_evtchns(self, domid: int) -> int:
        return self.domain(domid).ports.valid

    def is_pending(self, domid: int, port: int) -> bool:
        d = self.domain(domid)
        port = arg("is_pending", "port", port)
        return d.ports.is_valid(port) and port < d.abi.max_evtchns and d.abi.is_pending(d, port)

    def is_masked(self, domid: int, port: int) -> bool:
        d = self.domain(domid)
        port = arg("is_masked", "port", port)
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
            if d.ports.state[port] != FREE:
                yield self.dump_port(domid, port)

    def check_invariants(self) -> None:
        """Peers point at each other; counters equal the non-free ports; free ports hold no binding
        (the hot paths rely on it). AssertionError otherwise."""
        for d in self.domains.values():
            t = d.ports
            assert t.state[0] == ECS.RESERVED, f"d{d.domid} port 0 is not reserved"
            for p in range(1, t.valid):
                s = t.state[p]
                if s == FREE:
                    assert not (t.notify[p] or t.rdom[p] or t.union[p] or t.consumer[p]), (
                        f"d{d.domid}:{p} stale"
                    )
                elif s in (UNBOUND, IPI):
                    assert t.union[p] == 0, f"d{d.domid}:{p} {ECS(s).name} holds union {t.union[p]}"
            used = t.used_ports()
            assert t.active == len(used), f"d{d.domid} active {t.active} != {len(used)}"
            xen = sum(1 for p in used if t.consumer[p])
            assert t.xen_count == xen, f"d{d.domid} xen_evtchns {t.xen_count} != {xen}"
            for p in used:
                if t.state[p] == INTERDOMAIN:
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
