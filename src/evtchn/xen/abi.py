"""The event ABIs' ops table (Xen's `struct evtchn_port_ops`): 2-level (reference §4) and FIFO (§5).

    abi = TwoLevel(guest_width=64)           # a new domain starts here (event_2l.py)
    abi.set_pending(domain, port)            # Xen raising an event
    abi.drain(domain, vcpu)                  # the guest's upcall handler, in Linux's order

The generic event-channel code holds a domain's ABI only through this protocol and never asks which one
it is: each ABI keeps both Xen's side (what Xen writes) and the guest's side a Linux guest would keep
(round-robin position, cached queue heads), so that `drain` returns events in the order a real guest
handles them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from evtchn.xen.bits import mark_events_pending
from evtchn.xen.event_2l import TwoLevel
from evtchn.xen.event_fifo import Fifo, FifoVcpu

if TYPE_CHECKING:
    from evtchn.xen.domain import Domain

__all__ = ["Abi", "Fifo", "FifoVcpu", "TwoLevel", "mark_events_pending"]


class Abi(Protocol):
    name: str
    max_evtchns: int  # max_evtchns(d): 1024 / 4096 under 2L, 131072 under FIFO (reference §1)
    has_priorities: bool  # the ops table has set_priority (FIFO); else EVTCHNOP_set_priority is ENOSYS

    def set_pending(self, d: Domain, port: int) -> None: ...
    def clear_pending(self, d: Domain, port: int) -> None: ...
    def free(self, d: Domain, port: int) -> bool: ...
    def unmask(self, d: Domain, port: int) -> None: ...
    def mask(self, d: Domain, port: int) -> None: ...
    def is_pending(self, d: Domain, port: int) -> bool: ...
    def is_masked(self, d: Domain, port: int) -> bool: ...
    def is_busy(self, d: Domain, port: int) -> bool: ...
    def reset(self, d: Domain) -> None: ...
    def attach_dirty(self, sink: set[int]) -> None: ...
    def dump_field(self, d: Domain, port: int) -> str: ...
    def drain(self, d: Domain, vcpu: int) -> list[int]: ...
