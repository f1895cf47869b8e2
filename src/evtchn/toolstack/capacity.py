"""Would a VM fit? dom0's free ports against the VM's cost, the guest's own table against its needs, and
which limit binds first (reference §1, §7.3, §8.3a).

    adm = can_start(plumbing, spec)    # Admission(ok, needed, free, shortfall, binding_limit, detail)
"""

from __future__ import annotations

from dataclasses import dataclass

from evtchn.toolstack import costs
from evtchn.toolstack.devices.dom0_daemons import DOM0
from evtchn.toolstack.plumbing import Plumbing
from evtchn.toolstack.records import Vm
from evtchn.toolstack.spec import VmSpec


@dataclass(slots=True)
class Admission:
    ok: bool
    needed: int
    free: int
    shortfall: int
    binding_limit: str
    detail: str


def dom0_ports_used(p: Plumbing) -> int:
    return p.hv.domains[DOM0].active_evtchns


def dom0_ports_usable(p: Plumbing) -> int:
    return p.hv.domains[DOM0].limit_port


def vm_dom0_ports(p: Plumbing, vm: Vm) -> dict[str, list[int]]:
    """The dom0 ports a VM holds now, by kind (the same keys as VmCost.by_kind)."""
    out: dict[str, list[int]] = {row.kind: [] for row in costs.DEVICE_TABLE}
    if vm.domid is None:
        return out
    out["xenstore"] = p.xenstored.ports_for(vm.domid)
    out["console"] = p.xenconsoled.ports_for(vm.domid)
    out["device_model"] = p.qemu.ports_for(vm.domid)
    for dev in vm.devices:
        out[dev.kind].extend(dev.dom0_ports)
    return out


def guest_port_limit(p: Plumbing, spec: VmSpec) -> int:
    """Usable guest ports: min(max_evtchn_port, max_evtchns − 1) once its kernel chose an ABI (§1)."""
    cap = spec.max_event_channels if spec.max_event_channels is not None else p.profile.guest_max_evtchn_port
    kernel = p.profile.guest_kernel(spec.type)
    fifo = spec.has_pv_frontends and kernel.fifo and p.hv.settings.fifo_supported
    abi = 131072 if fifo else p.profile.guest_width**2
    return abi - 1 if cap < 0 else min(cap, abi - 1)


def _guest_outcome(p: Plumbing, spec: VmSpec, guest_limit: int, guest_short: int) -> str:
    """Where the guest's table runs out decides how it fails (reference §8.3a)."""
    prof = p.profile
    at_start = 1 + int(costs.console_bound(prof, spec)) + costs.dm_ports(prof, spec)
    at_start += spec.maxvcpus if spec.type == "hvm" and prof.ca140252_workaround else 0
    kernel = len(costs.kernel_binds(prof.guest_kernel(spec.type), spec.vcpus)) if spec.has_pv_frontends else 0
    if guest_limit < at_start:
        return "start would fail: the guest's table cannot hold its store/console/ioreq ports"
    if guest_limit < at_start + kernel:
        return "the guest would die at boot (kernel BUG binding its per-vCPU VIRQs/IPIs)"
    return f"the guest's frontends would lack {guest_short} port(s)"


def can_start(p: Plumbing, spec: VmSpec) -> Admission:
    """Would this VM start with every device connected? Which limit binds first."""
    cost = costs.vm_cost(p.profile, p.hardware, spec)
    usable = dom0_ports_usable(p)
    free = usable - dom0_ports_used(p)
    guest_limit = guest_port_limit(p, spec)
    dom0_short = max(0, cost.total - free)
    guest_short = max(0, cost.guest_ports - guest_limit)
    dom0_name = f"dom0 event channels ({usable} usable)"
    guest_name = f"guest max_event_channels ({guest_limit} usable)"
    if dom0_short or guest_short:
        binding = dom0_name if dom0_short >= guest_short and dom0_short else guest_name
    else:
        binding = dom0_name if free - cost.total <= guest_limit - cost.guest_ports else guest_name
    if dom0_short and free < cost.start_time:
        outcome = "start would fail at a start-time bind"
    elif dom0_short:
        outcome = f"would start, but {dom0_short} device channel(s) would fail to connect"
    elif guest_short:
        outcome = _guest_outcome(p, spec, guest_limit, guest_short)
    else:
        outcome = "fits"
    detail = (
        f"needs {cost.total} dom0 ports ({cost.start_time} at start, {cost.connect_time} at connect), "
        f"{free} free; guest needs {cost.guest_ports} of {guest_limit}: {outcome}"
    )
    return Admission(
        ok=not (dom0_short or guest_short),
        needed=cost.total,
        free=free,
        shortfall=dom0_short,
        binding_limit=binding,
        detail=detail,
    )
