"""A domain's port table: columnar storage in lazily grown buckets, lowest free port in O(log n).

    table = PortTable(limit_port=4095, bucket_ports=64)
    port = table.find_free()      # what Xen's linear get_free_port() scan would return
    table.claim(port, ECS.UNBOUND)
    port = table.alloc(ECS.IPI)   # both at once; None means ENOSPC

Xen scans upward from port 0 for the first FREE, non-busy port (reference §3). Here the free ports below
the high-water mark sit in a min-heap, so the answer is the same port without the scan. Per port the
columns hold 11 bytes (Xen's `struct evtchn` is 64): state, notify vCPU, remote domid, a 32-bit union
(peer port / VIRQ / PIRQ), Xen-consumer index and FIFO priority. `active` is derived, not counted: the
ports below the mark that are neither in the heap nor busy. The hypervisor's hottest operations inline
alloc() for a reused port and release() under 2L; tests/properties checks them against a naive model.
"""

from __future__ import annotations

import heapq
from array import array

from evtchn.xen.constants import ECS, FIFO_PRIORITY_DEFAULT


class PortTable:
    __slots__ = (
        "_busy",
        "_free",
        "_high",
        "bucket_ports",
        "consumer",
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
        self._free: list[int] = []  # FREE, non-busy ports below _high
        self._busy = 0  # FREE ports below _high still LINKED in a FIFO queue
        self.xen_count = 0  # Xen-consumer ports
        # Port 0: allocated at creation, then ECS_RESERVED forever (reference §1).
        self.find_free()
        self.claim(0, ECS.RESERVED)

    @property
    def active(self) -> int:
        """active_evtchns: non-FREE ports, port 0 excluded — every port below the mark not free or busy."""
        return self._high - 1 - len(self._free) - self._busy

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
        port = self._free[0] if self._free else self._high
        if port > self.limit_port:
            return None
        if port >= self.valid:
            self._grow()
        return port

    def alloc(self, state: int) -> int | None:
        """find_free() and claim() in one step (the hot path); None for ENOSPC."""
        free = self._free
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

    def claim(self, port: int, state: int) -> None:
        """Take the port find_free() returned."""
        if self._free and self._free[0] == port:
            heapq.heappop(self._free)
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
        if self.consumer[port]:
            self.consumer[port] = 0
            self.xen_count -= 1
        if busy:
            self._busy += 1
        else:
            heapq.heappush(self._free, port)

    def unbusy(self, port: int) -> None:
        """A FREE port's event word was unlinked by the guest: it may be handed out again."""
        if self.state[port] == ECS.FREE:
            self._busy -= 1
            heapq.heappush(self._free, port)

    def rebuild_free(self) -> None:
        """Forget busy marks (FIFO state destroyed): every FREE port below the mark is free again."""
        self._free = [p for p in range(1, self._high) if self.state[p] == ECS.FREE]
        heapq.heapify(self._free)
        self._busy = 0

    def used_ports(self) -> list[int]:
        """Ports that are not FREE, port 0 excluded, ascending."""
        st = self.state
        return [p for p in range(1, self.valid) if st[p] != ECS.FREE]
