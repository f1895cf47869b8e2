"""Event delivery ABIs: 2-level bitmaps (reference §4) and FIFO queues (reference §5).

    abi = TwoLevel(guest_width=64)           # a new domain starts here
    abi.set_pending(domain, port)            # Xen raising an event
    abi.drain(domain, vcpu)                  # the guest's upcall handler, in Linux's order

Each ABI keeps both Xen's side (what Xen writes) and the guest's side a Linux guest would keep (round-robin
position, cached queue heads), so that `drain` returns events in the order a real guest handles them.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

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
    Virq,
    two_level_limit,
)

if TYPE_CHECKING:
    from evtchn.xen.domain import Domain, Vcpu


class Abi(Protocol):
    name: str
    max_evtchns: int  # max_evtchns(d): 1024 / 4096 under 2L, 131072 under FIFO (reference §1)

    def set_pending(self, d: Domain, port: int) -> None: ...
    def clear_pending(self, d: Domain, port: int) -> None: ...
    def free(self, d: Domain, port: int) -> bool: ...
    def unmask(self, d: Domain, port: int) -> None: ...
    def mask(self, d: Domain, port: int) -> None: ...
    def is_pending(self, d: Domain, port: int) -> bool: ...
    def is_masked(self, d: Domain, port: int) -> bool: ...
    def is_busy(self, d: Domain, port: int) -> bool: ...
    def dump_field(self, d: Domain, port: int) -> str: ...
    def drain(self, d: Domain, vcpu: int) -> list[int]: ...


def mark_events_pending(v: Vcpu) -> None:
    """vcpu_mark_events_pending(): set the upcall flag; a 0→1 edge is a kick (reference §4 step 2)."""
    if not v.upcall_pending:
        v.upcall_pending = True
        v.kicks += 1


def _test_and_set(bits: bytearray, n: int) -> bool:
    byte, bit = n >> 3, 1 << (n & 7)
    old = bits[byte] & bit
    bits[byte] |= bit
    return bool(old)


def _test_and_clear(bits: bytearray, n: int) -> bool:
    byte, bit = n >> 3, 1 << (n & 7)
    old = bits[byte] & bit
    bits[byte] &= ~bit & 0xFF
    return bool(old)


def _test(bits: bytearray, n: int) -> bool:
    return bool(bits[n >> 3] & (1 << (n & 7)))


class TwoLevel:
    """shared_info pending/mask bitmaps, one selector word per vCPU (xen: event_2l.c; linux: events_2l.c)."""

    name = "2-level"
    __slots__ = ("mask_bits", "max_evtchns", "pending_bits", "word_bits")

    def __init__(self, guest_width: int) -> None:
        self.word_bits = guest_width
        self.max_evtchns = limit = two_level_limit(guest_width)
        self.pending_bits = bytearray(limit // 8)
        self.mask_bits = bytearray(limit // 8)

    def _raise(self, d: Domain, port: int) -> None:
        v = d.vcpus[d.ports.notify[port]]
        sel = 1 << (port // self.word_bits)
        if not v.pending_sel & sel:
            v.pending_sel |= sel
            mark_events_pending(v)

    def set_pending(self, d: Domain, port: int) -> None:
        # The hot path of every send: bit operations inlined.
        byte, bit = port >> 3, 1 << (port & 7)
        pending = self.pending_bits
        old = pending[byte]
        if old & bit:
            return  # already pending: coalesced, no upcall
        pending[byte] = old | bit
        if self.mask_bits[byte] & bit:
            return  # masked: the edge is lost; unmask re-checks pending
        v = d.vcpus[d.ports.notify[port]]
        sel = 1 << (port // self.word_bits)
        if not v.pending_sel & sel:
            v.pending_sel |= sel
            if not v.upcall_pending:
                v.upcall_pending = True
                v.kicks += 1

    def clear_pending(self, d: Domain, port: int) -> None:
        self.pending_bits[port >> 3] &= ~(1 << (port & 7)) & 0xFF

    def free(self, d: Domain, port: int) -> bool:
        """A port being freed: clear its pending bit (the mask is the guest's); never busy under 2L."""
        self.pending_bits[port >> 3] &= ~(1 << (port & 7)) & 0xFF
        return False

    def unmask(self, d: Domain, port: int) -> None:
        if _test_and_clear(self.mask_bits, port) and _test(self.pending_bits, port):
            self._raise(d, port)

    def mask(self, d: Domain, port: int) -> None:
        _test_and_set(self.mask_bits, port)

    def is_pending(self, d: Domain, port: int) -> bool:
        return _test(self.pending_bits, port)

    def is_masked(self, d: Domain, port: int) -> bool:
        return _test(self.mask_bits, port)

    def is_busy(self, d: Domain, port: int) -> bool:
        return False

    def dump_field(self, d: Domain, port: int) -> str:
        """The notify vCPU's selector bit for the port's word (reference §9.2)."""
        v = d.vcpus[d.ports.notify[port]]
        return "1" if v.pending_sel >> (port // self.word_bits) & 1 else "0"

    def _active_word(self, d: Domain, vcpu: int, word: int) -> int:
        """Pending, unmasked ports of one word bound to this vCPU (Linux's active_evtchns)."""
        wb = self.word_bits
        nbytes = wb // 8
        lo = word * nbytes
        pend = int.from_bytes(self.pending_bits[lo : lo + nbytes], "little")
        bits = pend & ~int.from_bytes(self.mask_bits[lo : lo + nbytes], "little")
        if not bits:
            return 0
        notify = d.ports.notify
        base = word * wb
        out = 0
        while bits:
            low = bits & -bits
            b = low.bit_length() - 1
            port = base + b
            if port < d.ports.valid and notify[port] == vcpu:
                out |= low
            bits ^= low
        return out

    def drain(self, d: Domain, vcpu: int) -> list[int]:
        """Linux's __xen_evtchn_do_upcall + evtchn_2l_handle_events: timer first, then round robin."""
        v = d.vcpus[vcpu]
        wb = self.word_bits
        handled: list[int] = []

        def handle(port: int) -> None:
            self.clear_pending(d, port)  # the irq chip's ack
            handled.append(port)

        while v.upcall_pending:
            v.upcall_pending = False
            timer = v.virq_to_evtchn[Virq.TIMER]
            if timer and self._active_word(d, vcpu, timer // wb) >> (timer % wb) & 1:
                handle(timer)
            pending_words = v.pending_sel
            v.pending_sel = 0
            start_word, start_bit = v.rr_word, v.rr_bit
            word = start_word
            i = 0
            while pending_words:
                words = pending_words & (~0 << word)
                if not words:
                    word = 0
                    i += 1
                    continue
                word = (words & -words).bit_length() - 1
                pending_bits = self._active_word(d, vcpu, word)
                bit = start_bit if (word == start_word and i == 0) else 0
                while True:
                    bits = pending_bits & (~0 << bit)
                    if not bits:
                        break
                    bit = (bits & -bits).bit_length() - 1
                    handle(word * wb + bit)
                    bit = (bit + 1) % wb
                    v.rr_word = word if bit else (word + 1) % wb
                    v.rr_bit = bit
                    if bit == 0:
                        break
                if word != start_word or i != 0:
                    pending_words &= ~(1 << word)
                word = (word + 1) % wb
                i += 1
        return handled


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
    __slots__ = ("lastq", "max_evtchns", "pages", "saved_pending", "vcpus", "words")

    def __init__(self, nr_vcpus: int) -> None:
        self.max_evtchns = FIFO_MAX_EVTCHNS
        self.words = array("I")
        self.pages: list[int] = []  # the GFN of each event-array page
        self.lastq = array("I")  # per port: last (vCPU, priority) queue it was linked on
        self.saved_pending = bytearray(FIFO_MAX_EVTCHNS // 8)  # evtchn->pending for ports with no word
        self.vcpus = [FifoVcpu() for _ in range(nr_vcpus)]

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
                if _test_and_clear(self.saved_pending, port):
                    self.set_pending(d, port)

    def set_pending(self, d: Domain, port: int) -> None:
        if not self.has_word(port):
            _test_and_set(self.saved_pending, port)
            return
        vid = d.ports.notify[port]
        fv = self.vcpus[vid]
        if fv.control_gfn is None:
            # No control block on that vCPU: dropped before PENDING is set (reference §5 steps 3-4;
            # "evtchn/fifo: Don't set PENDING bit if guest misbehaves", 2022, first in 4.17; Xen 4.4-4.16
            # set PENDING first). Not pending, so a later unmask does not deliver it either.
            return
        words = self.words
        w = words[port]
        words[port] = w | FIFO_PENDING
        linked = True
        prio = d.ports.prio[port]
        if not w & FIFO_MASKED and not w & FIFO_LINKED:
            words[port] |= FIFO_LINKED
            old = self.lastq[port]
            old_fv = self.vcpus[old >> 4]
            if old_fv.tail[old & 15] == port:
                old_fv.tail[old & 15] = 0
            self.lastq[port] = _q(vid, prio)
            linked = False
            tail = fv.tail[prio]
            if tail and words[tail] & FIFO_LINKED:
                # BUSY is held only while Xen rewrites LINK; it is clear again when we return.
                words[tail] = (words[tail] & ~(FIFO_LINK_MASK | FIFO_BUSY)) | port
                linked = True
            if not linked:
                fv.head[prio] = port
            fv.tail[prio] = port
        if not linked and not fv.ready >> prio & 1:
            fv.ready |= 1 << prio
            mark_events_pending(d.vcpus[vid])

    def clear_pending(self, d: Domain, port: int) -> None:
        if self.has_word(port):
            self.words[port] &= ~FIFO_PENDING
        _test_and_clear(self.saved_pending, port)

    def free(self, d: Domain, port: int) -> bool:
        """A port being freed: clear P only; True if its word is still LINKED (busy, reference §3)."""
        _test_and_clear(self.saved_pending, port)
        if port < len(self.words):
            w = self.words[port] & ~FIFO_PENDING
            self.words[port] = w
            return bool(w & FIFO_LINKED)
        return False

    def unmask(self, d: Domain, port: int) -> None:
        if not self.has_word(port):
            return
        self.words[port] &= ~FIFO_MASKED
        if self.words[port] & FIFO_PENDING:
            self.set_pending(d, port)

    def mask(self, d: Domain, port: int) -> None:
        if self.has_word(port):
            self.words[port] |= FIFO_MASKED

    def is_pending(self, d: Domain, port: int) -> bool:
        return self.has_word(port) and bool(self.words[port] & FIFO_PENDING)

    def is_masked(self, d: Domain, port: int) -> bool:
        return not self.has_word(port) or bool(self.words[port] & FIFO_MASKED)

    def is_busy(self, d: Domain, port: int) -> bool:
        return self.has_word(port) and bool(self.words[port] & FIFO_LINKED)

    def dump_field(self, d: Domain, port: int) -> str:
        """`?     `, `%c %-4u` when LINKED, else `%c -   ` (reference §9.2)."""
        if not self.has_word(port):
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
            self.words[port] &= ~FIFO_PENDING  # the irq chip's ack
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
