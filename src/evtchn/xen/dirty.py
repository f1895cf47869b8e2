"""Dirty tracking: which domains and which 64-port buckets changed since the store last looked.

    hv.track_dirty()              # from now on, every change is recorded (nothing before it)
    ...hypercalls...
    dirty = hv.take_dirty()       # Dirty(created, destroyed, domains={domid: {bucket, ...}})
    rows = hv.export_dirty(dirty) # what to write: globals, each changed domain's record and buckets

A tracked domain's PortTable and ABI objects are switched to the subclasses below (as Xen switches a
domain's ops table), which record the bucket of every port they change in the hypervisor's dirty set and
then do the same work as their base class. An untracked hypervisor pays nothing for this: the hot paths
are the base classes' own. Recording is over-approximate by design (a bucket may be listed that did not
change in the end); it is never under-approximate, which the property test checks by replaying the
exports onto a copy (tests/properties/test_dirty.py).

A key in the dirty set is `domid << 16 | bucket`; bucket HEADER (0xFFFF) means "only domain-level
fields". Any key of a domain makes its whole record (vCPUs, queues, counters, table shape) part of the
export, so changes to those need no key of their own when a port of the domain changed with them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from evtchn.xen.event_2l import TwoLevel
from evtchn.xen.event_fifo import Fifo, FifoVcpu
from evtchn.xen.ports import PortTable

if TYPE_CHECKING:
    from evtchn.xen.domain import Domain

BUCKET_SHIFT = 6
BUCKET_PORTS = 1 << BUCKET_SHIFT  # 64, Xen's EVTCHNS_PER_BUCKET on 64-bit builds since 4.6
HEADER = 0xFFFF


@dataclass(frozen=True)
class Dirty:
    """What changed since the previous take_dirty(): apply `destroyed` first, then `domains`.

    A domid may be in both (destroyed, then created again). A created domain lists all its buckets.
    """

    created: frozenset[int] = frozenset()
    destroyed: frozenset[int] = frozenset()
    domains: dict[int, frozenset[int]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.created or self.destroyed or self.domains)


def port_extent(d: Domain) -> int:
    """Ports that have per-port state: the table's, and under FIFO the event words past it."""
    abi = d.abi
    return max(d.ports.valid, len(abi.words) if isinstance(abi, Fifo) else 0)


def all_buckets(d: Domain) -> frozenset[int]:
    return frozenset(range((port_extent(d) + BUCKET_PORTS - 1) >> BUCKET_SHIFT))


def track_domain(d: Domain, sink: set[int]) -> None:
    """Switch the domain's table and ABI to their recording subclasses and mark all of it dirty."""
    d.dirty = sink
    t = d.ports
    t.attach_dirty(sink, d.domid)
    t.__class__ = TrackedPortTable
    abi = d.abi
    assert isinstance(abi, TwoLevel | Fifo), f"unknown event ABI {type(abi).__name__}"
    abi.attach_dirty(sink)
    abi.__class__ = _TRACKED[type(abi)]
    key = d.domid << 16
    sink.update(key | b for b in all_buckets(d))
    sink.add(key | HEADER)


# ---------------------------------------------------------------------------------------------- tables


class TrackedPortTable(PortTable):
    __slots__ = ()

    def _mark(self, port: int) -> None:
        self._dirty.add(self._key | port >> BUCKET_SHIFT)

    def _grow(self) -> None:
        PortTable._grow(self)
        self._dirty.add(self._key | (self.valid - 1) >> BUCKET_SHIFT)

    def alloc(self, state: int) -> int | None:
        port = PortTable.alloc(self, state)
        if port is not None:
            self._dirty.add(self._key | port >> BUCKET_SHIFT)
        return port

    def alloc_unbound(self, rdom: int) -> int | None:
        port = PortTable.alloc_unbound(self, rdom)
        if port is not None:
            self._dirty.add(self._key | port >> BUCKET_SHIFT)
        return port

    def alloc_interdomain(self, rdom: int, rport: int, peer: PortTable) -> int | None:
        port = PortTable.alloc_interdomain(self, rdom, rport, peer)
        if port is not None:
            self._dirty.add(self._key | port >> BUCKET_SHIFT)
            cast(TrackedPortTable, peer)._mark(rport)
        return port

    def claim(self, port: int, state: int) -> None:
        PortTable.claim(self, port, state)
        self._dirty.add(self._key | port >> BUCKET_SHIFT)

    def release(self, port: int, busy: bool) -> None:
        PortTable.release(self, port, busy)
        self._dirty.add(self._key | port >> BUCKET_SHIFT)

    def release_interdomain(self, port: int, busy: bool, peer: PortTable) -> None:
        cast(TrackedPortTable, peer)._mark(self.union[port])
        PortTable.release_interdomain(self, port, busy, peer)
        self._dirty.add(self._key | port >> BUCKET_SHIFT)

    def unbusy(self, port: int) -> None:
        PortTable.unbusy(self, port)
        self._dirty.add(self._key | HEADER)

    def rebuild_free(self, busy: set[int] | None = None) -> None:
        PortTable.rebuild_free(self, busy)
        self._dirty.add(self._key | HEADER)

    def connect(self, port: int, peer_port: int) -> None:
        PortTable.connect(self, port, peer_port)
        self._dirty.add(self._key | port >> BUCKET_SHIFT)

    def disconnect(self, port: int, rdom: int) -> None:
        PortTable.disconnect(self, port, rdom)
        self._dirty.add(self._key | port >> BUCKET_SHIFT)

    def set_notify(self, port: int, vcpu: int) -> None:
        PortTable.set_notify(self, port, vcpu)
        self._dirty.add(self._key | port >> BUCKET_SHIFT)

    def set_priority(self, port: int, priority: int) -> None:
        PortTable.set_priority(self, port, priority)
        self._dirty.add(self._key | port >> BUCKET_SHIFT)


