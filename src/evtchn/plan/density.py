"""The analytic density planner: how many VMs of a mix fit before the first one fails or runs degraded.

    plan = plan_mix(get_profile("xenserver-6.2"), get_hardware(None), Mix((Shape("seed", seed_vm_spec()),)))
    plan.max_vms, plan.binding, plan.limit("dom0_evtchn").headroom
    compare_profiles(["xenserver-6.1", "xenserver-6.2"], hardware, mix)   # one Plan per profile

Reference §7.3 generalised. Every limit is additive (each VM consumes a fixed amount of it), so for each
limit the number of VMs that fit in the mix's start order (mix.py) is found in O(shapes): whole rounds by
division, then the last partial round shape by shape. The answer is the smallest of those; the limits that
reach it are binding, and every other limit reports its headroom. Per-VM dom0 costs and dom0's baseline
come from `evtchn.toolstack.costs` (the same table the simulated host plumbs with); the rest from limits.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from evtchn.plan.limits import (
    MEMORY_SOURCE,
    PlanSettings,
    consoled_fd_limit,
    vm_footprint_mib,
)
from evtchn.plan.mix import Mix
from evtchn.toolstack.bounds import GUEST_DOMIDS
from evtchn.toolstack.costs import VmCost, dom0_baseline, dom0_usable, vm_cost
from evtchn.toolstack.hardware import Hardware
from evtchn.toolstack.host import Host
from evtchn.toolstack.profiles import Profile
from evtchn.toolstack.spec import VmSpec

# Limit keys in the order a start meets them: xapi's memory check, then dom0 binds (start and connect),
# xenconsoled's fds, then the guest's own table at boot.
LIMIT_ORDER = ("host_memory", "domids", "dom0_evtchn", "consoled_fds", "guest_evtchn")

# dom0 port use by kind, as plotted and tabulated: VmCost.by_kind key → label.
KIND_LABELS = {
    "xenstore": "xenstore",
    "console": "consoles",
    "vbd": "disks",
    "vif": "NICs",
    "device_model": "device models",
}


class PlanError(ValueError):
    """The plan cannot be made (e.g. no limit binds); one readable line."""


@dataclass(frozen=True, slots=True)
class LimitPlan:
    """One limit: its ceiling, what is used before any VM, each shape's per-VM use, and the outcome."""

    key: str
    title: str
    unit: str
    total: int
    baseline: int
    per_vm: tuple[int, ...]
    source: str
    fit: int | None  # VMs of the mix that fit under this limit alone (None: never binds)
    used_at_max: int  # baseline + what the plan's max_vms VMs use
    # A per-VM limit (the guest's own table) has no shared total: its headroom is the tightest shape's spare.
    per_vm_headroom: int | None = None

    @property
    def capacity(self) -> int:
        return self.total - self.baseline

    @property
    def headroom(self) -> int:
        return self.per_vm_headroom if self.per_vm_headroom is not None else self.total - self.used_at_max


@dataclass(frozen=True, slots=True)
class ShapePlan:
    label: str
    spec: VmSpec
    count: int
    cost: VmCost
    guest_limit: int  # usable ports in the guest's own table
    footprint_mib: int
    consoles: int
    alone_max: int  # VMs of this shape alone
    alone_binding: tuple[str, ...]
    in_mix: int  # VMs of this shape among the mix's max_vms


