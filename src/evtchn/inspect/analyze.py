"""What a captured dump says about dom0's event channels and how many more VMs fit (reference §7, §9, §10).

    a = analyze(parse_file("lsevtchn-0.txt"), vm_cost=7)
    a.by_kind            # {"interdomain": 3650, "virq": 30, ...}
    a.held_by_domain     # {5: 7, 6: 7, ...}: dom0 ports each remote domain holds
    a.free, a.headroom   # ports left under the ABI limit, and VMs of the given cost that still fit

Counting lines by "Remote Domain" attributes dom0 ports to VMs (§9.1); the limit is the number of usable
ports under dom0's ABI (§1): 1023 (2-level, 32-bit), 4095 (2-level, 64-bit) or 131071 (FIFO).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evtchn.inspect.model import Dump, Kind, Source, Table

ABI_LIMITS = {"2l-32": 1023, "2l-64": 4095, "fifo": 131071}
# dom0's table, most trusted first: the hypervisor's own view, lsevtchn's, then Linux's IRQs.
_PREFERENCE = (Source.EDUMP, Source.LSEVTCHN, Source.INTERRUPTS)


@dataclass(slots=True)
class GuestSummary:
    """A non-dom0 table: how many of its ports are connected to dom0 and which dom0 ports they use."""

    domid: int | None
    source: str
    ports: int
    to_dom0: int
    waiting_dom0: int
    dom0_ports: list[int]


@dataclass(slots=True)
class Analysis:
    dom0_source: str | None
    dom0_total: int | None
    by_kind: dict[str, int]
    interdomain_by_domain: dict[int, int]
    unbound_by_domain: dict[int, int]
    held_by_domain: dict[int, int]
    unattributed: int
    by_consumer: dict[str, int]
    abi: str
    abi_inferred: bool
    limit: int
    free: int | None
    vm_cost: int | None
    vm_cost_source: str
    headroom: int | None
    guests: list[GuestSummary] = field(default_factory=list)
    bad_lines: int = 0
    cut_lines: int = 0
    notes: list[str] = field(default_factory=list)
    dom0_partial: bool = False  # dom0's table lost its head to a wrapped console ring

    def below(self, min_free: int) -> bool:
        """True when the VM headroom is known and under `min_free` VMs."""
        return self.headroom is not None and self.headroom < min_free

    def to_json(self) -> dict[str, Any]:
        return {
            "dom0": {
                "source": self.dom0_source,
                "total": self.dom0_total,
                "partial": self.dom0_partial,
                "by_kind": self.by_kind,
                "interdomain_by_domain": {str(k): v for k, v in self.interdomain_by_domain.items()},
                "unbound_by_domain": {str(k): v for k, v in self.unbound_by_domain.items()},
                "held_by_domain": {str(k): v for k, v in self.held_by_domain.items()},
                "unattributed": self.unattributed,
                "by_consumer": self.by_consumer,
            },
            "abi": self.abi,
            "abi_inferred": self.abi_inferred,
            "limit": self.limit,
            "free": self.free,
            "vm_cost": self.vm_cost,
            "vm_cost_source": self.vm_cost_source,
            "headroom_vms": self.headroom,
            "guests": [
                {
                    "domid": g.domid,
                    "source": g.source,
                    "ports": g.ports,
                    "to_dom0": g.to_dom0,
                    "waiting_dom0": g.waiting_dom0,
                    "dom0_ports": g.dom0_ports,
                }
                for g in self.guests
            ],
            "bad_lines": self.bad_lines,
            "cut_lines": self.cut_lines,
            "notes": self.notes,
        }


def pick_dom0(dump: Dump) -> Table | None:
    """dom0's table: from the 'e' dump, else lsevtchn, else /proc/interrupts; the latest of a kind."""
    for source in _PREFERENCE:
        found = [t for t in dump.tables if t.source is source and t.domid == 0]
        if found:
            return found[-1]
    return None


