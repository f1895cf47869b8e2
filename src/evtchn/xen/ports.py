"""A domain's port table: columnar storage in lazily grown buckets, lowest free port in O(log n).

    table = PortTable(limit_port=4095, bucket_ports=64)
    port = table.find_free()      # what Xen's linear get_free_port() scan would return
    table.claim(port, ECS.UNBOUND)
    port = table.alloc(ECS.IPI)   # both at once; None means ENOSPC

Xen scans upward from port 0 for the first FREE, non-busy port (reference §3). Here the free ports below
the high-water mark sit in a min-heap, so the answer is the same port without the scan. Per port the
columns hold 11 bytes (Xen's `struct evtchn` is 64): state, notify vCPU, remote domid, a 32-bit union
(peer port / VIRQ / PIRQ), Xen-consumer index and FIFO priority. `active` is derived, not counted: the
ports below the mark that are neither in the heap nor busy. The hottest hypercalls (alloc_unbound,
bind_interdomain, close in evtchn_ops.py) do the common case of alloc_unbound(), alloc_interdomain(),
release() and release_interdomain() inline, on an untracked table only (`t.__class__ is PortTable`):
a tracked table (xen/dirty.py) always goes through these methods, so it sees each change. Keep the
inlined copies in step with the methods. tests/properties checks both against a naive model.

A FREE port holds no binding and the default FIFO priority: evtchn_fifo_init() sets priority 7 at every
bind (reference §5), which is the same as restoring it when the port is freed.
"""

from __future__ import annotations

import heapq
from array import array
from heapq import heappop, heappush

from evtchn.xen.bits import NOWHERE
from evtchn.xen.constants import ECS, FIFO_PRIORITY_DEFAULT


