"""The FIFO ABI's ops (xen: common/event_fifo.c; linux: drivers/xen/events/events_fifo.c; reference §5).

An event word per port in guest pages (P, M, L, B bits and a 17-bit LINK), 16 priority queues per vCPU
whose HEADs and READY bits live in the vCPU's control block; Xen keeps each queue's tail. Linking a port
onto a queue writes the old tail's LINK; the guest consumes from the heads.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from evtchn.xen.bits import NOWHERE, mark_events_pending, test_and_clear, test_and_set
from evtchn.xen.constants import (
    FIFO_BUSY,
    FIFO_EVENT_WORDS_PER_PAGE,
    FIFO_LINK_MASK,
    FIFO_LINKED,
    FIFO_MASKED,
    FIFO_MAX_EVTCHNS,
    FIFO_MAX_QUEUES,
    FIFO_PENDING,
    FIFO_PRIORITY_DEFAULT,
)
from evtchn.xen.event_2l import TwoLevel

if TYPE_CHECKING:
    from evtchn.xen.domain import Domain

_P_CLEAR = ~FIFO_PENDING & 0xFFFFFFFF
_M = FIFO_MASKED  # bit 30, below P (bit 31): a word in [_M, P) is masked and not pending
_P_AND_M = FIFO_PENDING | FIFO_MASKED  # a word ≥ this is pending and masked


@dataclass(slots=True)
class FifoVcpu:
    """A vCPU's control block (guest-visible READY/HEAD), Xen's queue tails and the guest's cached heads."""

    control_gfn: int | None = None
    ready: int = 0
    head: list[int] = field(default_factory=lambda: [0] * FIFO_MAX_QUEUES)
    tail: list[int] = field(default_factory=lambda: [0] * FIFO_MAX_QUEUES)
    guest_head: list[int] = field(default_factory=lambda: [0] * FIFO_MAX_QUEUES)


def _q(vcpu: int, prio: int) -> int:
    return vcpu << 4 | prio


