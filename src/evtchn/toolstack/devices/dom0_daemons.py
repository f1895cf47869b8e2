"""dom0's processes and drivers that bind event channels; each holds its own ports, keyed by what it
serves, and closes them on teardown.

    xs = Xenstored(hv); xs.start()                 # VIRQ_DOM_EXC + dom0's own xenbus loopback
    port = xs.introduce(domid, guest_store_port)   # XS_INTRODUCE: bind_interdomain in dom0
    xs.release(domid)                              # @releaseDomain: close it

Which component binds what comes from reference §7.1–§7.2; the dom0 kernel's own binds from §7.3 and the
profile's dom0 kernel flavour. The device modules (vbd, vif, console, xenstore_conn, device_model) drive
these binders; this module only holds ports.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from evtchn.toolstack.hardware import Hardware
from evtchn.toolstack.kernel import (
    VIRQ_CON_RING,
    VIRQ_DOM_EXC,
    FifoTracker,
    channels_on_cpu,
    dom0_binds,
    irq_cpus,
    kernel_binds,
    settle,
)
from evtchn.toolstack.profiles import Profile
from evtchn.xen import DOMID_SELF, Hypervisor

DOM0 = 0


class Binder:
    """A dom0 process or driver holding interdomain ports, keyed by what it serves."""

    name = "binder"

    def __init__(self, hv: Hypervisor) -> None:
        self.hv = hv
        self.held: dict[Hashable, list[int]] = {}
        self.fifo = False
        self.cpus = 1  # dom0's vCPUs its kernel spreads new IRQs over (kernel.irq_cpus; Plumbing sets it)

    def bind(self, key: Hashable, domid: int, remote_port: int) -> int:
        """bind_interdomain from dom0; raises XenError (e.g. ENOSPC) with nothing held for that bind."""
        port = self.hv.bind_interdomain(DOM0, domid, remote_port)
        self.held.setdefault(key, []).append(port)
        if self.fifo:
            FifoTracker.track(self.hv, DOM0, port)
        settle(self.hv, DOM0, port, fifo=self.fifo, cpus=self.cpus)
        return port

    def release(self, key: Hashable) -> list[int]:
        """Close every port held for `key` (idempotent)."""
        ports = self.held.pop(key, [])
        for p in ports:
            self.hv.close(DOM0, p)
        return ports

    def ports_for(self, key: Hashable) -> list[int]:
        return list(self.held.get(key, ()))

    def all_ports(self) -> list[int]:
        return [p for ps in self.held.values() for p in ps]

    def count(self) -> int:
        return sum(len(ps) for ps in self.held.values())

    def to_state(self) -> list[list[Any]]:
        return [[_key_to_json(k), list(v)] for k, v in self.held.items()]

    def load_state(self, state: list[list[Any]]) -> None:
        self.held = {_key_from_json(k): [int(p) for p in v] for k, v in state}


def _key_to_json(key: Hashable) -> Any:
    return list(key) if isinstance(key, tuple) else key


def _key_from_json(key: Any) -> Hashable:
    return tuple(key) if isinstance(key, list) else key


class Dom0Kernel(Binder):
    """The Linux dom0: per-vCPU VIRQs and IPIs, global VIRQs, one PIRQ per interrupt (reference §7.3)."""

    name = "dom0-kernel"

    def __init__(self, hv: Hypervisor, profile: Profile, hardware: Hardware) -> None:
        super().__init__(hv)
        self.profile = profile
        self.hardware = hardware
        self.abi = "2-level"
        self.cpus = irq_cpus(profile.dom0_kernel, hardware.dom0_vcpus)

    def boot(self) -> None:
        if self.profile.dom0_kernel.fifo and FifoTracker.init(self.hv, DOM0, self.hardware.dom0_vcpus):
            self.abi = "FIFO"
            self.fifo = True
        irq_map = {n.pirq: n for n in self.hardware.irq_map}
        load = channels_on_cpu(self.hv, DOM0, self.hardware.dom0_vcpus)  # kept up to date by settle()
        n_per_cpu = len(kernel_binds(self.profile.dom0_kernel, self.hardware.dom0_vcpus))
        for i, (kind, vcpu, arg) in enumerate(dom0_binds(self.profile, self.hardware)):
            if kind == "virq":
                port = self.hv.bind_virq(DOM0, arg, vcpu)
            elif kind == "ipi":
                port = self.hv.bind_ipi(DOM0, vcpu)
            else:
                # PHYSDEVOP_map_pirq came first: the Xen IRQ behind the PIRQ (hardware.irq_map).
                self.hv.domains[DOM0].pirq_irq[arg] = irq_map[arg].irq
                port = self.hv.bind_pirq(DOM0, arg)
            self.held.setdefault(kind, []).append(port)
            if self.fifo:
                FifoTracker.track(self.hv, DOM0, port)
            # Per-CPU VIRQs and IPIs stay where they were bound (xen_percpu_chip has no irq_set_affinity);
            # the global VIRQs and PIRQs after them go through the IRQ core's affinity step.
            settle(self.hv, DOM0, port, fifo=self.fifo, cpus=1 if i < n_per_cpu else self.cpus, load=load)
            pin = irq_map[arg].vcpu if kind == "pirq" else None
            here = self.hv.domains[DOM0].ports.notify[port]
            if pin is not None and pin != here:
                # The hardware file's vCPU: an smp_affinity_list write (set_affinity_irq, one CPU).
                self.hv.bind_vcpu(DOM0, port, pin)
                load[here] -= 1
                load[pin] += 1


class Xenstored(Binder):
    """One interdomain port per guest (all on one handle), plus VIRQ_DOM_EXC and dom0's xenbus loopback."""

    name = "xenstored"

    def start(self) -> None:
        # dom0's kernel offers its store port to the local xenstored (/proc/xen/xsd_port), which binds it.
        kport = self.hv.alloc_unbound(DOM0, DOMID_SELF, DOM0)
        self.held["xenbus-kernel"] = [kport]
        settle(self.hv, DOM0, kport, fifo=self.fifo, cpus=self.cpus)
        self.bind("xenbus", DOM0, kport)
        self.held["virq"] = [self.hv.bind_virq(DOM0, VIRQ_DOM_EXC, 0)]
        settle(self.hv, DOM0, self.held["virq"][0], fifo=self.fifo, cpus=self.cpus)

    def introduce(self, domid: int, guest_port: int) -> int:
        """XS_INTRODUCE(domid, mfn, port)."""
        return self.bind(domid, domid, guest_port)


class Xenconsoled(Binder):
    """A separate evtchn handle and port per console; VIRQ_CON_RING when it logs the hypervisor."""

    name = "xenconsoled"

    def __init__(self, hv: Hypervisor, log_hv: bool) -> None:
        super().__init__(hv)
        self.log_hv = log_hv

    def start(self) -> None:
        if self.log_hv:
            self.held["virq"] = [self.hv.bind_virq(DOM0, VIRQ_CON_RING, 0)]
            settle(self.hv, DOM0, self.held["virq"][0], fifo=self.fifo, cpus=self.cpus)


class BlockBackend(Binder):
    """blkback (kernel, one port per ring) or tapdisk3 (user space, one port); keyed (domid, devid)."""

    def __init__(self, hv: Hypervisor, kind: str) -> None:
        super().__init__(hv)
        self.name = kind


class NetBackend(Binder):
    """netback: per queue one port, or two when split (reference §7.2); keyed (domid, devid)."""

    name = "netback"


class DeviceModels(Binder):
    """One qemu per HVM guest binding its ioreq ports; keyed by domid (reference §7.1)."""

    name = "qemu"