@dataclass(frozen=True, slots=True)
class Plan:
    profile: str
    hardware: str
    mix: Mix
    dom0_limit: int
    dom0_baseline: dict[str, int]
    shapes: tuple[ShapePlan, ...]
    limits: tuple[LimitPlan, ...]
    max_vms: int
    binding: tuple[str, ...]  # keys of the limits reached at max_vms, in LIMIT_ORDER
    next_shape: int  # index of the shape of the VM that would fail (the (max_vms+1)-th)
    settings: PlanSettings = field(default_factory=PlanSettings)

    def limit(self, key: str) -> LimitPlan:
        for lim in self.limits:
            if lim.key == key:
                return lim
        raise KeyError(key)

    @property
    def baseline_total(self) -> int:
        return sum(self.dom0_baseline.values())

    def dom0_used_after(self, n: int) -> int:
        """dom0 ports in use once the first n VMs of the mix run fully connected."""
        counts = self.mix.counts_in_prefix(n)
        return self.baseline_total + sum(c * s.cost.total for c, s in zip(counts, self.shapes, strict=True))

    def dom0_series(self) -> list[int]:
        """dom0 ports used after 0, 1, …, max_vms VMs (index = number of VMs running)."""
        out = [self.baseline_total]
        for i in range(self.max_vms):
            out.append(out[-1] + self.shapes[self.mix.shape_at(i)].cost.total)
        return out

    def dom0_by_kind_at_max(self) -> dict[str, int]:
        """dom0 ports at the maximum split into baseline, xenstore, consoles, disks, NICs, device models."""
        out = {"baseline": self.baseline_total} | {label: 0 for label in KIND_LABELS.values()}
        for s in self.shapes:
            for kind, n in s.cost.by_kind.items():
                label = KIND_LABELS.get(kind, kind)
                out[label] = out.get(label, 0) + n * s.in_mix
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "hardware": self.hardware,
            "start_order": "rounds of COUNT VMs of each shape, in the order given",
            "dom0_limit": self.dom0_limit,
            "dom0_baseline": {"total": self.baseline_total, **self.dom0_baseline},
            "shapes": [
                {
                    "label": s.label,
                    "name": s.spec.name,
                    "type": s.spec.type,
                    "count": s.count,
                    "dom0_ports": s.cost.total,
                    "dom0_ports_by_kind": dict(s.cost.by_kind),
                    "dom0_ports_start_time": s.cost.start_time,
                    "dom0_ports_connect_time": s.cost.connect_time,
                    "guest_ports": s.cost.guest_ports,
                    "guest_limit": s.guest_limit,
                    "memory_footprint_mib": s.footprint_mib,
                    "max_alone": s.alone_max,
                    "binding_alone": list(s.alone_binding),
                    "in_mix_at_max": s.in_mix,
                }
                for s in self.shapes
            ],
            "max_vms": self.max_vms,
            "binding": list(self.binding),
            "next_to_fail": self.shapes[self.next_shape].label,
            "limits": [
                {
                    "key": lim.key,
                    "title": lim.title,
                    "unit": lim.unit,
                    "total": lim.total,
                    "baseline": lim.baseline,
                    "per_vm": list(lim.per_vm),
                    "used_at_max": lim.used_at_max,
                    "headroom": lim.headroom,
                    "fits_alone": lim.fit,
                    "source": lim.source,
                }
                for lim in self.limits
            ],
            "dom0_ports_by_kind_at_max": self.dom0_by_kind_at_max(),
            "settings": self.settings.model_dump(),
        }


class _Raw(NamedTuple):
    """A limit before solving: its ceiling, dom0's (or the host's) own use, each shape's per-VM use."""

    title: str
    unit: str
    total: int
    baseline: int
    per_vm: tuple[int, ...]
    source: str


def fit_count(per_vm: Sequence[int], counts: Sequence[int], capacity: int) -> int | None:
    """VMs started in rounds (counts[k] of shape k per round) before one would take the total past capacity.

    None when the mix uses none of this limit. O(shapes).
    """
    if capacity < 0:
        return 0
    round_cost = sum(u * c for u, c in zip(per_vm, counts, strict=True))
    if round_cost == 0:
        return None
    rounds, rest = divmod(capacity, round_cost)
    n = rounds * sum(counts)
    for u, c in zip(per_vm, counts, strict=True):
        if u == 0:
            n += c
            continue
        k = rest // u
        if k < c:
            return n + k
        rest -= u * c
        n += c
    raise AssertionError("a partial round cannot hold a whole round")


