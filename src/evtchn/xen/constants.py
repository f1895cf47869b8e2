"""Numbers fixed by Xen's public ABI (reference §1, §2.1, §6)."""

from __future__ import annotations

import enum

DOMID_FIRST_RESERVED = 0x7FF0
DOMID_SELF = 0x7FF0
DOMID_IO = 0x7FF1
DOMID_XEN = 0x7FF2
DOMID_COW = 0x7FF3
DOMID_INVALID = 0x7FF4
DOMID_ANY = 0x7FF5
DOMID_IDLE = 0x7FFF
# Guests take domids 1 .. DOMID_FIRST_RESERVED-1 (dom0 is 0): at most 32 751 at once (xen: common/domctl.c,
# common/domid.c from 4.21; reference §1 "Reserved domids"). The planner and the toolstack read this.
MAX_GUEST_DOMAINS = DOMID_FIRST_RESERVED - 1

INT_MAX = 2**31 - 1
NR_VIRQS = 24

# 2-level limit is word_bits²; FIFO is 2^EVTCHN_FIFO_LINK_BITS (reference §1).
FIFO_LINK_BITS = 17
FIFO_MAX_EVTCHNS = 1 << FIFO_LINK_BITS
FIFO_PRIORITY_MAX = 0
FIFO_PRIORITY_DEFAULT = 7
FIFO_PRIORITY_MIN = 15
FIFO_MAX_QUEUES = 16
FIFO_EVENT_WORDS_PER_PAGE = 1024
FIFO_MAX_EVENT_ARRAY_PAGES = 128
FIFO_CONTROL_BLOCK_SIZE = 72
PAGE_SIZE = 4096

# Event word bits (reference §1, FIFO constants).
FIFO_PENDING = 1 << 31
FIFO_MASKED = 1 << 30
FIFO_LINKED = 1 << 29
FIFO_BUSY = 1 << 28
FIFO_LINK_MASK = 0x1FFFF

BIND_PIRQ__WILL_SHARE = 1


def two_level_limit(guest_width: int) -> int:
    """max_evtchns(d) under 2L: 1024 for a 32-bit guest, 4096 for a 64-bit one."""
    return guest_width * guest_width


class ShutdownReason(enum.IntEnum):
    """SHUTDOWN_* (xen: include/public/sched.h); `xl list` prints one letter of "-rscwS" for it."""

    POWEROFF = 0
    REBOOT = 1
    SUSPEND = 2
    CRASH = 3
    WATCHDOG = 4
    SOFT_RESET = 5

    @property
    def xl_letter(self) -> str:
        return "-rscwS"[self]


class ECS(enum.IntEnum):
    """Xen-internal channel state; the 'e' dump prints this number as s= (reference §2.1, §9.2)."""

    FREE = 0
    RESERVED = 1
    UNBOUND = 2
    INTERDOMAIN = 3
    PIRQ = 4
    VIRQ = 5
    IPI = 6


class EvtchnStat(enum.IntEnum):
    """What EVTCHNOP_status reports (reference §2.1)."""

    CLOSED = 0
    UNBOUND = 1
    INTERDOMAIN = 2
    PIRQ = 3
    VIRQ = 4
    IPI = 5


ECS_TO_STAT = {
    ECS.FREE: EvtchnStat.CLOSED,
    ECS.RESERVED: EvtchnStat.CLOSED,
    ECS.UNBOUND: EvtchnStat.UNBOUND,
    ECS.INTERDOMAIN: EvtchnStat.INTERDOMAIN,
    ECS.PIRQ: EvtchnStat.PIRQ,
    ECS.VIRQ: EvtchnStat.VIRQ,
    ECS.IPI: EvtchnStat.IPI,
}


class Virq(enum.IntEnum):
    TIMER = 0
    DEBUG = 1
    CONSOLE = 2
    DOM_EXC = 3
    TBUF = 4
    DEBUGGER = 6
    XENOPROF = 7
    CON_RING = 8
    PCPU_STATE = 9
    MEM_EVENT = 10
    ARGO = 11
    ENOMEM = 12
    XENPMU = 13
    ARCH_0 = 16  # x86: VIRQ_MCA


VIRQ_MCA = Virq.ARCH_0


class VirqClass(enum.Enum):
    """V: per vCPU; D: per domain, vCPU 0, movable; G: global, one handler domain (reference §6)."""

    VCPU = "V"
    DOMAIN = "D"
    GLOBAL = "G"


_PER_VCPU = frozenset({Virq.TIMER, Virq.DEBUG, Virq.XENOPROF, Virq.XENPMU})


def virq_class(virq: int, *, argo_per_domain: bool) -> VirqClass:
    """Class of a VIRQ number on x86 (every arch VIRQ is global there); unknown numbers are global."""
    if virq in _PER_VCPU:
        return VirqClass.VCPU
    if virq == Virq.ARGO and argo_per_domain:
        return VirqClass.DOMAIN
    return VirqClass.GLOBAL
