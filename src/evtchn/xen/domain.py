"""A domain as the event-channel code sees it (reference §1, §2).

d = Domain(domid=5, max_vcpus=2, guest_width=64, max_evtchn_port=1023, ...)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evtchn.xen.abi import Abi, Fifo, TwoLevel
from evtchn.xen.constants import INT_MAX, NR_VIRQS, ShutdownReason
from evtchn.xen.dirty import track_domain
from evtchn.xen.ports import PortTable

# vCPU ids live in 16-bit port-table columns; Xen's own ceiling (HVM_MAX_VCPUS etc.) is far lower.
MAX_VCPUS = 4096


@dataclass(slots=True, eq=False)
class Vcpu:
    vcpu_id: int
    virq_to_evtchn: list[int] = field(default_factory=lambda: [0] * NR_VIRQS)
    # vcpu_info (2L): selector word and upcall flag; `kicks` counts 0→1 edges of the flag.
    pending_sel: int = 0
    upcall_pending: bool = False
    kicks: int = 0
    # The guest's 2L round-robin position (Linux per-CPU current_word_idx/current_bit_idx).
    rr_word: int = 0
    rr_bit: int = 0


class Domain:
    __slots__ = (
        "abi",
        "bucket_ports",
        "controller_paused",
        "dirty",
        "domid",
        "dying",
        "guest_width",
        "is_hvm",
        "max_evtchn_port",
        "max_vcpus",
        "next_reset",
        "nr_gfns",
        "nr_pirqs",
        "pirq_access",
        "pirq_irq",
        "pirq_to_evtchn",
        "polling",
        "ports",
        "privileged",
        "shutdown_reason",
        "target",
        "vcpus",
        "xen_notifications",
    )

    def __init__(
        self,
        domid: int,
        *,
        max_vcpus: int = 1,
        guest_width: int = 64,
        max_evtchn_port: int = INT_MAX,
        nr_pirqs: int = 0,
        privileged: bool = False,
        is_hvm: bool = False,
        target: int | None = None,
        nr_gfns: int = 1 << 20,
        bucket_ports: int = 64,
        pirq_access: frozenset[int] | None = None,
    ) -> None:
        if guest_width not in (32, 64):
            raise ValueError(f"guest width must be 32 or 64, not {guest_width!r}")
        if not isinstance(max_vcpus, int) or not 1 <= max_vcpus <= MAX_VCPUS:
            raise ValueError(f"max_vcpus must be an integer from 1 to {MAX_VCPUS}, not {max_vcpus!r}")
        if not isinstance(max_evtchn_port, int):
            raise ValueError(f"max_evtchn_port must be an integer (-1 for no limit), not {max_evtchn_port!r}")
        if not isinstance(nr_pirqs, int) or not 0 <= nr_pirqs <= 0xFFFFFFFF:
            raise ValueError(f"nr_pirqs must be an integer from 0 to 2^32-1, not {nr_pirqs!r}")
        if target is not None and (not isinstance(target, int) or not 0 <= target <= 0xFFFF):
            raise ValueError(f"target must be a domid, not {target!r}")
        self.domid = domid
        self.max_vcpus = max_vcpus
        self.guest_width = guest_width
        # An inclusive port number; -1 means "no limit" and is clamped to INT_MAX (reference §1).
        self.max_evtchn_port = INT_MAX if max_evtchn_port < 0 else min(max_evtchn_port, INT_MAX)
        self.nr_pirqs = nr_pirqs
        self.privileged = privileged
        self.is_hvm = is_hvm
        self.target = target  # the domain this one is a device model for
        self.nr_gfns = nr_gfns
        self.bucket_ports = bucket_ports
        self.pirq_access = pirq_access  # None: every PIRQ (the hardware domain)
        self.dying = False
        self.shutdown_reason: ShutdownReason | None = None  # set by domain_shutdown(); None while up
        self.controller_paused = 0
        self.next_reset = 0
        self.vcpus = [Vcpu(i) for i in range(max_vcpus)]
        self.pirq_to_evtchn: dict[int, int] = {}
        self.pirq_irq: dict[int, int] = {}
        self.polling: set[int] = set()
        self.xen_notifications: dict[int, int] = {}
        self.abi: Abi = TwoLevel(guest_width)
        self.ports = PortTable(self.limit_port, bucket_ports)
        self.dirty: set[int] | None = None  # the hypervisor's dirty set once tracked (xen/dirty.py)

    @property
    def limit_port(self) -> int:
        """Highest allocatable port: min(max_evtchn_port, max_evtchns(d) − 1) (reference §1)."""
        return min(self.max_evtchn_port, self.abi.max_evtchns - 1)

    @property
    def is_fifo(self) -> bool:
        return isinstance(self.abi, Fifo)

    def set_abi(self, abi: Abi) -> None:
        """Switch event ABI (FIFO set-up, reset, a toolstack's 2-level dom0); a tracked domain's new ABI
        is tracked too, and all its ports are dirty (their per-port ABI state was replaced)."""
        self.abi = abi
        self.ports.limit_port = self.limit_port
        if self.dirty is not None:
            track_domain(self, self.dirty)

    @property
    def xl_state(self) -> str:
        """The State column of `xl list` (xen: tools/xl/xl_list.c): r b p s, the shutdown reason's letter
        of "-rscwS", d. The control domain is the one running `xl` ('r'); an idle guest is blocked."""
        down = self.shutdown_reason is not None
        up = not (down or self.dying or self.controller_paused)
        return "".join(
            (
                "r" if up and self.privileged else "-",
                "b" if up and not self.privileged else "-",
                "p" if self.controller_paused else "-",
                "s" if down else "-",
                self.shutdown_reason.xl_letter if self.shutdown_reason is not None else "-",
                "d" if self.dying else "-",
            )
        )

    def has_vcpu(self, vcpu: int) -> bool:
        return 0 <= vcpu < self.max_vcpus

    @property
    def active_evtchns(self) -> int:
        return self.ports.active

    @property
    def xen_evtchns(self) -> int:
        return self.ports.xen_count