def plan_mix(
    profile: Profile,
    hardware: Hardware,
    mix: Mix,
    settings: PlanSettings | None = None,
) -> Plan:
    """The analytic plan for `mix` on this profile and hardware (see the module docstring)."""
    settings = settings or PlanSettings()
    specs = [s.spec for s in mix.shapes]
    costs = [vm_cost(profile, hardware, sp) for sp in specs]
    # An unbooted Host is only its components: the toolstack's own guest-limit rule, no second copy.
    shell = Host(profile, hardware)
    glimits = [shell.guest_port_limit(sp) for sp in specs]
    feet = [vm_footprint_mib(sp, settings) for sp in specs]
    consoles = [c.by_kind.get("console", 0) for c in costs]
    baseline = dom0_baseline(profile, hardware)
    dom0_total = dom0_usable(profile)
    fd_limit = consoled_fd_limit(profile.name, settings)
    # FIFO dom0s get their limit from the kernel choosing FIFO; 2L ones from the word size (or 6.2's case).
    dom0_keys = ("dom0_kernel",) if profile.dom0_abi_limit > 4096 else ("dom0_max_evtchns", "dom0_width")
    dom0_source = next((profile.sources[k] for k in dom0_keys if k in profile.sources), "reference §1")

    raw: dict[str, _Raw] = {
        "host_memory": _Raw(
            "host memory",
            "MiB",
            hardware.host_memory_mib,
            hardware.dom0_memory_mib + settings.xen_reserved_mib,
            tuple(feet),
            f"hardware {hardware.name}: host_memory_mib, dom0_memory_mib; xen_reserved_mib setting; "
            f"per VM {MEMORY_SOURCE}",
        ),
        "domids": _Raw(
            "domain ids",
            "domids",
            GUEST_DOMIDS.value,
            0,
            tuple(1 for _ in specs),
            GUEST_DOMIDS.source,
        ),
        "dom0_evtchn": _Raw(
            "dom0 event channels",
            "ports",
            dom0_total,
            sum(baseline.values()),
            tuple(c.total for c in costs),
            f"profile {profile.name}: dom0 max_evtchns {profile.dom0_abi_limit} − port 0 ({dom0_source}); "
            "baseline and per-VM costs from evtchn.toolstack.costs (reference §7.3)",
        ),
        "consoled_fds": _Raw(
            "xenconsoled file descriptors",
            "fds",
            fd_limit.value,
            settings.consoled_base_fds,
            tuple(n * settings.fds_per_console for n in consoles),
            f"{fd_limit.source}; {settings.fds_per_console} fds per console (fds_per_console setting)",
        ),
        "guest_evtchn": _Raw(
            "guest's own event channels",
            "ports",
            0,
            0,
            tuple(int(c.guest_ports > g) for c, g in zip(costs, glimits, strict=True)),
            f"guest max_event_channels (spec, else profile {profile.name}: "
            f"{profile.sources.get('guest_max_evtchn_port', 'reference §1')}) against the ports it binds",
        ),
    }
    counts = mix.counts
    fits = {key: fit_count(v.per_vm, counts, v.total - v.baseline) for key, v in raw.items()}
    bounded = [f for f in fits.values() if f is not None]
    if not bounded:
        raise PlanError("no limit binds for this mix (every VM costs nothing against every limit)")
    max_vms = min(bounded)
    binding = tuple(k for k in LIMIT_ORDER if fits[k] == max_vms)
    in_mix = mix.counts_in_prefix(max_vms)
    guest_spare = min(g - c.guest_ports for g, c in zip(glimits, costs, strict=True))

    limits = tuple(
        LimitPlan(
            key=key,
            title=title,
            unit=unit,
            total=total,
            baseline=base,
            per_vm=per_vm,
            source=source,
            fit=fits[key],
            used_at_max=base + sum(c * u for c, u in zip(in_mix, per_vm, strict=True)),
            per_vm_headroom=guest_spare if key == "guest_evtchn" else None,
        )
        for key, (title, unit, total, base, per_vm, source) in raw.items()
    )

    shapes = []
    for k, s in enumerate(mix.shapes):
        # This shape alone: the same limits with a one-shape mix.
        solo = {key: fit_count((v.per_vm[k],), (1,), v.total - v.baseline) for key, v in raw.items()}
        solo_bounded = [f for f in solo.values() if f is not None]
        alone_max = min(solo_bounded) if solo_bounded else -1
        alone_binding = tuple(key for key in LIMIT_ORDER if solo[key] == alone_max)
        shapes.append(
            ShapePlan(
                label=s.label,
                spec=s.spec,
                count=s.count,
                cost=costs[k],
                guest_limit=glimits[k],
                footprint_mib=feet[k],
                consoles=consoles[k],
                alone_max=alone_max,
                alone_binding=alone_binding,
                in_mix=in_mix[k],
            )
        )
    return Plan(
        profile=profile.name,
        hardware=hardware.name,
        mix=mix,
        dom0_limit=dom0_total,
        dom0_baseline=dict(baseline),
        shapes=tuple(shapes),
        limits=limits,
        max_vms=max_vms,
        binding=binding,
        next_shape=mix.shape_at(max_vms),
        settings=settings,
    )


def compare_profiles(
    profiles: Sequence[Profile], hardware: Hardware, mix: Mix, settings: PlanSettings | None = None
) -> list[Plan]:
    """One plan per profile for the same mix and hardware."""
    return [plan_mix(p, hardware, mix, settings) for p in profiles]