class PortTable:
    __slots__ = (
        "_busy",
        "_dirty",
        "_high",
        "_key",
        "bucket_ports",
        "consumer",
        "free_heap",
        "limit_port",
        "notify",
        "prio",
        "rdom",
        "state",
        "union",
        "valid",
        "xen_count",
    )

    def __init__(self, limit_port: int, bucket_ports: int) -> None:
        self.limit_port = limit_port  # highest port number allocatable now
        self.bucket_ports = bucket_ports
        self.state = bytearray()
        self.notify = array("H")
        self.rdom = array("H")
        self.union = array("I")  # interdomain peer port, VIRQ number or PIRQ number
        self.consumer = bytearray()
        self.prio = bytearray()
        self.valid = 0  # valid_evtchns: ports in allocated buckets
        self._high = 0  # ports below this have been handed out at least once
        self.free_heap: list[int] = []  # FREE, non-busy ports below _high
        self._busy: set[int] = set()  # FREE ports below _high still LINKED in a FIFO queue
        self._dirty: set[int] = NOWHERE  # the hypervisor's dirty set while tracked (xen/dirty.py)
        self._key = 0  # domid << 16 while tracked
        self.xen_count = 0  # Xen-consumer ports
        # Port 0: allocated at creation, then ECS_RESERVED forever (reference §1).
        self.find_free()
        self.claim(0, ECS.RESERVED)

    @property
    def active(self) -> int:
        """active_evtchns: non-FREE ports, port 0 excluded — every port below the mark not free or busy."""
        return self._high - 1 - len(self.free_heap) - len(self._busy)

    def __len__(self) -> int:
        return self.valid

    def is_valid(self, port: int) -> bool:
        """port_is_valid(): inside an allocated bucket (reference §3)."""
        return 0 <= port < self.valid

    def _grow(self) -> None:
        n = self.bucket_ports
        self.state.extend(bytes(n))
        self.notify.extend(array("H", bytes(2 * n)))
        self.rdom.extend(array("H", bytes(2 * n)))
        self.union.extend(array("I", bytes(4 * n)))
        self.consumer.extend(bytes(n))
        self.prio.extend(bytes([FIFO_PRIORITY_DEFAULT]) * n)
        self.valid += n

    def find_free(self) -> int | None:
        """Lowest FREE, non-busy port within the limit, growing a bucket as Xen does; None for ENOSPC.

        Like Xen, a bucket grown here stays even if the caller then fails (valid_evtchns only grows).
        """
        port = self.free_heap[0] if self.free_heap else self._high
        if port > self.limit_port:
            return None
        if port >= self.valid:
            self._grow()
        return port

    def alloc(self, state: int) -> int | None:
        """find_free() and claim() in one step (the hot path); None for ENOSPC."""
        free = self.free_heap
        if free:
            port = free[0]
            if port > self.limit_port:
                return None
            heapq.heappop(free)
        else:
            port = self._high
            if port > self.limit_port:
                return None
            if port >= self.valid:
                self._grow()
            self._high = port + 1
        self.state[port] = state
        return port

    def alloc_unbound(self, rdom: int) -> int | None:
        """alloc() of an UNBOUND port for `rdom` (EVTCHNOP_alloc_unbound's hot path); None for ENOSPC."""
        free = self.free_heap
        if free and free[0] <= self.limit_port:
            port = heappop(free)
            self.state[port] = 2  # ECS_UNBOUND
        else:
            p = self.alloc(ECS.UNBOUND)
            if p is None:
                return None
            port = p
        self.rdom[port] = rdom
        return port

    def alloc_interdomain(self, rdom: int, rport: int, peer: PortTable) -> int | None:
        """alloc() of an INTERDOMAIN port bound to `peer`'s unbound `rport`, and connect() that end
        (EVTCHNOP_bind_interdomain's hot path; the caller checked `rport`); None for ENOSPC."""
        free = self.free_heap
        if free and free[0] <= self.limit_port:
            port = heappop(free)
            self.state[port] = 3  # ECS_INTERDOMAIN
        else:
            p = self.alloc(ECS.INTERDOMAIN)
            if p is None:
                return None
            port = p
        self.rdom[port] = rdom
        self.union[port] = rport
        peer.state[rport] = 3  # peer.connect(rport, port), inlined: this is the hot path
        peer.union[rport] = port
        return port

    def claim(self, port: int, state: int) -> None:
        """Take the port find_free() returned."""
        if self.free_heap and self.free_heap[0] == port:
            heapq.heappop(self.free_heap)
        else:
            assert port == self._high, "claim() takes what find_free() returned"
            self._high += 1
        self.state[port] = state

    def release(self, port: int, busy: bool) -> None:
        """Free a port; a FIFO-busy one (still LINKED) is reused only after unbusy() (reference §3)."""
        self.state[port] = 0  # ECS_FREE
        self.notify[port] = 0
        self.rdom[port] = 0
        self.union[port] = 0
        self.prio[port] = FIFO_PRIORITY_DEFAULT
        if self.consumer[port]:
            self.consumer[port] = 0
            self.xen_count -= 1
        if busy:
            self._busy.add(port)
        else:
            heappush(self.free_heap, port)

    def release_interdomain(self, port: int, busy: bool, peer: PortTable) -> None:
        """release() an INTERDOMAIN port and disconnect() its peer end (EVTCHNOP_close's hot path).

        Both inlined; a bound port holds no Xen consumer (those are closed only by _close())."""
        rport = self.union[port]
        peer.state[rport] = 2  # ECS_UNBOUND, its rdom already names the closer
        peer.union[rport] = 0
        self.state[port] = 0  # ECS_FREE
        self.notify[port] = 0
        self.rdom[port] = 0
        self.union[port] = 0
        self.prio[port] = FIFO_PRIORITY_DEFAULT
        if busy:
            self._busy.add(port)
        else:
            heappush(self.free_heap, port)

    def unbusy(self, port: int) -> None:
        """A FREE port's event word was unlinked by the guest: it may be handed out again."""
        if port in self._busy:
            self._busy.remove(port)
            heapq.heappush(self.free_heap, port)

    def rebuild_free(self, busy: set[int] | None = None) -> None:
        """Recompute the free heap from the state column: every FREE port below the mark except `busy`
        (none when the FIFO state is destroyed)."""
        self._busy = set(busy or ())
        st = self.state
        self.free_heap = [p for p in range(1, self._high) if st[p] == ECS.FREE and p not in self._busy]
        heapq.heapify(self.free_heap)

    def connect(self, port: int, peer_port: int) -> None:
        """The unbound end of a channel another domain binds to: INTERDOMAIN, peer port recorded.

        Its remote domid already names the binder (checked by the caller), so it stays."""
        self.state[port] = ECS.INTERDOMAIN
        self.union[port] = peer_port

    def disconnect(self, port: int, rdom: int) -> None:
        """The surviving end of a closed channel: back to UNBOUND for `rdom` (reference §2.7)."""
        self.state[port] = ECS.UNBOUND
        self.rdom[port] = rdom
        self.union[port] = 0

    def set_notify(self, port: int, vcpu: int) -> None:
        self.notify[port] = vcpu

    def set_priority(self, port: int, priority: int) -> None:
        self.prio[port] = priority

    def attach_dirty(self, sink: set[int], domid: int) -> None:
        """Where a tracked table (xen/dirty.py) records the buckets it changes, keyed by domid."""
        self._dirty = sink
        self._key = domid << 16

    @property
    def high(self) -> int:
        """Ports below this have been handed out at least once (the high-water mark)."""
        return self._high

    def busy_ports(self) -> list[int]:
        """FREE ports still LINKED in a FIFO queue, not reusable until the guest unlinks them."""
        return sorted(self._busy)

    def free_ports(self) -> list[int]:
        """The free ports below the mark, ascending (what the heap holds)."""
        return sorted(self.free_heap)

    @classmethod
    def restore(
        cls,
        limit_port: int,
        bucket_ports: int,
        high: int,
        columns: dict[str, bytearray | array[int]],
        busy: set[int],
    ) -> PortTable:
        """A table from its columns (as the snapshot codec holds them); ValueError if they disagree."""
        t = cls.__new__(cls)
        t.limit_port = limit_port
        t.bucket_ports = bucket_ports
        t._dirty = NOWHERE
        t._key = 0
        t.state = bytearray(columns["state"])
        t.valid = len(t.state)
        t.notify = array("H", columns["notify"])
        t.rdom = array("H", columns["rdom"])
        t.union = array("I", columns["union"])
        t.consumer = bytearray(columns["consumer"])
        t.prio = bytearray(columns["prio"])
        for name in ("notify", "rdom", "union", "consumer", "prio"):
            if len(getattr(t, name)) != t.valid:
                raise ValueError(f"port column {name!r} has {len(getattr(t, name))} entries, not {t.valid}")
        if not 0 < high <= t.valid or bucket_ports < 1 or t.valid % bucket_ports:
            raise ValueError(f"port table mark {high} or bucket size {bucket_ports} does not fit {t.valid}")
        t._high = high
        t.xen_count = high - t.consumer[:high].count(0)  # a FREE port holds no consumer
        t.rebuild_free(busy)
        return t

    def used_ports(self) -> list[int]:
        """Ports that are not FREE, port 0 excluded, ascending."""
        st = self.state
        return [p for p in range(1, self.valid) if st[p] != ECS.FREE]