def infer_abi(dom0: Table | None) -> tuple[str, str]:
    """(abi, reason): FIFO when the 'e' dump's ABI field says so or a port is ≥ 4096; else 2-level."""
    if dom0 is not None and dom0.fifo:
        return "fifo", "the 'e' dump's ABI field is FIFO's"
    top = int(dom0.port.max()) if dom0 is not None and len(dom0) else 0
    if top >= 4096:
        return "fifo", f"dom0 uses port {top}, beyond 2-level's 4095"
    if top >= 1024:
        return "2l-64", f"dom0 uses port {top}, beyond 32-bit 2-level's 1023"
    return "2l-64", "assumed a 64-bit 2-level dom0 (pass --abi to choose)"


def _counts(values: np.ndarray) -> dict[int, int]:
    values = values[values >= 0]
    if values.size == 0:
        return {}
    v, c = np.unique(values, return_counts=True)
    return {int(a): int(b) for a, b in zip(v.tolist(), c.tolist(), strict=True)}


# dom0's per-CPU VIRQ and IPI actions, "timer0", "resched1", … (reference §9.3): one consumer across CPUs.
_PER_CPU = re.compile(r"^(timer|resched|callfunc|callfuncsingle|debug|spinlock|irqwork)\d+$")


def _consumer(name: str) -> str:
    if name.startswith("evtchn:"):
        return name
    if name.startswith("vif"):
        return "netback (vif)"
    if name.startswith("blkif"):
        return "blkback"
    per_cpu = _PER_CPU.match(name)
    return per_cpu.group(1) if per_cpu else name or "?"


def most_common_cost(held: dict[int, int]) -> tuple[int | None, str]:
    """The per-VM dom0 cost most domains show; ties go to the larger cost (the cautious answer)."""
    if not held:
        return None, "no remote domain in the dump"
    counts = Counter(held.values())
    best = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
    return best[0], f"most common in the dump ({best[1]} of {len(held)} domains)"


