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

The class is the sum of one mixin per concern, each over the shared core (core.py):
evtchn_ops.py (EVTCHNOP_*), fifo_control.py (FIFO set-up and priorities), reset.py (EVTCHNOP_reset),
domains.py (domctls), delivery.py (Xen-raised events, guest masking and upcalls), debug.py ('e' dump).
"""

from __future__ import annotations

from typing import Any

from evtchn.xen.debug import DebugOutput, PortDump
from evtchn.xen.delivery import Delivery
from evtchn.xen.dirty import HEADER, Dirty, all_buckets, track_domain
from evtchn.xen.domains import DomainControl
from evtchn.xen.evtchn_ops import EventChannelOps, EvtchnStatus
from evtchn.xen.fifo_control import FifoControl
from evtchn.xen.reset import ResetOps

__all__ = ["Dirty", "EvtchnStatus", "Hypervisor", "PortDump"]


class Hypervisor(EventChannelOps, FifoControl, ResetOps, DomainControl, Delivery, DebugOutput):
    def to_state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot of everything: `Hypervisor.from_state(hv.to_state())` is exact."""
        from evtchn.xen.snapshot import to_state

        return to_state(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Hypervisor:
        """Restore a snapshot from to_state(); SnapshotError (a ValueError) if it is not one."""
        from evtchn.xen.snapshot import from_state

        return from_state(cls, state)

    # ------------------------------------------------------------------ dirty tracking (xen/dirty.py)

    def track_dirty(self) -> None:
        """Record every change from now on (an untracked hypervisor records nothing and pays nothing)."""
        if self._dirty is None:
            self._dirty = set()
            for d in self.domains.values():
                track_domain(d, self._dirty)
        self._dirty.clear()
        self._created.clear()
        self._destroyed.clear()

    def take_dirty(self) -> Dirty:
        """What changed since the last call (or since track_dirty()), and start afresh.

        Untracked, it answers "everything" (every domain created, all buckets) and starts tracking.
        """
        if self._dirty is None:
            self.track_dirty()
            return Dirty(
                created=frozenset(self.domains),
                domains={i: all_buckets(d) for i, d in self.domains.items()},
            )
        changed: dict[int, set[int]] = {}
        for key in self._dirty:
            buckets = changed.setdefault(key >> 16, set())
            if key & 0xFFFF != HEADER:
                buckets.add(key & 0xFFFF)
        for domid in self._created:
            changed[domid] = set(all_buckets(self.domains[domid]))
        dirty = Dirty(
            created=frozenset(self._created),
            destroyed=frozenset(self._destroyed),
            domains={i: frozenset(b) for i, b in changed.items() if i in self.domains},
        )
        self._dirty.clear()
        self._created.clear()
        self._destroyed.clear()
        return dirty

    def export_dirty(self, dirty: Dirty) -> dict[str, Any]:
        """The records and buckets `dirty` names, JSON-ready (xen/delta.py); apply_export() replays it."""
        from evtchn.xen.delta import export_dirty

        return export_dirty(self, dirty)

    def apply_export(self, export: dict[str, Any]) -> None:
        """Replay an export_dirty() (or export_all()) onto this hypervisor."""
        from evtchn.xen.delta import apply_export

        apply_export(self, export)
