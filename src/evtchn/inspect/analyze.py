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

from evtchn.inspect.abi import ABI_LIMITS, AbiVerdict, abi_from_evidence, at_limit, remedy
from evtchn.inspect.exhaustion import Short, short_domains
from evtchn.inspect.findings import XsTree
from evtchn.inspect.model import Dump, Kind, Source, Table

__all__ = ["ABI_LIMITS", "AbiHeadroom", "Analysis", "GuestSummary", "analyze", "pick_dom0"]
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


@dataclass(frozen=True, slots=True)
class AbiHeadroom:
    """dom0's room under one ABI's limit."""

    limit: int
    free: int
    headroom: int | None  # VMs of the per-VM cost that still fit (None: no cost known)

    @property
    def exhausted(self) -> bool:
        return self.free <= 0


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
    abi: str | None  # None: the input does not settle it; see by_abi
    abi_inferred: bool
    limit: int | None
    free: int | None
    vm_cost: int | None
    vm_cost_source: str
    headroom: int | None
    guests: list[GuestSummary] = field(default_factory=list)
    bad_lines: int = 0
    cut_lines: int = 0
    notes: list[str] = field(default_factory=list)
    dom0_partial: bool = False  # dom0's table lost its head to a wrapped console ring
    abi_evidence: list[str] = field(default_factory=list)
    abi_candidates: list[str] = field(default_factory=list)
    by_abi: dict[str, AbiHeadroom] = field(default_factory=dict)  # every plausible ABI, when unknown too
    exhausted: str | None = None  # plain words when dom0 sits exactly at a limit
    short: list[Short] = field(default_factory=list)  # the exhaustion signature, by domid
    dom0_guest_file: bool = False  # the only /proc/interrupts is a guest's: no dom0 headroom from it

    @property
    def abi_known(self) -> bool:
        return self.abi is not None

    def worst_headroom(self) -> int | None:
        """The headroom, or with the ABI unknown the smallest over every plausible ABI (the cautious one)."""
        if self.headroom is not None:
            return self.headroom
        rooms = [h.headroom for h in self.by_abi.values() if h.headroom is not None]
        return min(rooms) if rooms and len(rooms) == len(self.by_abi) else None

    def below(self, min_free: int) -> bool:
        """True when the VM headroom (the worst over plausible ABIs) is known and under `min_free`."""
        worst = self.worst_headroom()
        return worst is not None and worst < min_free

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
            "abi_known": self.abi_known,
            "abi_inferred": self.abi_inferred,
            "abi_evidence": self.abi_evidence,
            "abi_candidates": self.abi_candidates,
            "limit": self.limit,
            "free": self.free,
            "vm_cost": self.vm_cost,
            "vm_cost_source": self.vm_cost_source,
            "headroom_vms": self.headroom,
            "headroom_by_abi": {
                name: {"limit": h.limit, "free": h.free, "headroom_vms": h.headroom, "exhausted": h.exhausted}
                for name, h in self.by_abi.items()
            },
            "exhausted": self.exhausted,
            "short_domains": [
                {"domid": x.domid, "holds": x.holds, "siblings_hold": x.siblings_hold, "why": x.why}
                for x in self.short
            ],
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
    profile_abi: tuple[str, str] | None = None,
) -> Analysis:
    """Summarise dom0's ports; `vm_cost` (from a spec or the user) else the dump's most common cost.
    The ABI comes from `abi`, then `profile_abi` (ABI, profile name), then the input (see abi.py)."""
    if abi is not None and abi not in ABI_LIMITS:
        raise ValueError(f"ABI must be one of {', '.join(ABI_LIMITS)}, not {abi!r}")
    notes: list[str] = list(dump.notes)
    notes.extend(f"pasted text unwrapped: {u}" for u in dump.unwrapped)
    dom0 = pick_dom0(dump)
    verdict = abi_from_evidence(dump, dom0, abi=abi, profile_abi=profile_abi)
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
    others = [
        t
        for t in dump.tables
        if t is not dom0 and t.domid != 0 and (t.source is not Source.INTERRUPTS or t.guest)
    ]
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
        for t in others:
            if t.guest:
                notes.append(
                    f"the /proc/interrupts at {t.where} is a guest's own table (frontends, not backends): "
                    "it shows that guest's devices and vCPU ports, not dom0's headroom"
                )
    if dump.xenstore is not None and dom0 is None:
        # xenstore says what binds in dom0 for each VM: store, console, and connected devices' channels.
        for dom, n in xenstore_held(dump.xenstore).items():
            held.setdefault(dom, n)
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
    by_abi: dict[str, AbiHeadroom] = {}
    if total is not None:
        for name in verdict.candidates:
            lim = ABI_LIMITS[name]
            free_n = lim - total
            if free_n < 0:
                notes.append(f"dom0 holds {total} ports, more than the {name} limit {lim}: is the ABI right?")
            room = max(free_n, 0) // vm_cost if vm_cost else None
            by_abi[name] = AbiHeadroom(lim, free_n, room)
    one = by_abi.get(verdict.name) if verdict.name is not None else None
    exhausted = _exhausted(total, verdict) if total is not None else None
    return Analysis(
        dom0_source=dom0.source.value if dom0 is not None else None,
        dom0_total=total,
        by_kind=by_kind,
        interdomain_by_domain=inter,
        unbound_by_domain=unbound,
        held_by_domain=dict(sorted(held.items())),
        unattributed=unattributed,
        by_consumer=consumers,
        abi=verdict.name,
        abi_inferred=not verdict.given,
        limit=ABI_LIMITS[verdict.name] if verdict.name is not None else None,
        free=one.free if one is not None else None,
        vm_cost=vm_cost,
        vm_cost_source=vm_cost_source,
        headroom=one.headroom if one is not None else None,
        guests=guests,
        bad_lines=len(dump.bad),
        cut_lines=len(dump.cut),
        notes=notes,
        dom0_partial=partial,
        abi_evidence=verdict.evidence,
        abi_candidates=verdict.candidates,
        by_abi=by_abi,
        exhausted=exhausted,
        short=short_domains(held, guests, dump.xenstore),
    )


