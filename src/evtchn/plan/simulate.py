"""Cross-check a plan by running the toolstack: start the mix on a throwaway host until the first VM fails.

    sim = simulate(profile, hardware, mix)          # Simulation(ok_vms, failure, dom0_used, …)
    sim.ok_vms == plan_mix(profile, hardware, mix).max_vms

VMs start in the mix's order (mix.py) on a fresh `Host`, each booted at once. The run stops at the first VM
that fails to start (StartError), or that runs degraded: a device not connected, or a guest that did not
reach Running with all its channels. Limits the toolstack does not model are checked the way the real
component would meet them, from the live host's state: xapi's memory admission before VM.start
(HOST_NOT_ENOUGH_FREE_MEMORY, reference §8.3) and xenconsoled's fd ceiling for the consoles it really holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from evtchn.plan.limits import PlanSettings, consoled_fd_limit, memory_model
from evtchn.plan.mix import Mix
from evtchn.toolstack.bounds import GUEST_DOMIDS
from evtchn.toolstack.costs import vm_cost
from evtchn.toolstack.errors import HostNotEnoughFreeMemory, StartError
from evtchn.toolstack.hardware import Hardware
from evtchn.toolstack.host import Host, Vm
from evtchn.toolstack.profiles import Profile

# Far beyond any built-in profile's answer; a safety net, not a limit.
DEFAULT_MAX_STEPS = 250_000


@dataclass(frozen=True, slots=True)
class SimFailure:
    """The VM at which the run stopped and why."""

    index: int  # 0-based position in the start order
    shape: int
    vm: str
    limit: str  # which limit it met: a key of density.LIMIT_ORDER
    outcome: str  # "failed to start" | "runs degraded" | "refused"
    messages: tuple[str, ...]


@dataclass(slots=True)
class Simulation:
    profile: str
    ok_vms: int = 0
    failure: SimFailure | None = None
    dom0_used: list[int] = field(default_factory=list)  # after 0, 1, …, ok_vms VMs
    host: Host | None = None


def _vm_name(label: str, i: int) -> str:
    base = re.sub(r"[^A-Za-z0-9_.@+-]", "_", label).lstrip("_.@+-") or "vm"
    return f"{base[:48]}-{i + 1}"


def degraded(vm: Vm) -> list[str]:
    """Why a started VM is not fully up — the texts the guest and the backends logged, a device that failed or
    is absent, a guest that did not stay Running — or [] when every device is connected."""
    out = list(dict.fromkeys(vm.messages))
    for d in vm.devices:
        if d.state in ("failed", "absent") and not any(f"{d.kind}-" in m for m in out):
            out.append(f"{d.kind} {d.devid}: {d.error or d.frontend_error or d.state}")
    if vm.power_state != "Running":
        out.append(f"{vm.name} is {vm.power_state}")
    return out


def simulate(
    profile: Profile,
    hardware: Hardware,
    mix: Mix,
    settings: PlanSettings | None = None,
    *,
    max_steps: int = DEFAULT_MAX_STEPS,
    on_vm: Callable[[int, Vm | None], None] | None = None,
) -> Simulation:
    """Start the mix's VMs one by one until one fails or runs degraded; see the module docstring."""
    host = Host.create(profile, hardware)
    return simulate_on(host, mix, settings, max_steps=max_steps, on_vm=on_vm)


def simulate_on(
    host: Host,
    mix: Mix,
    settings: PlanSettings | None = None,
    *,
    max_steps: int = DEFAULT_MAX_STEPS,
    on_vm: Callable[[int, Vm | None], None] | None = None,
) -> Simulation:
    """Start the mix's VMs on `host` as it is (fresh or persisted, VMs already running) until one fails or
    runs degraded. The host is changed: pass a copy (`Host.from_state(h.to_state())`) to keep the original."""
    settings = settings or PlanSettings()
    profile, hardware = host.profile, host.hardware
    host.memory = memory_model(settings)  # the host admits with this plan's memory settings
    sim = Simulation(profile=profile.name, host=host)
    sim.dom0_used.append(host.dom0_ports_used())
    fd_limit = consoled_fd_limit(profile.name, settings).value
    start_ports = [vm_cost(profile, hardware, s.spec).start_time for s in mix.shapes]
    order = mix.order()
    for i in range(max_steps):
        k = next(order)
        shape = mix.shapes[k]
        name = _vm_name(shape.label, i)
        while host.vms.named(name):  # a persisted host may already run a VM of that name
            name += "+"
        spec = shape.spec.model_copy(update={"name": name})

        def stop(
            limit: str, outcome: str, messages: list[str], i: int = i, k: int = k, name: str = name
        ) -> None:
            sim.failure = SimFailure(i, k, name, limit, outcome, tuple(messages))

        if len(host.hv.domains) - 1 >= GUEST_DOMIDS.value:  # Xen's domid ceiling (reference §1)
            stop("domids", "refused", [f"no free domid: {GUEST_DOMIDS.value} guests already run"])
            break
        host.define_vm(spec)
        dom0_free = host.dom0_ports_free()
        try:
            vm = host.start_vm(name)
        except HostNotEnoughFreeMemory as e:
            # xapi's admission: memory is checked before the domain is built (reference §8.3).
            host.remove_vm(name)
            stop("host_memory", "refused", [f"HOST_NOT_ENOUGH_FREE_MEMORY [{e.needed}; {e.available}]"])
            break
        except StartError as e:
            # dom0 short of the start-time binds, or else the guest's own table (store/console/ioreq ports).
            stop(
                "dom0_evtchn" if dom0_free < start_ports[k] else "guest_evtchn",
                "failed to start",
                [e.message],
            )
            if on_vm:
                on_vm(i, None)
            break
        why = degraded(vm)
        fds = settings.consoled_base_fds + settings.fds_per_console * _consoles(host)
        if why:
            stop(_limit_of(vm), "runs degraded", why)
        elif fds > fd_limit:
            stop("consoled_fds", "runs degraded", [f"xenconsoled: {fds} fds needed, limit {fd_limit}"])
        if on_vm:
            on_vm(i, vm)
        if sim.failure is not None:
            break
        sim.ok_vms += 1
        sim.dom0_used.append(host.dom0_ports_used())
    return sim


def _consoles(host: Host) -> int:
    """Consoles xenconsoled really holds (one evtchn handle each), from the live host."""
    return sum(1 for key in host.xenconsoled.held if key != "virq")


def _limit_of(vm: Vm) -> str:
    """Which limit a degraded VM met: dom0's table when a backend could not bind (xenbus_dev_fatal), else
    the guest's own (a frontend or the guest kernel could not allocate)."""
    return "dom0_evtchn" if any(d.state == "failed" for d in vm.devices) else "guest_evtchn"