# ---------------------------------------------------------------------------------------------- ABIs


class TrackedTwoLevel(TwoLevel):
    __slots__ = ()

    def set_pending(self, d: Domain, port: int) -> None:
        self._dirty.add(d.domid << 16 | port >> BUCKET_SHIFT)
        TwoLevel.set_pending(self, d, port)

    def clear_pending(self, d: Domain, port: int) -> None:
        self._dirty.add(d.domid << 16 | port >> BUCKET_SHIFT)
        TwoLevel.clear_pending(self, d, port)

    def free(self, d: Domain, port: int) -> bool:
        self._dirty.add(d.domid << 16 | port >> BUCKET_SHIFT)
        return TwoLevel.free(self, d, port)

    def unmask(self, d: Domain, port: int) -> None:
        self._dirty.add(d.domid << 16 | port >> BUCKET_SHIFT)
        TwoLevel.unmask(self, d, port)

    def mask(self, d: Domain, port: int) -> None:
        self._dirty.add(d.domid << 16 | port >> BUCKET_SHIFT)
        TwoLevel.mask(self, d, port)


class TrackedFifo(Fifo):
    __slots__ = ()

    def add_page(self, d: Domain, gfn: int, *, premask: bool) -> None:
        first = len(self.words)
        Fifo.add_page(self, d, gfn, premask=premask)
        for port in range(first, len(self.words), BUCKET_PORTS):
            self._dirty.add(d.domid << 16 | port >> BUCKET_SHIFT)

    def set_pending(self, d: Domain, port: int) -> None:
        self._dirty.add(d.domid << 16 | port >> BUCKET_SHIFT)
        if port < len(self.words):  # linking rewrites the LINK of the queue's tail
            t = d.ports
            tail = self.vcpus[t.notify[port]].tail[t.prio[port]]
            if tail:
                self._dirty.add(d.domid << 16 | tail >> BUCKET_SHIFT)
        Fifo.set_pending(self, d, port)

    def clear_pending(self, d: Domain, port: int) -> None:
        self._dirty.add(d.domid << 16 | port >> BUCKET_SHIFT)
        Fifo.clear_pending(self, d, port)

    def free(self, d: Domain, port: int) -> bool:
        self._dirty.add(d.domid << 16 | port >> BUCKET_SHIFT)
        return Fifo.free(self, d, port)

    def unmask(self, d: Domain, port: int) -> None:
        self._dirty.add(d.domid << 16 | port >> BUCKET_SHIFT)
        Fifo.unmask(self, d, port)

    def mask(self, d: Domain, port: int) -> None:
        self._dirty.add(d.domid << 16 | port >> BUCKET_SHIFT)
        Fifo.mask(self, d, port)

    def _consume_one(self, d: Domain, fv: FifoVcpu, prio: int, ready: int, out: list[int]) -> int:
        self._dirty.add(d.domid << 16 | (fv.guest_head[prio] or fv.head[prio]) >> BUCKET_SHIFT)
        return Fifo._consume_one(self, d, fv, prio, ready, out)


_TRACKED: dict[type, type] = {
    TwoLevel: TrackedTwoLevel,
    Fifo: TrackedFifo,
    TrackedTwoLevel: TrackedTwoLevel,
    TrackedFifo: TrackedFifo,
}
