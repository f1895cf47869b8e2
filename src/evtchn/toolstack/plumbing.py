"""What every atom acts on: the hypervisor, xenstore, dom0's binders, the profile, and the host's counters.

    p = Plumbing(get_profile("xen-xl"), get_hardware(None)); p.boot_dom0()
    p.hv, p.xenstore, p.xenstored, p.blkback            # the live pieces
    p.fail(p.profile.store_failure, vm, err, "xenstored_introduce")   # an AtomFailed carrying a StartError

One object per host; the Host facade owns it and hands it to the executor (atoms.py).
"""

from __future__ import annotations

import math
from typing import Any

from evtchn.toolstack.devices.dom0_daemons import (
    DOM0,
    Binder,
    BlockBackend,
    DeviceModels,
    Dom0Kernel,
    NetBackend,
    Xenconsoled,
    Xenstored,
)
from evtchn.toolstack.errors import StartError, ToolstackError
from evtchn.toolstack.fault import FaultConsumer
from evtchn.toolstack.hardware import Hardware
from evtchn.toolstack.memory import MemoryModel
from evtchn.toolstack.profiles import Failure, Profile
from evtchn.toolstack.records import Vm
from evtchn.xen import Hypervisor, HypervisorSettings, XenError
from evtchn.xen.abi import TwoLevel
from evtchn.xenstore import XenStore

DOM0_NAME = "Domain-0"  # dom0 is a running domain of this name; no VM may take it (xl refuses it too)


class AtomFailed(Exception):
    """An atom could not do its part; the executor undoes what ran and re-raises `.error` to the caller
    (a StartError for a start-time bind, a DeviceError for a hot-plug)."""

    def __init__(self, error: ToolstackError) -> None:
        super().__init__(error.message)
        self.error = error


