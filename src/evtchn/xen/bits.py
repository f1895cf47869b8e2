"""Bit helpers shared by the two event ABIs, and the upcall edge (reference §4 step 2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evtchn.xen.domain import Vcpu


# The dirty set of an untracked port table or ABI: never written (only xen/dirty.py's subclasses write).
NOWHERE: set[int] = set()


def mark_events_pending(v: Vcpu) -> None:
    """vcpu_mark_events_pending(): set the upcall flag; a 0→1 edge is a kick (reference §4 step 2)."""
    if not v.upcall_pending:
        v.upcall_pending = True
        v.kicks += 1


def test_and_set(bits: bytearray, n: int) -> bool:
    byte, bit = n >> 3, 1 << (n & 7)
    old = bits[byte] & bit
    bits[byte] |= bit
    return bool(old)


def test_and_clear(bits: bytearray, n: int) -> bool:
    byte, bit = n >> 3, 1 << (n & 7)
    old = bits[byte] & bit
    bits[byte] &= ~bit & 0xFF
    return bool(old)


def test_bit(bits: bytearray, n: int) -> bool:
    return bool(bits[n >> 3] & (1 << (n & 7)))