class Fifo:
    """Event words, 16 priority queues per vCPU (xen: event_fifo.c; linux: events_fifo.c)."""

    name = "FIFO"
    has_priorities = True
    __slots__ = ("_dirty", "lastq", "max_evtchns", "pages", "saved_pending", "vcpus", "words")

    def __init__(self, nr_vcpus: int) -> None:
        self._dirty: set[int] = NOWHERE  # the hypervisor's dirty set while tracked (xen/dirty.py)
        self.max_evtchns = FIFO_MAX_EVTCHNS
        self.words = array("I")
        self.pages: list[int] = []  # the GFN of each event-array page
        self.lastq = array("I")  # per port: last (vCPU, priority) queue it was linked on
        self.saved_pending = bytearray(FIFO_MAX_EVTCHNS // 8)  # evtchn->pending for ports with no word
        self.vcpus = [FifoVcpu() for _ in range(nr_vcpus)]

    @classmethod
    def setup(cls, d: Domain, vcpu: int, control_gfn: int) -> None:
        """evtchn_fifo_init_control() on a 2-level domain: setup_ports() keeps each port's pending bit
        as evtchn->pending and resets every priority to 7; selector words are no longer used."""
        old = d.abi
        fifo = cls(d.max_vcpus)
        fifo.vcpus[vcpu] = FifoVcpu(control_gfn=control_gfn)
        t = d.ports
        for port in range(1, min(t.valid, old.max_evtchns)):
            if old.is_pending(d, port):
                fifo.saved_pending[port >> 3] |= 1 << (port & 7)
            t.prio[port] = FIFO_PRIORITY_DEFAULT
        d.set_abi(fifo)
        for v in d.vcpus:
            v.pending_sel = 0

    def has_word(self, port: int) -> bool:
        return port < len(self.words)

    def add_page(self, d: Domain, gfn: int, *, premask: bool) -> None:
        """expand_array: the guest pre-masks the new words, then Xen re-raises saved pending events."""
        first = len(self.words)
        self.pages.append(gfn)
        init = FIFO_MASKED if premask else 0
        self.words.extend(array("I", [init]) * FIFO_EVENT_WORDS_PER_PAGE)
        self.lastq.extend(array("I", [_q(0, FIFO_PRIORITY_DEFAULT)]) * FIFO_EVENT_WORDS_PER_PAGE)
        end = min(first + FIFO_EVENT_WORDS_PER_PAGE, d.ports.valid)
        if end > first and any(self.saved_pending[first >> 3 : (end + 7) >> 3]):
            for port in range(first, end):
                if test_and_clear(self.saved_pending, port):
                    self.set_pending(d, port)

    def set_pending(self, d: Domain, port: int) -> None:
        words = self.words
        try:
            w = words[port]
        except IndexError:  # no event word yet: evtchn->pending (zero-cost try on the hot path)
            test_and_set(self.saved_pending, port)
            return
        # P and M are the word's top bits, so comparisons test them (cheaper than bit operations on a
        # two-digit int): the hot paths are a send to a masked port, where only P changes.
        if w >= _P_AND_M:  # already pending, masked: nothing changes
            return
        if _M <= w < FIFO_PENDING:  # masked, not pending
            if self.vcpus[d.ports.notify[port]].control_gfn is not None:
                words[port] = w | FIFO_PENDING
            return
        flags = w >> 28  # P M L B as 8 4 2 1: small-int tests
        vid = d.ports.notify[port]
        fv = self.vcpus[vid]
        if fv.control_gfn is None:
            # No control block on that vCPU: dropped before PENDING is set (reference §5 steps 3-4;
            # "evtchn/fifo: Don't set PENDING bit if guest misbehaves", 2022, first in 4.17; Xen 4.4-4.16
            # set PENDING first). Not pending, so a later unmask does not deliver it either.
            return
        words[port] = w | FIFO_PENDING
        if flags & 2:  # already LINKED
            return
        prio = d.ports.prio[port]
        words[port] |= FIFO_LINKED
        old = self.lastq[port]
        old_fv = self.vcpus[old >> 4]
        if old_fv.tail[old & 15] == port:
            old_fv.tail[old & 15] = 0
        self.lastq[port] = _q(vid, prio)
        tail = fv.tail[prio]
        fv.tail[prio] = port
        if tail and words[tail] & FIFO_LINKED:
            # BUSY is held only while Xen rewrites LINK; it is clear again when we return.
            self._set_link(tail, port)
            return
        fv.head[prio] = port
        if not fv.ready >> prio & 1:
            fv.ready |= 1 << prio
            mark_events_pending(d.vcpus[vid])

    def _set_link(self, port: int, link: int) -> None:
        """Rewrite a linked word's LINK field (try_set_link)."""
        self.words[port] = (self.words[port] & ~(FIFO_LINK_MASK | FIFO_BUSY)) | link

    def clear_pending(self, d: Domain, port: int) -> None:
        if port < len(self.words):
            self.words[port] &= _P_CLEAR
        else:
            test_and_clear(self.saved_pending, port)

    def free(self, d: Domain, port: int) -> bool:
        """A port being freed: clear P only; True if its word is still LINKED (busy, reference §3)."""
        words = self.words
        try:
            w = words[port]
        except IndexError:
            test_and_clear(self.saved_pending, port)
            return False
        if w >= FIFO_PENDING:  # P, the word's top bit
            w &= _P_CLEAR
            words[port] = w
        return w & FIFO_LINKED != 0  # LINKED: busy until the guest unlinks it

    def unmask(self, d: Domain, port: int) -> None:
        if port >= len(self.words):
            return
        self.words[port] &= ~FIFO_MASKED
        if self.words[port] & FIFO_PENDING:
            self.set_pending(d, port)

    def mask(self, d: Domain, port: int) -> None:
        if port < len(self.words):
            self.words[port] |= FIFO_MASKED

    def is_pending(self, d: Domain, port: int) -> bool:
        return port < len(self.words) and bool(self.words[port] & FIFO_PENDING)

    def is_masked(self, d: Domain, port: int) -> bool:
        return port >= len(self.words) or bool(self.words[port] & FIFO_MASKED)

    def is_busy(self, d: Domain, port: int) -> bool:
        return port < len(self.words) and bool(self.words[port] & FIFO_LINKED)

    def attach_dirty(self, sink: set[int]) -> None:
        """Where a tracked ABI (xen/dirty.py) records the buckets whose per-port state it changes."""
        self._dirty = sink

    def reset(self, d: Domain) -> None:
        """EVTCHNOP_reset's ABI step: evtchn_fifo_destroy() then evtchn_2l_init() (reference §2.12).

        The event array is gone, so no port is busy any more and the selector words start clear.
        """
        d.set_abi(TwoLevel(d.guest_width))
        d.ports.rebuild_free()
        for v in d.vcpus:
            v.pending_sel = 0
            v.upcall_pending = False

    def dump_field(self, d: Domain, port: int) -> str:
        """`?     `, `%c %-4u` when LINKED, else `%c -   ` (reference §9.2)."""
        if port >= len(self.words):
            return "?     "
        w = self.words[port]
        busy = "B" if w & FIFO_BUSY else " "
        if w & FIFO_LINKED:
            return f"{busy} {w & FIFO_LINK_MASK:<4}"
        return f"{busy} -   "

    def _consume_one(self, d: Domain, fv: FifoVcpu, prio: int, ready: int, out: list[int]) -> int:
        head = fv.guest_head[prio] or fv.head[prio]
        port = head
        w = self.words[port]
        nxt = w & FIFO_LINK_MASK
        self.words[port] = w & ~(FIFO_LINKED | FIFO_LINK_MASK)
        if nxt == 0:
            ready &= ~(1 << prio)
        if w & FIFO_PENDING and not w & FIFO_MASKED:
            self.words[port] &= _P_CLEAR  # the irq chip's ack
            out.append(port)
        fv.guest_head[prio] = nxt
        if d.ports.state[port] == 0 and port < d.ports.valid:
            d.ports.unbusy(port)  # a closed port is reusable once unlinked (reference §3)
        return ready

    def drain(self, d: Domain, vcpu: int) -> list[int]:
        """Linux's evtchn_fifo_handle_events: one event at a time from the highest-priority ready queue."""
        v = d.vcpus[vcpu]
        fv = self.vcpus[vcpu]
        out: list[int] = []
        while v.upcall_pending:
            v.upcall_pending = False
            ready, fv.ready = fv.ready, 0
            while ready:
                prio = (ready & -ready).bit_length() - 1
                ready = self._consume_one(d, fv, prio, ready, out)
                ready |= fv.ready
                fv.ready = 0
        return out
