"""The one device table: what each VM device costs in dom0 ports, who binds it, and when.

    c = vm_cost(get_profile("xenserver-6.2"), get_hardware(None), seed_vm_spec())
    c.total, c.by_kind            # 7, {"xenstore": 1, "console": 0, "vbd": 3, "vif": 1, "device_model": 2}
    dom0_baseline(profile, hw)    # {"virq": …, "ipi": …, "pirq": …, "xenbus": 2}

Each row comes from its device module (devices/xenstore_conn.py, console.py, vbd.py, vif.py,
device_model.py), whose plumbing uses the same functions, so the planner's numbers and a simulated start
cannot disagree. Formula: reference §7.3.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evtchn.toolstack.devices import console, device_model, vbd, vif, xenstore_conn
from evtchn.toolstack.devices.base import DeviceKind, Phase
from evtchn.toolstack.devices.console import console_bound
from evtchn.toolstack.devices.device_model import dm_ports
from evtchn.toolstack.devices.vbd import disk_has_frontend, vbd_rings
from evtchn.toolstack.devices.vif import vif_ctrl, vif_layout, vif_ports
from evtchn.toolstack.hardware import Hardware
from evtchn.toolstack.kernel import VIRQ_CON_RING, VIRQ_DOM_EXC, dom0_binds, kernel_binds
from evtchn.toolstack.profiles import Profile
from evtchn.toolstack.spec import VmSpec

DEVICE_TABLE: tuple[DeviceKind, ...] = (xenstore_conn.ROW, console.ROW, vbd.ROW, vif.ROW, device_model.ROW)


@dataclass(slots=True)
class VmCost:
    by_kind: dict[str, int]
    total: int
    start_time: int
    connect_time: int
    guest_ports: int
    detail: dict[str, str] = field(default_factory=dict)


def guest_ports(profile: Profile, hardware: Hardware, spec: VmSpec) -> int:
    """Ports the guest's own table holds once booted: store, console, its kernel's, frontends, ioreq."""
    n = 1 + int(console_bound(profile, spec))
    if spec.type == "hvm" and profile.ca140252_workaround:
        n += spec.maxvcpus
    if spec.has_pv_frontends:
        n += len(kernel_binds(profile.guest_kernel(spec.type), spec.vcpus))
        n += sum(vbd_rings(profile, hardware, spec, d) for d in spec.disks)
        n += sum(vif_ports(profile, hardware, spec, nic) for nic in spec.nics)
    return n + dm_ports(profile, spec)


def vm_cost(profile: Profile, hardware: Hardware, spec: VmSpec) -> VmCost:
    """dom0 ports one VM takes, by kind and by phase (reference §7.3)."""
    by_kind: dict[str, int] = {}
    start = connect = 0
    for row in DEVICE_TABLE:
        n = row.dom0_ports(profile, hardware, spec)
        by_kind[row.kind] = n
        if row.phase == "start":
            start += n
        else:
            connect += n
    return VmCost(
        by_kind=by_kind,
        total=start + connect,
        start_time=start,
        connect_time=connect,
        guest_ports=guest_ports(profile, hardware, spec),
        detail={row.kind: row.source for row in DEVICE_TABLE},
    )


def dom0_baseline(profile: Profile, hardware: Hardware) -> dict[str, int]:
    """dom0's own ports by kind: its kernel's VIRQs/IPIs, PIRQs, xenbus loopback, daemons' VIRQs (§7.3)."""
    out = {"virq": 0, "ipi": 0, "pirq": 0, "xenbus": 2}
    for kind, _, _ in dom0_binds(profile, hardware):
        out[kind] += 1
    out["virq"] += 1  # xenstored: VIRQ_DOM_EXC
    out["virq"] += int(profile.xenconsoled_log_hv)  # xenconsoled: VIRQ_CON_RING
    return out


def dom0_usable(profile: Profile) -> int:
    """Usable dom0 ports 1..limit−1 (dom0's max_evtchn_port is INT_MAX, reference §1)."""
    return profile.dom0_abi_limit - 1


__all__ = [
    "DEVICE_TABLE",
    "VIRQ_CON_RING",
    "VIRQ_DOM_EXC",
    "DeviceKind",
    "Phase",
    "VmCost",
    "console_bound",
    "disk_has_frontend",
    "dm_ports",
    "dom0_baseline",
    "dom0_binds",
    "dom0_usable",
    "guest_ports",
    "kernel_binds",
    "vbd_rings",
    "vif_ctrl",
    "vif_layout",
    "vif_ports",
    "vm_cost",
]