def _exhausted(total: int, verdict: AbiVerdict) -> str | None:
    """Plain words when dom0's count sits exactly at a limit the evidence leaves open (§1, §12)."""
    name = at_limit(total, verdict.candidates)
    if name is None:
        known_full = verdict.name is not None and total >= ABI_LIMITS[verdict.name]
        name = verdict.name if known_full else None
    if name is None:
        return None
    lim = ABI_LIMITS[name]
    if verdict.name == name:
        head = f"dom0's event channels are exhausted: it holds {total} ports, the {name} limit of {lim}."
    else:
        head = (
            f"dom0 holds exactly {lim} ports, the {name} limit: under that ABI its event channels are "
            "exhausted (a count of exactly a limit is the likeliest sign of it)."
        )
    return (
        f"{head} New VMs and devices fail: xenstored, xenconsoled, qemu or a backend gets no port. "
        f"Remedy: {remedy(name)}"
    )


def xenstore_held(xs: XsTree) -> dict[int, int]:
    """dom0 ports each VM holds as xenstore tells it: store and console, and each connected device's
    event channels whose backend is dom0 (reference §7.2)."""
    out: dict[int, int] = {}
    for d in xs.domains.values():
        if d.domid:
            out[d.domid] = out.get(d.domid, 0) + (d.store_port is not None) + (d.console_port is not None)
    for v in xs.devices.values():
        if v.domid and v.backend_domid == 0 and v.connected:
            out[v.domid] = out.get(v.domid, 0) + len(v.ports)
    return out


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
                dom0_ports=[p for p in peer_ports[first[k] : last[k]] if p >= 0],
            )
    return [out[i] for i in range(len(tables))]
