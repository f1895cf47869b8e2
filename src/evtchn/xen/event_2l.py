"""The 2-level ABI's ops (xen: common/event_2l.c; linux: drivers/xen/events/events_2l.c; reference §4).

shared_info holds one pending and one mask bitmap of word_bits² bits; each vCPU's vcpu_info holds a
selector word with one bit per bitmap word, and the upcall flag. A port is raised by setting its pending
bit; if it is unmasked, its word's selector bit on the notify vCPU, then the upcall flag (a kick).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evtchn.xen.bits import NOWHERE, mark_events_pending, test_and_clear, test_and_set, test_bit
from evtchn.xen.constants import Virq, two_level_limit

if TYPE_CHECKING:
    from evtchn.xen.domain import Domain

_CLEAR = tuple(~(1 << b) & 0xFF for b in range(8))  # the byte mask that clears bit b


class TwoLevel:
    """shared_info pending/mask bitmaps, one selector word per vCPU (xen: event_2l.c; linux: events_2l.c)."""

    name = "2-level"
    has_priorities = False  # no set_priority op: EVTCHNOP_set_priority is ENOSYS (reference §2.13)
    __slots__ = ("_dirty", "mask_bits", "max_evtchns", "pending_bits", "word_bits")

    def __init__(self, guest_width: int) -> None:
        self._dirty: set[int] = NOWHERE  # the hypervisor's dirty set while tracked (xen/dirty.py)
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
        bits = self.pending_bits
        byte = port >> 3
        old = bits[byte]
        if old:
            bits[byte] = old & _CLEAR[port & 7]
        return False

    def unmask(self, d: Domain, port: int) -> None:
        if test_and_clear(self.mask_bits, port) and test_bit(self.pending_bits, port):
            self._raise(d, port)

    def mask(self, d: Domain, port: int) -> None:
        test_and_set(self.mask_bits, port)

    def is_pending(self, d: Domain, port: int) -> bool:
        return test_bit(self.pending_bits, port)

    def is_masked(self, d: Domain, port: int) -> bool:
        return test_bit(self.mask_bits, port)

    def is_busy(self, d: Domain, port: int) -> bool:
        return False

    def attach_dirty(self, sink: set[int]) -> None:
        """Where a tracked ABI (xen/dirty.py) records the buckets whose per-port state it changes."""
        self._dirty = sink

    def reset(self, d: Domain) -> None:
        """EVTCHNOP_reset's ABI step: the 2-level bitmaps live in shared_info and stay as they are."""

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
