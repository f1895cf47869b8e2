"""The one device table: what each VM device costs in dom0 ports, who binds it, and when.

    c = vm_cost(get_profile("xenserver-6.2"), get_hardware(None), seed_vm_spec())
    c.total, c.by_kind            # 7, {"xenstore": 1, "console": 0, "vbd": 3, "vif": 1, "device_model": 2}
    dom0_baseline(profile, hw)    # {"virq": …, "ipi": …, "pirq": …, "xenbus": 2}

The Host's plumbing calls the same functions (vbd_rings, vif_layout, dm_ports, …), so the planner's numbers
and a simulated start can never disagree. Formula: reference §7.3.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from evtchn.toolstack.hardware import Hardware
from evtchn.toolstack.profiles import KernelFlavour, Profile
from evtchn.toolstack.spec import DiskSpec, NicSpec, VmSpec

VIRQ_DOM_EXC = 3
VIRQ_CON_RING = 8


def kernel_binds(kernel: KernelFlavour, vcpus: int) -> list[tuple[int, str]]:
    """(vCPU, "virq:<n>" | "ipi:<name>") in the order a booting Linux binds them, CPU by CPU."""
    per = kernel.per_vcpu + (kernel.smp_only if vcpus > 1 else [])
    return [(v, b) for v in range(vcpus) for b in per]


def console_bound(profile: Profile, spec: VmSpec) -> bool:
    return profile.console_for(spec.type)


def disk_has_frontend(profile: Profile, spec: VmSpec, disk: DiskSpec) -> bool:
    """A PV frontend exists for this disk: PV drivers present, and not an HVM CD-ROM (emulated)."""
    if not spec.has_pv_frontends:
        return False
    return not (spec.type == "hvm" and disk.kind == "cdrom" and not profile.hvm_cdrom_pv)


def vbd_rings(profile: Profile, hardware: Hardware, spec: VmSpec, disk: DiskSpec) -> int:
    """Rings = dom0 ports: min(frontend queues, backend max); tapdisk3 has one (reference §7.2)."""
    if not disk_has_frontend(profile, spec, disk):
        return 0
    if profile.vbd_backend == "tapdisk":
        return 1
    backend = profile.blkback_max_queues or hardware.dom0_vcpus
    kernel = profile.guest_kernel(spec.type)
    front = disk.queues if disk.queues is not None else min(kernel.blkfront_max_queues, spec.vcpus)
    return max(1, min(front, backend))


def vif_layout(profile: Profile, hardware: Hardware, spec: VmSpec, nic: NicSpec) -> tuple[int, bool]:
    """(queues, split): each queue costs 2 ports if split else 1 (reference §7.2); (0, False) if absent."""
    if not spec.has_pv_frontends:
        return 0, False
    kernel = profile.guest_kernel(spec.type)
    backend = profile.netback_max_queues or hardware.dom0_vcpus
    front = nic.queues if nic.queues is not None else min(kernel.netfront_max_queues, spec.vcpus)
    queues = max(1, min(front, backend))
    return queues, profile.netback_split and kernel.netfront_split


def vif_ctrl(profile: Profile, spec: VmSpec) -> bool:
    """The optional control ring: +1 port when netback offers it and the frontend uses it (§7.2)."""
    return (
        spec.has_pv_frontends
        and profile.netback_ctrl_ring
        and profile.guest_kernel(spec.type).netfront_ctrl_ring
    )


def vif_ports(profile: Profile, hardware: Hardware, spec: VmSpec, nic: NicSpec) -> int:
    queues, split = vif_layout(profile, hardware, spec, nic)
    return queues * (2 if split else 1) + int(vif_ctrl(profile, spec))


def dm_ports(profile: Profile, spec: VmSpec) -> int:
    """HVM ioreq ports qemu binds: max_vcpus × per-vCPU (+1 buffered) (reference §7.1, §13.1)."""
    if spec.type != "hvm":
        return 0
    return spec.maxvcpus * profile.dm_ports_per_vcpu + (1 if profile.dm_bufioreq else 0)


Phase = Literal["start", "connect"]


@dataclass(frozen=True, slots=True)
class DeviceKind:
    """One row of the device table (reference §7.2)."""

    kind: str
    binder: str
    phase: Phase
    dom0_ports: Callable[[Profile, Hardware, VmSpec], int]
    source: str


DEVICE_TABLE: tuple[DeviceKind, ...] = (
    DeviceKind("xenstore", "xenstored", "start", lambda p, h, s: 1, "reference §7.2 xenstore ring"),
    DeviceKind(
        "console", "xenconsoled", "start", lambda p, h, s: int(console_bound(p, s)), "reference §7.2 console"
    ),
    DeviceKind(
        "vbd",
        "blkback/tapdisk",
        "connect",
        lambda p, h, s: sum(vbd_rings(p, h, s, d) for d in s.disks),
        "reference §7.2 VBD rows",
    ),
    DeviceKind(
        "vif",
        "netback",
        "connect",
        lambda p, h, s: sum(vif_ports(p, h, s, n) for n in s.nics),
        "reference §7.2 VIF row",
    ),
    DeviceKind("device_model", "qemu", "start", lambda p, h, s: dm_ports(p, s), "reference §7.1 HVM ioreq"),
)


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


def dom0_binds(profile: Profile, hardware: Hardware) -> list[tuple[str, int, int]]:
    """What dom0 binds at host boot, in order: ("virq", vcpu, n) / ("ipi", vcpu, 0) / ("pirq", 0, p)."""
    out: list[tuple[str, int, int]] = []
    for vcpu, b in kernel_binds(profile.dom0_kernel, hardware.dom0_vcpus):
        kind, _, arg = b.partition(":")
        out.append((kind, vcpu, int(arg) if kind == "virq" else 0))
    out.extend(("virq", 0, v) for v in profile.dom0_kernel.global_virqs)
    out.extend(("pirq", 0, p) for p in hardware.pirq_numbers)
    return out


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
