"""dom0's cost of one VM, written only from the reference (§7.2 table, §7.3 formula, §8.3a), not from the
toolstack's device modules: nothing here imports evtchn.toolstack.devices or evtchn.toolstack.costs.

It reads a profile's *data* (which backend, queue caps, split support, console policy), never its code, so
a wrong ring count in the toolstack's device functions moves the planner and the simulation together but
not this model, and the test in test_cost_model.py fails.
"""

from __future__ import annotations

from dataclasses import dataclass

from evtchn.toolstack import Hardware, Profile, VmSpec
from evtchn.toolstack.profiles import KernelFlavour


@dataclass(frozen=True)
class Cost:
    xenstore: int
    console: int
    vbd: int
    vif: int
    device_model: int

    @property
    def total(self) -> int:
        return self.xenstore + self.console + self.vbd + self.vif + self.device_model

    @property
    def at_start(self) -> int:
        """§13.4 / §8.3a: xenstored, xenconsoled and qemu bind during VM.start; kernel backends at connect."""
        return self.xenstore + self.console + self.device_model

    def as_dict(self) -> dict[str, int]:
        return {
            "xenstore": self.xenstore,
            "console": self.console,
            "vbd": self.vbd,
            "vif": self.vif,
            "device_model": self.device_model,
        }


def _kernel(profile: Profile, vm_type: str) -> KernelFlavour:
    # §7.1: the frontends are the guest kernel's (the PV drivers in an HVM guest); PVH falls back to PV.
    if vm_type == "hvm":
        return profile.hvm_guest_kernel
    if vm_type == "pvh" and profile.pvh_guest_kernel is not None:
        return profile.pvh_guest_kernel
    return profile.pv_guest_kernel


def reference_cost(profile: Profile, hardware: Hardware, spec: VmSpec) -> Cost:
    """§7.3: 1 (xenstore) + console + Σ_vbd rings + Σ_vif [queues × (split ? 2 : 1) + ctrl] + HVM ioreq."""
    # §7.1 last bullet: VBD/VIF channels appear only when PV frontends connect (HVM: after PV drivers).
    frontends = spec.type != "hvm" or spec.pv_drivers
    kernel = _kernel(profile, spec.type)
    vcpus = spec.vcpus
    maxv = spec.max_vcpus if spec.max_vcpus is not None else spec.vcpus

    # §7.2 console row; §13.6: whether an HVM guest has a console is the profile's choice.
    console = {"pv": profile.console_pv, "hvm": profile.console_hvm, "pvh": profile.console_pvh}[spec.type]

    vbd = 0
    if frontends:
        for d in spec.disks:
            if d.kind == "cdrom" and spec.type == "hvm" and not profile.hvm_cdrom_pv:
                continue  # blkfront leaves an HVM guest's CD-ROM emulated (§7.1: no channel)
            if profile.vbd_backend == "tapdisk":
                vbd += 1  # §7.2 tapdisk3 row: top-level event-channel only
                continue
            # §7.2 blkback row: N = frontend's queues ≤ backend max (default: dom0 CPUs); the frontend's
            # default is its driver maximum, never more than the guest's vCPUs.
            back = profile.blkback_max_queues if profile.blkback_max_queues else hardware.dom0_vcpus
            front = d.queues if d.queues is not None else min(kernel.blkfront_max_queues, vcpus)
            vbd += max(1, min(front, back))

    vif = 0
    if frontends:
        split = profile.netback_split and kernel.netfront_split  # both ends must support it (§7.2)
        ctrl = profile.netback_ctrl_ring and kernel.netfront_ctrl_ring
        back = profile.netback_max_queues if profile.netback_max_queues else hardware.dom0_vcpus
        for nic in spec.nics:
            front = nic.queues if nic.queues is not None else min(kernel.netfront_max_queues, vcpus)
            queues = max(1, min(front, back))
            vif += queues * (2 if split else 1) + (1 if ctrl else 0)

    # §7.1 HVM ioreq: per vCPU (max_vcpus, since Xen sizes by the domain's max) plus the buffered port.
    dm = maxv * profile.dm_ports_per_vcpu + int(profile.dm_bufioreq) if spec.type == "hvm" else 0
    return Cost(xenstore=1, console=int(console), vbd=vbd, vif=vif, device_model=dm)