def analyze(
    dump: Dump,
    *,
    abi: str | None = None,
    vm_cost: int | None = None,
    vm_cost_source: str = "",
) -> Analysis:
    """Summarise dom0's ports; `vm_cost` (from a spec or the user) else the dump's most common cost."""
    if abi is not None and abi not in ABI_LIMITS:
        raise ValueError(f"ABI must be one of {', '.join(ABI_LIMITS)}, not {abi!r}")
    notes: list[str] = list(dump.notes)
    dom0 = pick_dom0(dump)
    if abi is None:
        abi_name, why = infer_abi(dom0)
        notes.append(f"ABI {abi_name}: {why}")
    else:
        abi_name = abi
    limit = ABI_LIMITS[abi_name]
    by_kind: dict[str, int] = {}
    inter: dict[int, int] = {}
    unbound: dict[int, int] = {}
    consumers: dict[str, int] = {}
    unattributed = 0
    partial = False
    if dom0 is not None:
        if dom0.domid_inferred:
            notes.append(f"the {dom0.source} table at {dom0.where} is taken as dom0's (inferred)")
        if dom0.source is Source.EDUMP and dom0.domid_inferred:
            partial = True
            first = int(dom0.port[0]) if len(dom0) else 0
            notes.append(
                f"dom0's table has no header (the console ring wrapped) and starts at port {first}: "
                "earlier ports are missing, so the total is a lower bound and the headroom an upper one"
            )
        by_kind = {k.label: n for k, n in dom0.kind_counts().items()}
        inter = _counts(dom0.remote_dom[dom0.kind == int(Kind.INTERDOMAIN)])
        unbound = _counts(dom0.remote_dom[dom0.kind == int(Kind.UNBOUND)])
        if dom0.source is Source.INTERRUPTS and dom0.names is not None:
            unattributed = int(((dom0.kind == int(Kind.INTERDOMAIN)) & (dom0.remote_dom < 0)).sum())
            consumers = dict(Counter(_consumer(n) for n in dom0.names).most_common())
        if dom0.source is Source.INTERRUPTS:
            notes.append(
                "/proc/interrupts names few remote domains: backends other than vifs are unattributed"
            )
    held = dict(inter)
    for dom, n in unbound.items():
        held[dom] = held.get(dom, 0) + n
    held.pop(0, None)  # dom0's loopback channels are not a VM's
    others = [t for t in dump.tables if t is not dom0 and t.domid != 0 and t.source is not Source.INTERRUPTS]
    # The 'e' key pressed twice, or lsevtchn run twice, shows a domain twice: its latest table counts.
    latest = {(t.source, t.domid): i for i, t in enumerate(others) if t.domid is not None}
    guests = guest_summaries(
        [t for i, t in enumerate(others) if t.domid is None or latest[t.source, t.domid] == i]
    )
    if dom0 is None:
        # Without dom0's table, the guests' own tables still say what each one holds in dom0.
        for g in guests:
            if g.domid is not None and g.to_dom0:
                held[g.domid] = g.to_dom0
        notes.append("no dom0 table in the input: totals and headroom need `lsevtchn 0` or an 'e' dump")
    if vm_cost is None and dom0 is not None and dom0.source is Source.INTERRUPTS:
        # Only vif backends name their VM there, so dom0's per-domain counts undercount every VM:
        # take the cost from the guests' own tables, or from the user.
        vm_cost, vm_cost_source = most_common_cost(
            {g.domid: g.to_dom0 for g in guests if g.domid and g.to_dom0}
        )
        if vm_cost is None:
            vm_cost_source = "/proc/interrupts does not say what a VM costs: give --vm-cost or --spec"
    elif vm_cost is None:
        vm_cost, vm_cost_source = most_common_cost(held)
    total = len(dom0) if dom0 is not None else None
    free = limit - total if total is not None else None
    headroom = free // vm_cost if free is not None and vm_cost else None
    if free is not None and free < 0:
        notes.append(f"dom0 holds {total} ports, more than the {abi_name} limit {limit}: is the ABI right?")
        headroom = 0
    return Analysis(
        dom0_source=dom0.source.value if dom0 is not None else None,
        dom0_total=total,
        by_kind=by_kind,
        interdomain_by_domain=inter,
        unbound_by_domain=unbound,
        held_by_domain=dict(sorted(held.items())),
        unattributed=unattributed,
        by_consumer=consumers,
        abi=abi_name,
        abi_inferred=abi is None,
        limit=limit,
        free=free,
        vm_cost=vm_cost,
        vm_cost_source=vm_cost_source,
        headroom=headroom,
        guests=guests,
        bad_lines=len(dump.bad),
        cut_lines=len(dump.cut),
        notes=notes,
        dom0_partial=partial,
    )


def guest_summaries(tables: list[Table]) -> list[GuestSummary]:
    """GuestSummary per table, computed per shared column store at once (thousands of tables)."""
    out: dict[int, GuestSummary] = {}
    groups: dict[int, list[int]] = {}
    for i, t in enumerate(tables):
        groups.setdefault(id(t.cols), []).append(i)
    for members in groups.values():
        cols = tables[members[0]].cols
        to0 = (cols.kind == int(Kind.INTERDOMAIN)) & (cols.remote_dom == 0)
        wait0 = (cols.kind == int(Kind.UNBOUND)) & (cols.remote_dom == 0)
        c_to0 = np.concatenate(([0], np.cumsum(to0)))
        c_wait0 = np.concatenate(([0], np.cumsum(wait0)))
        at = np.flatnonzero(to0)
        peer_ports = cols.remote_port[at].tolist()
        lo = np.array([tables[i].lo for i in members], dtype=np.int64)
        hi = np.array([tables[i].hi for i in members], dtype=np.int64)
        n_to0 = (c_to0[hi] - c_to0[lo]).tolist()
        n_wait0 = (c_wait0[hi] - c_wait0[lo]).tolist()
        first = np.searchsorted(at, lo).tolist()
        last = np.searchsorted(at, hi).tolist()
        for k, i in enumerate(members):
            t = tables[i]
            out[i] = GuestSummary(
                domid=t.domid,
                source=t.source.value,
                ports=len(t),
                to_dom0=int(n_to0[k]),
                waiting_dom0=int(n_wait0[k]),
                dom0_ports=peer_ports[first[k] : last[k]],
            )
    return [out[i] for i in range(len(tables))]
