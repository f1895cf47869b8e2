"""How many more VMs of a mix fit on a host as it is now, and which limit binds first.

    room = headroom(host, mix)              # analytic, from what the host holds now
    room.max_vms, room.binding, room.limit("dom0_evtchn").free
    sim = verify(host, mix)                 # the same question answered by starting them on a copy
    sim.ok_vms == room.max_vms

The planner (plan/density.py) answers this for an empty host from the profile's baseline; here every limit
starts from what the host really holds: dom0's free ports (its table, not the profile's baseline), the
memory the resident domains leave, the consoles xenconsoled holds, the domids in use. Each limit is additive,
so `density.fit_count` solves it in the mix's start order. `verify` never touches the host it is given: it
runs the toolstack on a copy (`Host.from_state(host.to_state())`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evtchn.plan.density import LIMIT_ORDER, fit_count
from evtchn.plan.limits import PlanSettings, consoled_fd_limit, memory_model, vm_footprint_mib
from evtchn.plan.mix import Mix
from evtchn.plan.simulate import Simulation, simulate_on
from evtchn.toolstack.bounds import GUEST_DOMIDS
from evtchn.toolstack.costs import vm_cost
from evtchn.toolstack.host import Host

TITLES = {
    "host_memory": ("host memory", "MiB"),
    "domids": ("domain ids", "domids"),
    "dom0_evtchn": ("dom0 event channels", "ports"),
    "consoled_fds": ("xenconsoled file descriptors", "fds"),
    "guest_evtchn": ("guest's own event channels", "ports"),
}


@dataclass(frozen=True, slots=True)
class LimitRoom:
    """One limit on the host now: what is free, what each shape of the mix takes, how many VMs it allows."""

    key: str
    title: str
    unit: str
    free: int  # for guest_evtchn: the tightest shape's spare ports in its own table
    per_vm: tuple[int, ...]
    fit: int | None  # None: the mix uses none of it


@dataclass(frozen=True, slots=True)
class Headroom:
    profile: str
    labels: tuple[str, ...]
    limits: tuple[LimitRoom, ...]
    max_vms: int
    binding: tuple[str, ...]  # keys of the limits that allow exactly max_vms, in LIMIT_ORDER
    next_label: str  # the shape of the VM that would not fit

    def limit(self, key: str) -> LimitRoom:
        return next(lim for lim in self.limits if lim.key == key)

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "shapes": list(self.labels),
            "max_more_vms": self.max_vms,
            "binding": list(self.binding),
            "next_to_fail": self.next_label,
            "limits": [
                {
                    "key": lim.key,
                    "title": lim.title,
                    "unit": lim.unit,
                    "free": lim.free,
                    "per_vm": list(lim.per_vm),
                    "fits": lim.fit,
                }
                for lim in self.limits
            ],
        }


def headroom(host: Host, mix: Mix, settings: PlanSettings | None = None) -> Headroom:
    """The analytic answer for `mix` on `host` now (see the module docstring)."""
    settings = settings or PlanSettings()
    specs = [s.spec for s in mix.shapes]
    hw = host.hardware
    costs = [vm_cost(host.profile, hw, sp) for sp in specs]
    glimits = [host.guest_port_limit(sp) for sp in specs]
    resident = [vm.spec for vm in host.vms.values() if vm.domid is not None]
    consoles = sum(1 for key in host.xenconsoled.held if key != "virq")
    fd_limit = consoled_fd_limit(host.profile.name, settings).value
    guests = len(host.hv.domains) - 1
    free_per = {
        "host_memory": (
            memory_model(settings).free_mib(hw, resident),
            tuple(vm_footprint_mib(sp, settings) for sp in specs),
        ),
        "domids": (GUEST_DOMIDS.value - guests, tuple(1 for _ in specs)),
        "dom0_evtchn": (host.dom0_ports_free(), tuple(c.total for c in costs)),
        "consoled_fds": (
            fd_limit - settings.consoled_base_fds - consoles * settings.fds_per_console,
            tuple(c.by_kind.get("console", 0) * settings.fds_per_console for c in costs),
        ),
        # Per VM, not shared: a shape whose own table is too small fails at once, whatever the count.
        "guest_evtchn": (0, tuple(int(c.guest_ports > g) for c, g in zip(costs, glimits, strict=True))),
    }
    counts = mix.counts
    limits = []
    for key in LIMIT_ORDER:
        free, per_vm = free_per[key]
        fit = fit_count(per_vm, counts, free)
        if key == "guest_evtchn":
            free = min(g - c.guest_ports for g, c in zip(glimits, costs, strict=True))
        limits.append(LimitRoom(key, *TITLES[key], free, per_vm, fit))
    bounded = [lim.fit for lim in limits if lim.fit is not None]
    max_vms = min(bounded)  # domids always bound it
    return Headroom(
        profile=host.profile.name,
        labels=tuple(s.label for s in mix.shapes),
        limits=tuple(limits),
        max_vms=max_vms,
        binding=tuple(lim.key for lim in limits if lim.fit == max_vms),
        next_label=mix.shapes[mix.shape_at(max_vms)].label,
    )


def verify(host: Host, mix: Mix, settings: PlanSettings | None = None) -> Simulation:
    """Start the mix on a copy of `host` until a VM fails or runs degraded; `host` itself is unchanged."""
    twin = Host.from_state(host.to_state())
    return simulate_on(twin, mix, settings)