class Plumbing:
    def __init__(self, profile: Profile, hardware: Hardware) -> None:
        self.profile = profile
        self.hardware = hardware
        self.hv = Hypervisor(HypervisorSettings(xen_version=profile.xen_version))
        self.xenstore = XenStore()
        self.by_domid: dict[int, Vm] = {}
        self.tty = 0  # the last /dev/pts number xenconsoled handed out
        self.grefs: dict[int, int] = {}  # next grant reference per domain
        self.restarting: set[str] = set()  # VM uuids whose on_crash restart is running (crash.py)
        self.left_dying = False  # ... and domain.destroy did leave one (AtomFailed's error says so)
        self.leave_dying = False  # the failure being undone leaves the domain dying (Failure.leaves_dying)
        self.early_ioreq: list[int] = []  # between VM_create and the device model, within one start
        self.memory = MemoryModel()
        self.footprints: dict[int, int] = {}  # MiB each live domain takes (memory.py), by domid
        self.resident_mib = 0  # their sum
        self.kernel = Dom0Kernel(self.hv, profile, hardware)
        self.xenstored = Xenstored(self.hv)
        self.xenconsoled = Xenconsoled(self.hv, profile.xenconsoled_log_hv)
        self.blkback = BlockBackend(self.hv, "tapdisk" if profile.vbd_backend == "tapdisk" else "blkback")
        self.netback = NetBackend(self.hv)
        self.qemu = DeviceModels(self.hv)
        self.fault = FaultConsumer(self.hv)  # `evtchn fault`: a process holding /dev/xen/evtchn (fault.py)
        # xenstore backend kind: tapdisk3 serves "vbd3" (reference §7.2)
        self.vbd_backend_kind = "vbd3" if profile.vbd_backend == "tapdisk" else "vbd"

    @property
    def rover(self) -> int:
        """Xen's domid rover: the toolstack lets createdomain choose (reference §1); kept in the host part
        under this name, so a file written when the toolstack chose domids itself goes on from there."""
        return self.hv.domid_rover

    @rover.setter
    def rover(self, domid: int) -> None:
        self.hv.domid_rover = domid

    @property
    def binders(self) -> tuple[Binder, ...]:
        return (
            self.kernel,
            self.xenstored,
            self.xenconsoled,
            self.blkback,
            self.netback,
            self.qemu,
            self.fault,
        )

    def boot_dom0(self) -> None:
        """dom0 binds its baseline: kernel VIRQs/IPIs/PIRQs, xenstored, xenconsoled (reference §7.3)."""
        p, h = self.profile, self.hardware
        d0 = self.hv.create_domain(
            DOM0, privileged=True, max_vcpus=h.dom0_vcpus, guest_width=p.dom0_width, nr_pirqs=h.nr_pirqs
        )
        if p.dom0_max_evtchns and p.dom0_max_evtchns != p.dom0_width**2:
            # XenServer 6.2's special case: a 32-bit dom0 with 4096 2L channels (reference §10, §13.2).
            d0.set_abi(TwoLevel(math.isqrt(p.dom0_max_evtchns)))
        try:
            self.kernel.boot()
            for b in self.binders:
                b.fifo = self.kernel.fifo
                b.cpus = self.kernel.cpus
            self.xenstored.start()
            self.xenconsoled.start()
            self.dom0_events()
        except XenError as e:
            raise ToolstackError(f"dom0 cannot bind its own baseline on this hardware: {e}") from None
        self.xenstore.write_many("/local/domain/0", {"name": DOM0_NAME, "domid": 0})
        self.xenstore.mkdir("/local/domain/0/backend")

    def domain_memory(self, domid: int, mib: int) -> None:
        """Account a domain's footprint (0: the domain is gone)."""
        self.resident_mib += mib - self.footprints.pop(domid, 0)
        if mib:
            self.footprints[domid] = mib

    def dom0_events(self) -> None:
        """dom0's Linux handles the events its new binds left pending (one upcall for the batch)."""
        self.hv.drain(DOM0, 0)

    def fail(self, failure: Failure, vm: Vm, e: XenError, op: str) -> AtomFailed:
        """The profile's text for a failed start-time bind, as an AtomFailed for the executor."""
        domid = vm.domid if vm.domid is not None else -1
        fields = {
            "vm": vm.uuid,
            "name": vm.name,
            "uuid": vm.uuid,
            "domid": domid,
            "errno": e.code,
            "errname": e.name,
            "strerror": e.errno.strerror,
        }
        self.leave_dying = failure.leaves_dying  # read by the domain's undo (domain.destroy)
        message = failure.message.format(**fields)
        params = [p.format(message=message, **fields) for p in failure.xenapi_params]
        return AtomFailed(StartError(message, xenapi_code=failure.xenapi_code, xenapi_params=params, op=op))

    # ------------------------------------------------------------------ persistence

    def to_state(self) -> dict[str, Any]:
        return {
            "profile": self.profile.model_dump(mode="json"),
            "hardware": self.hardware.model_dump(mode="json"),
            "hypervisor": self.hv.to_state(),
            "xenstore": self.xenstore.to_state(),
            "rover": self.rover,
            "tty": self.tty,
            "grefs": {str(k): v for k, v in self.grefs.items()},
            "binders": {b.name: b.to_state() for b in self.binders},
            "dom0_abi": self.kernel.abi,
            "memory": {
                "xen_reserved_mib": self.memory.xen_reserved_mib,
                "shadow": self.memory.shadow_multiplier,
            },
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Plumbing:
        p = cls(Profile.model_validate(state["profile"]), Hardware.model_validate(state["hardware"]))
        p.hv = Hypervisor.from_state(state["hypervisor"])
        for b in p.binders:
            b.hv = p.hv
            b.load_state(state["binders"].get(b.name, []))  # a file from before `evtchn fault` has none
            b.fifo = state["dom0_abi"] == "FIFO"
            b.cpus = p.kernel.cpus  # derived from the profile's dom0 kernel and the hardware
        p.kernel.abi = state["dom0_abi"]
        p.xenstore = XenStore.from_state(state["xenstore"])
        p.rover = int(state["rover"])
        p.tty = int(state["tty"])
        p.grefs = {int(k): int(v) for k, v in state["grefs"].items()}
        mem = state.get("memory", {})
        p.memory = MemoryModel(int(mem.get("xen_reserved_mib", 512)), float(mem.get("shadow", 1.0)))
        return p
