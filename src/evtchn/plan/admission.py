"""Can one more VM start fully on this (persisted) host? The toolstack's event-channel admission plus the
planner's other limits, measured on the host as it is now.

    v = check_admission(open_store(None).read(), load_spec("web.yaml"))
    v.ok, v.binding, v.text()           # `evtchn can-start` prints v.text() and exits 0 if v.ok else 1

Event channels (dom0's and the guest's own) come from `Host.can_start` — the same device table the start
would plumb with. Host memory and xenconsoled's fds use limits.py against what the running VMs hold now.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evtchn.plan.limits import PlanSettings, consoled_fd_limit, memory_model, vm_footprint_mib
from evtchn.toolstack.costs import vm_cost
from evtchn.toolstack.host import Host
from evtchn.toolstack.spec import VmSpec


@dataclass(frozen=True, slots=True)
class Check:
    key: str
    title: str
    unit: str
    needed: int
    free: int

    @property
    def ok(self) -> bool:
        return self.needed <= self.free

    @property
    def shortfall(self) -> int:
        return max(0, self.needed - self.free)


@dataclass(frozen=True, slots=True)
class Verdict:
    vm: str
    profile: str
    checks: tuple[Check, ...]
    detail: str

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def binding(self) -> Check:
        """The first check that fails, else the one with the least room left (relative to the need)."""
        failing = [c for c in self.checks if not c.ok]
        if failing:
            return failing[0]
        return min(self.checks, key=lambda c: (c.free - c.needed) / max(c.needed, 1))

    def check(self, key: str) -> Check:
        return next(c for c in self.checks if c.key == key)

    def text(self) -> str:
        d0 = self.check("dom0_evtchn")
        head = (
            f"{'yes' if self.ok else 'no'}: {self.vm} {'can' if self.ok else 'cannot'} start fully on this "
            f"{self.profile} host; dom0 ports needed {d0.needed}, free {d0.free}, shortfall {d0.shortfall}; "
            f"binding limit: {self.binding.title}"
        )
        lines = [head]
        for c in self.checks:
            state = "ok" if c.ok else f"short by {c.shortfall}"
            lines.append(f"  {c.title}: needs {c.needed} {c.unit}, {c.free} free — {state}")
        if self.detail:
            lines.append(f"  {self.detail}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        d0 = self.check("dom0_evtchn")
        return {
            "vm": self.vm,
            "profile": self.profile,
            "ok": self.ok,
            "needed": d0.needed,
            "free": d0.free,
            "shortfall": d0.shortfall,
            "binding_limit": self.binding.key,
            "checks": [
                {
                    "key": c.key,
                    "title": c.title,
                    "unit": c.unit,
                    "needed": c.needed,
                    "free": c.free,
                    "ok": c.ok,
                }
                for c in self.checks
            ],
            "detail": self.detail,
        }


def check_admission(host: Host, spec: VmSpec, settings: PlanSettings | None = None) -> Verdict:
    """Every limit the planner knows, for `spec` on `host` now."""
    settings = settings or PlanSettings()
    adm = host.can_start(spec)
    hw = host.hardware
    resident = [vm.spec for vm in host.vms.values() if vm.domid is not None]  # Suspended: no domain
    mem_free = memory_model(settings).free_mib(hw, resident)
    consoles = sum(1 for key in host.xenconsoled.held if key != "virq")
    fd_limit = consoled_fd_limit(host.profile.name, settings).value
    cost = vm_cost(host.profile, hw, spec)
    checks = (
        Check("host_memory", "host memory", "MiB", vm_footprint_mib(spec, settings), mem_free),
        Check("dom0_evtchn", "dom0 event channels", "ports", adm.needed, adm.free),
        Check(
            "consoled_fds",
            "xenconsoled file descriptors",
            "fds",
            cost.by_kind.get("console", 0) * settings.fds_per_console,
            fd_limit - settings.consoled_base_fds - consoles * settings.fds_per_console,
        ),
        Check(
            "guest_evtchn",
            "guest's own event channels",
            "ports",
            cost.guest_ports,
            host.guest_port_limit(spec),
        ),
    )
    return Verdict(vm=spec.name, profile=host.profile.name, checks=checks, detail=adm.detail)
