"""A simulated host: hypervisor, dom0 and its binders, xenstore, and xenopsd-style VM lifecycle.

    host = Host.create("xenserver-6.2")              # default hardware
    host.define_vm(seed_vm_spec("vm1"))
    vm = host.start_vm("vm1")                        # StartError if a start-time bind fails
    vm.devices                                       # DeviceStatus per VBD/VIF: connected / error
    host.can_start(spec)                             # Admission: ok, needed, free, shortfall, binding limit
    host.shutdown_vm("vm1")                          # every port on both sides released

start is an ordered list of micro-ops in xenopsd's order (reference §8.1), each registering how to undo
itself before it acts, so a failure at any point leaves nothing behind. The guest's boot (frontends
allocate and publish, backends bind) is a separate step, immediate by default (reference §8.3a, §13.4).
"""

from __future__ import annotations

import hashlib
import math
import random
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evtchn.toolstack import costs
from evtchn.toolstack.components import (
    DOM0,
    Binder,
    BlockBackend,
    DeviceModels,
    Dom0Kernel,
    FifoTracker,
    NetBackend,
    Xenconsoled,
    Xenstored,
    settle,
)
from evtchn.toolstack.errors import BadPowerState, NoSuchVm, StartError, ToolstackError, VmExists
from evtchn.toolstack.hardware import Hardware, get_hardware
from evtchn.toolstack.profiles import Failure, Profile, get_profile
from evtchn.toolstack.spec import DiskSpec, NicSpec, VmSpec
from evtchn.xen import DOMID_FIRST_RESERVED, DOMID_SELF, ECS, Hypervisor, HypervisorSettings, XenError
from evtchn.xen.abi import TwoLevel
from evtchn.xenstore import XenStore

HALTED, PAUSED, RUNNING = "Halted", "Paused", "Running"
DOM0_NAME = "Domain-0"  # dom0 is a running domain of this name; no VM may take it (xl refuses it too)
STATE_VERSION = 2  # 2: xenstore kept as a tree

# xenbus states (xen: xen/include/public/io/xenbus.h)
XB_INITIALISING, XB_INITWAIT, XB_INITIALISED, XB_CONNECTED, XB_CLOSING = 1, 2, 3, 4, 5


@dataclass(slots=True)
class DeviceStatus:
    """One VBD or VIF as the toolstack sees it after the guest's frontends and dom0's backends met.

    state: "plugged" (not booted yet), "connected", "failed" (backend error), "absent" (frontend had no
    port), "emulated" (no PV frontend: HVM without PV drivers, or an HVM CD-ROM).
    """

    kind: str
    devid: int
    connected: bool = False
    error: str | None = None
    dom0_ports: list[int] = field(default_factory=list)
    guest_ports: list[int] = field(default_factory=list)
    state: str = "plugged"
    frontend_error: str | None = None
    queues: int = 0
    split: bool = False


@dataclass(slots=True, eq=False)
class Vm:
    name: str
    uuid: str
    spec: VmSpec
    power_state: str = HALTED
    domid: int | None = None
    devices: list[DeviceStatus] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    booted: bool = False
    boot_on_unpause: bool = False
    guest_abi: str = ""
    last_error: str | None = None


@dataclass(slots=True)
class Admission:
    ok: bool
    needed: int
    free: int
    shortfall: int
    binding_limit: str
    detail: str


class _StartFailed(Exception):
    def __init__(self, error: StartError) -> None:
        super().__init__(error.message)
        self.error = error


class Host:
    def __init__(self, profile: Profile, hardware: Hardware) -> None:
        self.profile = profile
        self.hardware = hardware
        self.hv = Hypervisor(HypervisorSettings(xen_version=profile.xen_version))
        self.xenstore = XenStore()
        self.vms: dict[str, Vm] = {}
        self._by_domid: dict[int, Vm] = {}
        self._rover = 0
        self._tty = 0
        self._grefs: dict[int, int] = {}
        self._early_ioreq: list[int] = []  # between VM_create and the device model, within one start
        self.kernel = Dom0Kernel(self.hv, profile, hardware)
        self.xenstored = Xenstored(self.hv)
        self.xenconsoled = Xenconsoled(self.hv, profile.xenconsoled_log_hv)
        self.blkback = BlockBackend(self.hv, "tapdisk" if profile.vbd_backend == "tapdisk" else "blkback")
        self.netback = NetBackend(self.hv)
        self.qemu = DeviceModels(self.hv)
        # xenstore backend kind: tapdisk3 serves "vbd3" (reference §7.2)
        self.vbd_backend_kind = "vbd3" if profile.vbd_backend == "tapdisk" else "vbd"
        ops: dict[str, Callable[[Vm, list[Callable[[], object]]], None]] = {
            "xenstored_introduce": self._op_introduce,
            "xenconsoled_bind": self._op_console,
            "VBD_plug": self._op_plug_vbds,
            "VIF_plug": self._op_plug_vifs,
            "VM_create_device_model": self._op_device_model,
        }
        self._start_ops = [ops[name] for name in profile.start_order]

    @property
    def binders(self) -> tuple[Binder, ...]:
        return (self.kernel, self.xenstored, self.xenconsoled, self.blkback, self.netback, self.qemu)

    # ------------------------------------------------------------------ creation

    @classmethod
    def create(cls, profile: str | Profile = "xenserver-6.2", hardware: str | Hardware | None = None) -> Host:
        """Boot a host: dom0 binds its baseline (kernel VIRQs/IPIs/PIRQs, xenstored, xenconsoled)."""
        p = get_profile(profile) if isinstance(profile, str) else profile
        h = hardware if isinstance(hardware, Hardware) else get_hardware(hardware)
        host = cls(p, h)
        host._boot_dom0()
        return host

    def _boot_dom0(self) -> None:
        p, h = self.profile, self.hardware
        d0 = self.hv.create_domain(
            DOM0, privileged=True, max_vcpus=h.dom0_vcpus, guest_width=p.dom0_width, nr_pirqs=h.nr_pirqs
        )
        if p.dom0_max_evtchns and p.dom0_max_evtchns != p.dom0_width**2:
            # XenServer 6.2's special case: a 32-bit dom0 with 4096 2L channels (reference §10, §13.2).
            d0.set_abi(TwoLevel(math.isqrt(p.dom0_max_evtchns)))
        try:
            self.kernel.boot()
            fifo = self.kernel.fifo
            for b in self.binders:
                b.fifo = fifo
            self.xenstored.start()
            self.xenconsoled.start()
            self._dom0_events()
        except XenError as e:
            raise ToolstackError(f"dom0 cannot bind its own baseline on this hardware: {e}") from None
        xs = self.xenstore
        xs.write_many("/local/domain/0", {"name": DOM0_NAME, "domid": 0})
        xs.mkdir("/local/domain/0/backend")

    # ------------------------------------------------------------------ VM records

    def vm(self, name: str) -> Vm:
        """The VM record by name; NoSuchVm (a one-line ToolstackError) if there is none."""
        return self._vm(name)

    def _vm(self, name: str) -> Vm:
        try:
            return self.vms[name]
        except KeyError:
            raise NoSuchVm(name) from None

    def define_vm(self, spec: VmSpec, *, uuid: str | None = None) -> Vm:
        if spec.name in self.vms or spec.name == DOM0_NAME:
            raise VmExists(spec.name)
        vm = Vm(name=spec.name, uuid=uuid or _new_uuid(), spec=spec)
        self.vms[spec.name] = vm
        return vm

    def update_vm(self, name: str, spec: VmSpec) -> Vm:
        vm = self._vm(name)
        if vm.power_state != HALTED:
            raise BadPowerState(name, ["halted"], vm.power_state)
        if spec.name != name:
            if spec.name in self.vms or spec.name == DOM0_NAME:
                raise VmExists(spec.name)
            del self.vms[name]
            self.vms[spec.name] = vm
            vm.name = spec.name
        vm.spec = spec
        return vm

    def remove_vm(self, name: str) -> None:
        vm = self._vm(name)
        if vm.power_state != HALTED:
            raise BadPowerState(name, ["halted"], vm.power_state)
        del self.vms[name]

    def vm_by_domid(self, domid: int) -> Vm | None:
        return self._by_domid.get(domid)

    # ------------------------------------------------------------------ accounting

    def dom0_ports_used(self) -> int:
        return self.hv.domains[DOM0].active_evtchns

    def dom0_ports_usable(self) -> int:
        return self.hv.domains[DOM0].limit_port

    def dom0_ports_free(self) -> int:
        return self.dom0_ports_usable() - self.dom0_ports_used()

    def vm_dom0_ports(self, name: str) -> dict[str, list[int]]:
        """The dom0 ports a VM holds now, by kind (the same keys as VmCost.by_kind)."""
        vm = self._vm(name)
        out: dict[str, list[int]] = {row.kind: [] for row in costs.DEVICE_TABLE}
        if vm.domid is None:
            return out
        out["xenstore"] = self.xenstored.ports_for(vm.domid)
        out["console"] = self.xenconsoled.ports_for(vm.domid)
        out["device_model"] = self.qemu.ports_for(vm.domid)
        for dev in vm.devices:
            out[dev.kind].extend(dev.dom0_ports)
        return out

    def baseline(self) -> dict[str, int]:
        return costs.dom0_baseline(self.profile, self.hardware)

    def guest_port_limit(self, spec: VmSpec) -> int:
        """Usable guest ports: min(max_evtchn_port, max_evtchns − 1) once its kernel chose an ABI (§1)."""
        cap = (
            spec.max_event_channels
            if spec.max_event_channels is not None
            else self.profile.guest_max_evtchn_port
        )
        kernel = self.profile.guest_kernel(spec.type)
        fifo = spec.has_pv_frontends and kernel.fifo and self.hv.settings.fifo_supported
        abi = 131072 if fifo else self.profile.guest_width**2
        return abi - 1 if cap < 0 else min(cap, abi - 1)

    def can_start(self, spec: VmSpec) -> Admission:
        """Would this VM start with every device connected? Which limit binds first."""
        cost = costs.vm_cost(self.profile, self.hardware, spec)
        free = self.dom0_ports_free()
        guest_limit = self.guest_port_limit(spec)
        dom0_short = max(0, cost.total - free)
        guest_short = max(0, cost.guest_ports - guest_limit)
        dom0_name = f"dom0 event channels ({self.dom0_ports_usable()} usable)"
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
            # Where the guest's table runs out decides how it fails (reference §8.3a).
            p = self.profile
            at_start = 1 + int(costs.console_bound(p, spec)) + costs.dm_ports(p, spec)
            at_start += spec.maxvcpus if spec.type == "hvm" and p.ca140252_workaround else 0
            kernel = (
                len(costs.kernel_binds(p.guest_kernel(spec.type), spec.vcpus)) if spec.has_pv_frontends else 0
            )
            if guest_limit < at_start:
                outcome = "start would fail: the guest's table cannot hold its store/console/ioreq ports"
            elif guest_limit < at_start + kernel:
                outcome = "the guest would die at boot (kernel BUG binding its per-vCPU VIRQs/IPIs)"
            else:
                outcome = f"the guest's frontends would lack {guest_short} port(s)"
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

    # ------------------------------------------------------------------ lifecycle

    def start_vm(self, name: str, *, paused: bool = False, boot: bool = True) -> Vm:
        """VM.start: micro-ops with rollback; then (unless paused or boot=False) the guest boots."""
        vm = self._vm(name)
        if vm.power_state != HALTED:
            raise BadPowerState(name, ["halted"], vm.power_state)
        undo: list[Callable[[], object]] = []
        vm.devices = self._fresh_devices(vm.spec)
        vm.booted = False
        vm.guest_abi = ""
        vm.last_error = None
        try:
            self._op_create(vm, undo)
            self._op_build(vm, undo)
            for op in self._start_ops:
                op(vm, undo)
        except _StartFailed as f:
            self._dom0_events()  # events of binds made before the failure (FIFO: unlink before reuse)
            for u in reversed(undo):
                u()
            self._halted(vm)
            vm.last_error = f.error.message
            vm.messages.append(f.error.message)
            raise f.error from None
        self._dom0_events()
        if paused:
            vm.power_state = PAUSED
            vm.boot_on_unpause = boot
            return vm
        self.hv.unpause(vm.domid)  # type: ignore[arg-type]
        vm.power_state = RUNNING
        if boot:
            self._boot(vm)
        return vm

    def unpause_vm(self, name: str) -> Vm:
        vm = self._vm(name)
        if vm.power_state != PAUSED:
            raise BadPowerState(name, ["paused"], vm.power_state)
        assert vm.domid is not None
        self.hv.unpause(vm.domid)
        vm.power_state = RUNNING
        if vm.boot_on_unpause and not vm.booted:
            vm.boot_on_unpause = False
            self._boot(vm)
        return vm

    def boot_vm(self, name: str) -> Vm:
        """The deferred guest boot: the kernel binds its VIRQs/IPIs, frontends publish, backends bind."""
        vm = self._vm(name)
        if vm.power_state != RUNNING:
            raise BadPowerState(name, ["running"], vm.power_state)
        if vm.booted:
            raise ToolstackError(f"VM {name} has already booted")
        self._boot(vm)
        return vm

    def shutdown_vm(self, name: str) -> Vm:
        """Clean shutdown: devices unplugged, domain destroyed, daemons release on @releaseDomain."""
        vm = self._vm(name)
        if vm.power_state not in (RUNNING, PAUSED):
            raise BadPowerState(name, ["running", "paused"], vm.power_state)
        self._teardown(vm)
        return vm

    def destroy_vm(self, name: str) -> Vm:
        """Hard shutdown: same releases as shutdown, from any live state."""
        return self.shutdown_vm(name)

    def reboot_vm(self, name: str) -> Vm:
        vm = self._vm(name)
        if vm.power_state not in (RUNNING, PAUSED):
            raise BadPowerState(name, ["running", "paused"], vm.power_state)
        self._teardown(vm)
        return self.start_vm(name)

    # ------------------------------------------------------------------ micro-ops

    def _fail(self, failure: Failure, vm: Vm, e: XenError, op: str) -> _StartFailed:
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
        message = failure.message.format(**fields)
        params = [p.format(message=message, **fields) for p in failure.xenapi_params]
        return _StartFailed(StartError(message, xenapi_code=failure.xenapi_code, xenapi_params=params, op=op))

    def _next_domid(self) -> int:
        # Xen's createdomain hands out domids from a rover that wraps (xen: xen/common/domctl.c).
        d = self._rover
        for _ in range(DOMID_FIRST_RESERVED):
            d = d + 1 if d + 1 < DOMID_FIRST_RESERVED else 1
            if d not in self.hv.domains:
                self._rover = d
                return d
        raise ToolstackError("no free domid")

    def _op_create(self, vm: Vm, undo: list[Callable[[], object]]) -> None:
        """VM_create: the domain (paused), max_evtchn_port from the profile or spec (reference §1, §8.1)."""
        spec, p = vm.spec, self.profile
        cap = spec.max_event_channels if spec.max_event_channels is not None else p.guest_max_evtchn_port
        domid = self._next_domid()
        self.hv.create_domain(
            domid,
            max_vcpus=spec.maxvcpus,
            guest_width=p.guest_width,
            max_evtchn_port=cap,
            is_hvm=spec.type == "hvm",
            paused=True,
        )
        vm.domid = domid
        self._by_domid[domid] = vm
        undo.append(lambda: self._destroy_domain(vm))
        self.xenstore.write_many(f"/vm/{vm.uuid}", {"uuid": vm.uuid, "name": vm.name})
        self.xenstore.write_many(
            f"/local/domain/{domid}", {"name": vm.name, "domid": domid, "vm": f"/vm/{vm.uuid}"}
        )
        self.xenstore.write(f"/libxl/{domid}/type", spec.type)
        if spec.type == "hvm" and p.ioreq_at_domain_create:
            # Xen ≤ 4.3 allocated ioreq ports at vCPU initialisation (reference §7.1).
            try:
                self._early_ioreq = self._alloc_ioreq(vm)
            except XenError as e:
                raise self._fail(p.guest_alloc_failure, vm, e, "VM_create") from None

    def _alloc_ioreq(self, vm: Vm) -> list[int]:
        assert vm.domid is not None
        ports = []
        for v in range(vm.spec.maxvcpus):
            for _ in range(self.profile.dm_ports_per_vcpu):
                ports.append(self.hv.alloc_unbound_xen(vm.domid, v, DOM0))
        if self.profile.dm_bufioreq:
            ports.append(self.hv.alloc_unbound_xen(vm.domid, 0, DOM0, consumer="ioreq"))
        return ports

    def _op_build(self, vm: Vm, undo: list[Callable[[], object]]) -> None:
        """VM_build: the toolstack allocates store and console ports in the guest (reference §8.1 3b)."""
        assert vm.domid is not None
        domid, p, xs = vm.domid, self.profile, self.xenstore
        try:
            if vm.spec.type == "hvm" and p.ca140252_workaround:
                for _ in range(vm.spec.maxvcpus):
                    self.hv.alloc_unbound(DOM0, domid, DOM0)
            store = self.hv.alloc_unbound(DOM0, domid, DOM0)
            console = self.hv.alloc_unbound(DOM0, domid, DOM0) if costs.console_bound(p, vm.spec) else None
        except XenError as e:
            raise self._fail(p.guest_alloc_failure, vm, e, "VM_build") from None
        base = f"/local/domain/{domid}"
        xs.write_many(f"{base}/store", {"port": store, "ring-ref": _store_mfn(domid, vm.spec.type)})
        if console is not None:
            keys: dict[str, str | int] = {"port": console, "ring-ref": _store_mfn(domid, vm.spec.type) - 1}
            if p.toolstack == "xenopsd":
                keys["limit"] = 65536
            else:
                keys["type"] = "xenconsoled"
            xs.write_many(f"{base}/console", keys)
        if p.toolstack == "xenopsd":
            xs.write(f"{base}/serial/0/limit", 65536)

    def _op_introduce(self, vm: Vm, undo: list[Callable[[], object]]) -> None:
        """xs.introduce: xenstored binds the store port in dom0 (reference §7.2, §8.1 3c)."""
        assert vm.domid is not None
        domid = vm.domid
        undo.append(lambda: self.xenstored.release(domid))
        port = int(self.xenstore.read(f"/local/domain/{domid}/store/port"))
        try:
            self.xenstored.introduce(domid, port)
        except XenError as e:
            raise self._fail(self.profile.store_failure, vm, e, "xenstored_introduce") from None

    def _op_console(self, vm: Vm, undo: list[Callable[[], object]]) -> None:
        """xenconsoled binds the console port on its own handle and writes console/tty."""
        assert vm.domid is not None
        domid = vm.domid
        port_text = self.xenstore.get(f"/local/domain/{domid}/console/port")
        if port_text is None:
            return
        undo.append(lambda: self.xenconsoled.release(domid))
        try:
            self.xenconsoled.bind(domid, domid, int(port_text))
        except XenError as e:
            raise self._fail(self.profile.console_failure, vm, e, "xenconsoled_bind") from None
        self._tty += 1
        self.xenstore.write(f"/local/domain/{domid}/console/tty", f"/dev/pts/{self._tty}")

    def _op_plug_vbds(self, vm: Vm, undo: list[Callable[[], object]]) -> None:
        """VBD_plug, read/write before read-only: frontend and backend dirs, hotplug (reference §8.1 6)."""
        assert vm.domid is not None
        domid = vm.domid
        undo.append(lambda: self._unplug_vbds(vm))
        disks = sorted(vm.spec.disks, key=lambda d: d.mode != "rw")
        for disk in disks:
            self._plug_vbd(vm, domid, disk)

    def _plug_vbd(self, vm: Vm, domid: int, disk: DiskSpec) -> None:
        devid = disk.vbd_devid
        back = f"/local/domain/0/backend/{self.vbd_backend_kind}/{domid}/{devid}"
        front = f"/local/domain/{domid}/device/vbd/{devid}"
        xs = self.xenstore
        xs.write_many(
            front,
            {
                "backend": back,
                "backend-id": 0,
                "state": XB_INITIALISING,
                "virtual-device": devid,
                "device-type": disk.kind,
            },
        )
        bkeys: dict[str, str | int] = {
            "frontend": front,
            "frontend-id": domid,
            "online": 1,
            "removable": int(disk.kind == "cdrom"),
            "state": XB_INITIALISING,
            "dev": _vdev_name(devid),
            "type": "phy",
            "mode": "w" if disk.mode == "rw" else "r",
            "params": f"/dev/sm/backend/{vm.uuid}/{devid}",
        }
        if self.profile.vbd_backend == "blkback":
            maxq = self.profile.blkback_max_queues or self.hardware.dom0_vcpus
            if maxq > 1:
                bkeys["multi-queue-max-queues"] = maxq
        # Then hotplug is done and the backend driver waits for the frontend (one batch here).
        bkeys["hotplug-status"] = "connected"
        bkeys["state"] = XB_INITWAIT
        xs.write_many(back, bkeys)

    def _unplug_vbds(self, vm: Vm) -> None:
        self._unplug(vm, self.vbd_backend_kind, "vbd")

    def _op_plug_vifs(self, vm: Vm, undo: list[Callable[[], object]]) -> None:
        """VIF_plug in device order (reference §8.1 8)."""
        assert vm.domid is not None
        domid = vm.domid
        undo.append(lambda: self._unplug_vifs(vm))
        for nic in sorted(vm.spec.nics, key=lambda n: n.devid):
            self._plug_vif(vm, domid, nic)

    def _plug_vif(self, vm: Vm, domid: int, nic: NicSpec) -> None:
        n = nic.devid
        back = f"/local/domain/0/backend/vif/{domid}/{n}"
        front = f"/local/domain/{domid}/device/vif/{n}"
        mac = nic.mac or _mac(vm.uuid, n)
        xs = self.xenstore
        xs.write_many(
            front, {"backend": back, "backend-id": 0, "state": XB_INITIALISING, "handle": n, "mac": mac}
        )
        script = (
            "/etc/xensource/scripts/vif"
            if self.profile.toolstack == "xenopsd"
            else "/etc/xen/scripts/vif-bridge"
        )
        bkeys: dict[str, str | int] = {
            "frontend": front,
            "frontend-id": domid,
            "online": 1,
            "state": XB_INITIALISING,
            "script": script,
            "mac": mac,
            "handle": n,
        }
        if self.profile.netback_split:
            bkeys["feature-split-event-channels"] = 1
        maxq = self.profile.netback_max_queues or self.hardware.dom0_vcpus
        if maxq > 1:
            bkeys["multi-queue-max-queues"] = maxq
        bkeys["hotplug-status"] = "connected"
        bkeys["state"] = XB_INITWAIT
        xs.write_many(back, bkeys)

    def _unplug_vifs(self, vm: Vm) -> None:
        self._unplug(vm, "vif", "vif")

    def _unplug(self, vm: Vm, backend_kind: str, frontend_kind: str) -> None:
        """Remove a device class's backend directory, its error nodes and the frontend directory."""
        assert vm.domid is not None
        xs = self.xenstore
        xs.rm(f"/local/domain/0/backend/{backend_kind}/{vm.domid}")
        xs.rm(f"/local/domain/0/error/backend/{backend_kind}/{vm.domid}")
        xs.rm(f"/local/domain/{vm.domid}/device/{frontend_kind}")

    def _op_device_model(self, vm: Vm, undo: list[Callable[[], object]]) -> None:
        """VM_create_device_model: qemu binds the ioreq ports (Xen-consumer guest ports) (§7.1, §8.1 9)."""
        if vm.spec.type != "hvm":
            return
        assert vm.domid is not None
        domid = vm.domid
        undo.append(lambda: self.qemu.release(domid))
        try:
            early = self.profile.ioreq_at_domain_create
            ports = self._early_ioreq if early else self._alloc_ioreq(vm)
            for port in ports:
                self.qemu.bind(domid, domid, port)
        except XenError as e:
            raise self._fail(self.profile.dm_failure, vm, e, "VM_create_device_model") from None

    # ------------------------------------------------------------------ guest boot

    def _boot(self, vm: Vm) -> None:
        """The guest kernel comes up: own VIRQs/IPIs, then frontends publish, then backends bind."""
        assert vm.domid is not None
        vm.booted = True
        spec = vm.spec
        if not spec.has_pv_frontends:
            vm.guest_abi = "none (no PV drivers)"
            for dev in vm.devices:
                dev.state = "emulated"
            return
        domid = vm.domid
        kernel = self.profile.guest_kernel(spec.type)
        fifo = kernel.fifo and FifoTracker.init(self.hv, domid, spec.vcpus)
        vm.guest_abi = "FIFO" if fifo else "2-level"
        for vcpu, bind in costs.kernel_binds(kernel, spec.vcpus):
            kind, _, arg = bind.partition(":")
            try:
                if kind == "virq":
                    port = self.hv.bind_virq(domid, int(arg), vcpu)
                else:
                    port = self.hv.bind_ipi(domid, vcpu)
            except XenError:
                fn = "bind_virq_to_irq" if kind == "virq" else "bind_ipi_to_irq"
                vm.messages.append(kernel.bug_line.format(function=fn, vcpu=vcpu, bind=bind))
                vm.last_error = vm.messages[-1]
                # The guest panics; the crash action (destroy) halts the VM.
                self._teardown(vm)
                return
            if fifo:
                FifoTracker.track(self.hv, domid, port)
            settle(self.hv, domid, port, fifo=fifo)
        # xenbus and the console driver bind the ports the toolstack allocated for them.
        for key in ("store", "console"):
            text = self.xenstore.get(f"/local/domain/{domid}/{key}/port")
            if text is not None:
                settle(self.hv, domid, int(text), fifo=fifo)
        by_key = {(d.kind, d.devid): d for d in vm.devices}
        disks = [d for d in spec.disks if costs.disk_has_frontend(self.profile, spec, d)]
        for disk in disks:
            self._blkfront(vm, disk, by_key[("vbd", disk.vbd_devid)], fifo)
        for nic in spec.nics:
            self._netfront(vm, nic, by_key[("vif", nic.devid)], fifo)
        for disk in disks:
            self._blkback_connect(vm, by_key[("vbd", disk.vbd_devid)])
        for nic in spec.nics:
            self._netback_connect(vm, by_key[("vif", nic.devid)])
        for dev in vm.devices:
            if dev.state == "plugged":
                dev.state = "emulated"
        self._dom0_events()

    def _dom0_events(self) -> None:
        """dom0's Linux handles the events its new binds left pending (one upcall for the batch)."""
        self.hv.drain(DOM0, 0)

    def _guest_alloc(self, domid: int, fifo: bool) -> int:
        port = self.hv.alloc_unbound(domid, DOMID_SELF, DOM0)
        if fifo:
            FifoTracker.track(self.hv, domid, port)
        settle(self.hv, domid, port, fifo=fifo)
        return port

    def _frontend_error(self, vm: Vm, dev: DeviceStatus, e: XenError) -> str:
        text = self.profile.frontend_alloc_error.format(errno=e.code)
        assert vm.domid is not None
        self.xenstore.write(f"/local/domain/{vm.domid}/error/device/{dev.kind}/{dev.devid}/error", text)
        vm.messages.append(f"{dev.kind} {dev.kind}-{dev.devid}: {text}")
        return text

    def _blkfront(self, vm: Vm, disk: DiskSpec, dev: DeviceStatus, fifo: bool) -> None:
        """Linux blkfront: one port per ring; any failure frees them all and the disk stays absent."""
        assert vm.domid is not None
        domid = vm.domid
        rings = costs.vbd_rings(self.profile, self.hardware, vm.spec, disk)
        ports: list[int] = []
        try:
            for _ in range(rings):
                ports.append(self._guest_alloc(domid, fifo))
        except XenError as e:
            for port in ports:
                self.hv.close(domid, port)
            dev.frontend_error = self._frontend_error(vm, dev, e)
            dev.state = "absent"
            return
        front = f"/local/domain/{domid}/device/vbd/{dev.devid}"
        refs = [self._grant(vm) for _ in ports]
        keys: dict[str, str | int] = {}
        if rings == 1:
            keys.update({"ring-ref": refs[0], "event-channel": ports[0]})
        else:
            keys["multi-queue-num-queues"] = rings
            for q, (port, ref) in enumerate(zip(ports, refs, strict=True)):
                keys[f"queue-{q}/ring-ref"] = ref
                keys[f"queue-{q}/event-channel"] = port
        keys["protocol"] = "x86_64-abi" if self.profile.guest_width == 64 else "x86_32-abi"
        keys["state"] = XB_INITIALISED
        self.xenstore.write_many(front, keys)
        dev.guest_ports = ports
        dev.queues = rings

    def _netfront(self, vm: Vm, nic: NicSpec, dev: DeviceStatus, fifo: bool) -> None:
        """Linux netfront: split tx/rx per queue, falling back to one channel; a queue with none fails all."""
        assert vm.domid is not None
        domid = vm.domid
        queues, split = costs.vif_layout(self.profile, self.hardware, vm.spec, nic)
        layout: list[tuple[int, ...]] = []
        try:
            for _ in range(queues):
                got: tuple[int, ...] | None = None
                if split:
                    tx = self._guest_alloc_logged(vm, dev, fifo)
                    if tx is not None:
                        rx = self._guest_alloc_logged(vm, dev, fifo)
                        if rx is None:
                            self.hv.close(domid, tx)
                        else:
                            got = (tx, rx)
                if got is None:
                    got = (self._guest_alloc(domid, fifo),)
                layout.append(got)
            ctrl = self._guest_alloc(domid, fifo) if costs.vif_ctrl(self.profile, vm.spec) else None
        except XenError as e:
            for ports in layout:
                for port in ports:
                    self.hv.close(domid, port)
            dev.frontend_error = self._frontend_error(vm, dev, e)
            dev.state = "absent"
            return
        front = f"/local/domain/{domid}/device/vif/{dev.devid}"
        keys: dict[str, str | int] = {}
        multi = queues > 1
        if multi:
            keys["multi-queue-num-queues"] = queues
        for q, ports in enumerate(layout):
            prefix = f"queue-{q}/" if multi else ""
            keys[f"{prefix}tx-ring-ref"] = self._grant(vm)
            keys[f"{prefix}rx-ring-ref"] = self._grant(vm)
            if len(ports) == 2:
                keys[f"{prefix}event-channel-tx"] = ports[0]
                keys[f"{prefix}event-channel-rx"] = ports[1]
            else:
                keys[f"{prefix}event-channel"] = ports[0]
        if ctrl is not None:
            keys["ctrl-ring-ref"] = self._grant(vm)
            keys["event-channel-ctrl"] = ctrl
        keys["request-rx-copy"] = 1
        keys["state"] = XB_INITIALISED
        self.xenstore.write_many(front, keys)
        dev.guest_ports = [p for ports in layout for p in ports] + ([ctrl] if ctrl is not None else [])
        dev.queues = queues
        dev.split = all(len(ports) == 2 for ports in layout)

    def _guest_alloc_logged(self, vm: Vm, dev: DeviceStatus, fifo: bool) -> int | None:
        """xenbus_alloc_evtchn(): on failure it logs '<errno> allocating event channel' and returns."""
        assert vm.domid is not None
        try:
            return self._guest_alloc(vm.domid, fifo)
        except XenError as e:
            self._frontend_error(vm, dev, e)
            return None

    def _grant(self, vm: Vm) -> int:
        """A grant reference for a ring page; Linux starts after the 8 reserved entries."""
        assert vm.domid is not None
        n = self._grefs.get(vm.domid, 8)
        self._grefs[vm.domid] = n + 1
        return n

    def _backend_failed(self, vm: Vm, dev: DeviceStatus, kind: str, text: str) -> None:
        """xenbus_dev_fatal(): error node, kernel log line, backend to Closing (reference §8.3)."""
        assert vm.domid is not None
        domid = vm.domid
        self.xenstore.write(self.backend_error_path(kind, domid, dev.devid), text)
        self.xenstore.write(f"/local/domain/0/backend/{kind}/{domid}/{dev.devid}/state", XB_CLOSING)
        vm.messages.append(f"{dev.kind} {dev.kind}-{domid}-{dev.devid}: {text}")
        dev.error = self.profile.device_error_display.format(text=text)
        dev.state = "failed"
        dev.connected = False
        dev.dom0_ports = []

    @staticmethod
    def backend_error_path(kind: str, domid: int, devid: int) -> str:
        """Where a backend reports a failure: Linux's xenbus_dev_fatal() node, or tapdisk3's own key in
        its backend directory (reference §7.4)."""
        if kind == "vbd3":
            return f"/local/domain/0/backend/vbd3/{domid}/{devid}/tapdisk-error"
        return f"/local/domain/0/error/backend/{kind}/{domid}/{devid}/error"

    def _connected(self, vm: Vm, dev: DeviceStatus, kind: str, ports: list[int]) -> None:
        assert vm.domid is not None
        self.xenstore.write(f"/local/domain/0/backend/{kind}/{vm.domid}/{dev.devid}/state", XB_CONNECTED)
        self.xenstore.write(f"/local/domain/{vm.domid}/device/{dev.kind}/{dev.devid}/state", XB_CONNECTED)
        dev.dom0_ports = ports
        dev.connected = True
        dev.state = "connected"

    def _blkback_connect(self, vm: Vm, dev: DeviceStatus) -> None:
        if dev.state != "plugged":
            return
        assert vm.domid is not None
        domid, key = vm.domid, (vm.domid, dev.devid)
        front = f"/local/domain/{domid}/device/vbd/{dev.devid}"
        for q, port in enumerate(dev.guest_ports):
            try:
                self.blkback.bind(key, domid, port)
            except XenError as e:
                self.blkback.release(key)
                rkey = "ring-ref" if len(dev.guest_ports) == 1 else f"queue-{q}/ring-ref"
                ref = self.xenstore.get(f"{front}/{rkey}", "0")
                text = self.profile.vbd_error.format(errno=e.code, port=port, ring_ref=ref)
                self._backend_failed(vm, dev, self.vbd_backend_kind, text)
                return
        self._connected(vm, dev, self.vbd_backend_kind, self.blkback.ports_for(key))

    def _netback_connect(self, vm: Vm, dev: DeviceStatus) -> None:
        if dev.state != "plugged":
            return
        assert vm.domid is not None
        domid, key = vm.domid, (vm.domid, dev.devid)
        front = f"/local/domain/{domid}/device/vif/{dev.devid}"
        multi = dev.queues > 1
        for q in range(dev.queues):
            prefix = f"queue-{q}/" if multi else ""
            tx_text = self.xenstore.get(f"{front}/{prefix}event-channel-tx")
            if tx_text is not None:
                tx, rx = int(tx_text), int(self.xenstore.read(f"{front}/{prefix}event-channel-rx"))
                wanted = [tx, rx]
            else:
                tx = rx = int(self.xenstore.read(f"{front}/{prefix}event-channel"))
                wanted = [tx]
            try:
                for port in wanted:
                    self.netback.bind(key, domid, port)
            except XenError as e:
                self.netback.release(key)
                text = self.profile.vif_error.format(
                    errno=e.code,
                    tx_ref=self.xenstore.get(f"{front}/{prefix}tx-ring-ref", "0"),
                    rx_ref=self.xenstore.get(f"{front}/{prefix}rx-ring-ref", "0"),
                    tx=tx,
                    rx=rx,
                )
                self._backend_failed(vm, dev, "vif", text)
                return
        ctrl_text = self.xenstore.get(f"{front}/event-channel-ctrl")
        if ctrl_text is not None:
            try:
                self.netback.bind(key, domid, int(ctrl_text))
            except XenError as e:
                self.netback.release(key)
                ref = self.xenstore.get(f"{front}/ctrl-ring-ref", "0")
                text = self.profile.vif_ctrl_error.format(errno=e.code, ring_ref=ref, port=ctrl_text)
                self._backend_failed(vm, dev, "vif", text)
                return
        self._connected(vm, dev, "vif", self.netback.ports_for(key))

    # ------------------------------------------------------------------ teardown

    def _fresh_devices(self, spec: VmSpec) -> list[DeviceStatus]:
        out = [DeviceStatus(kind="vbd", devid=d.vbd_devid) for d in spec.disks]
        out += [DeviceStatus(kind="vif", devid=n.devid) for n in sorted(spec.nics, key=lambda n: n.devid)]
        return out

    def _destroy_domain(self, vm: Vm) -> None:
        """Destroy the domain; xenstored and xenconsoled release it on @releaseDomain."""
        domid = vm.domid
        if domid is None:
            return
        if domid in self.hv.domains:
            self.hv.destroy_domain(domid)
        self.xenconsoled.release(domid)
        self.xenstored.release(domid)
        xs = self.xenstore
        xs.rm(f"/local/domain/{domid}")
        xs.rm(f"/libxl/{domid}")
        xs.rm(f"/vm/{vm.uuid}")
        self._grefs.pop(domid, None)
        self._by_domid.pop(domid, None)

    def _teardown(self, vm: Vm) -> None:
        """xenopsd's shutdown: device model, then VBDs/VIFs unplugged (backends close), then domain."""
        assert vm.domid is not None
        domid = vm.domid
        self.qemu.release(domid)
        for dev in vm.devices:
            if dev.kind == "vbd":
                self.blkback.release((domid, dev.devid))
            else:
                self.netback.release((domid, dev.devid))
        self._unplug_vbds(vm)
        self._unplug_vifs(vm)
        self._destroy_domain(vm)
        self._halted(vm)

    def _halted(self, vm: Vm) -> None:
        vm.power_state = HALTED
        vm.domid = None
        vm.booted = False
        vm.boot_on_unpause = False
        for dev in vm.devices:
            dev.connected = False
            dev.dom0_ports = []
            dev.guest_ports = []
            if dev.state != "failed":
                dev.state = "plugged"

    # ------------------------------------------------------------------ checks

    def check_invariants(self) -> None:
        """AssertionError on any leaked port, dangling peer, or record that disagrees with the hypervisor."""
        self.hv.check_invariants()
        d0 = self.hv.domains[DOM0]
        held = [p for b in self.binders for p in b.all_ports()]
        assert len(held) == len(set(held)), "a dom0 port is held twice"
        used = set(d0.ports.used_ports())
        assert set(held) == used, (
            f"dom0 ports not held by any component: {sorted(used - set(held))[:10]}, "
            f"held but free: {sorted(set(held) - used)[:10]}"
        )
        live = {vm.domid for vm in self.vms.values() if vm.domid is not None}
        assert set(self.hv.domains) - {DOM0} == live, f"domains {set(self.hv.domains)} vs live VMs {live}"
        for vm in self.vms.values():
            if vm.power_state == HALTED:
                assert vm.domid is None, f"halted VM {vm.name} has domid {vm.domid}"
                continue
            assert vm.domid is not None
            assert self._by_domid.get(vm.domid) is vm
            t = self.hv.domains[vm.domid].ports
            for dev in vm.devices:
                if dev.connected:
                    assert len(dev.dom0_ports) == len(dev.guest_ports), f"{vm.name} {dev.kind} {dev.devid}"
                    for gp, dp in zip(dev.guest_ports, dev.dom0_ports, strict=True):
                        assert t.state[gp] == ECS.INTERDOMAIN and t.rdom[gp] == DOM0 and t.union[gp] == dp, (
                            f"{vm.name} {dev.kind} {dev.devid}: guest port {gp} not connected to dom0 {dp}"
                        )
                else:
                    assert not dev.dom0_ports, (
                        f"{vm.name} {dev.kind} {dev.devid} holds dom0 ports unconnected"
                    )
                    for gp in dev.guest_ports:
                        assert t.state[gp] == ECS.UNBOUND, f"{vm.name}: frontend port {gp} not unbound"
        for key in self.xenstored.held:
            if isinstance(key, int):
                assert key in live, f"xenstored holds a port for dead domain {key}"
        for daemon in (self.xenconsoled, self.qemu):
            for key in daemon.held:
                if isinstance(key, int):
                    assert key in live, f"{daemon.name} holds a port for dead domain {key}"
        for backend in (self.blkback, self.netback):
            for key in backend.held:
                assert isinstance(key, tuple) and key[0] in live, f"{backend.name} holds ports for {key}"
        doms = {int(x) for x in self.xenstore.ls("/local/domain")}
        assert doms == live | {DOM0}, f"xenstore has domains {sorted(doms)}, live {sorted(live | {DOM0})}"

    # ------------------------------------------------------------------ persistence

    def to_state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot; `Host.from_state(h.to_state())` restores it exactly."""
        return {
            "version": STATE_VERSION,
            "profile": self.profile.model_dump(mode="json"),
            "hardware": self.hardware.model_dump(mode="json"),
            "hypervisor": self.hv.to_state(),
            "xenstore": self.xenstore.to_state(),
            "rover": self._rover,
            "tty": self._tty,
            "grefs": {str(k): v for k, v in self._grefs.items()},
            "binders": {b.name: b.to_state() for b in self.binders},
            "dom0_abi": self.kernel.abi,
            "vms": [_vm_to_state(vm) for vm in self.vms.values()],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Host:
        """Restore a to_state() snapshot; ToolstackError (one line) if it is not one."""
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            version = state.get("version") if isinstance(state, dict) else None
            raise ToolstackError(f"host state version {version!r} is not {STATE_VERSION}")
        try:
            return cls._from_state(state)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ToolstackError(f"host state is malformed: {type(e).__name__}: {e}") from None

    @classmethod
    def _from_state(cls, state: dict[str, Any]) -> Host:
        host = cls(Profile.model_validate(state["profile"]), Hardware.model_validate(state["hardware"]))
        host.hv = Hypervisor.from_state(state["hypervisor"])
        for b in host.binders:
            b.hv = host.hv
            b.load_state(state["binders"][b.name])
            b.fifo = state["dom0_abi"] == "FIFO"
        host.kernel.abi = state["dom0_abi"]
        host.xenstore = XenStore.from_state(state["xenstore"])
        host._rover = int(state["rover"])
        host._tty = int(state["tty"])
        host._grefs = {int(k): int(v) for k, v in state["grefs"].items()}
        for s in state["vms"]:
            vm = _vm_from_state(s)
            host.vms[vm.name] = vm
            if vm.domid is not None:
                host._by_domid[vm.domid] = vm
        return host


def _vm_to_state(vm: Vm) -> dict[str, Any]:
    return {
        "name": vm.name,
        "uuid": vm.uuid,
        "spec": vm.spec.model_dump(mode="json"),
        "power_state": vm.power_state,
        "domid": vm.domid,
        "devices": [
            {
                "kind": d.kind,
                "devid": d.devid,
                "connected": d.connected,
                "error": d.error,
                "dom0_ports": d.dom0_ports,
                "guest_ports": d.guest_ports,
                "state": d.state,
                "frontend_error": d.frontend_error,
                "queues": d.queues,
                "split": d.split,
            }
            for d in vm.devices
        ],
        "messages": vm.messages,
        "booted": vm.booted,
        "boot_on_unpause": vm.boot_on_unpause,
        "guest_abi": vm.guest_abi,
        "last_error": vm.last_error,
    }


def _vm_from_state(s: dict[str, Any]) -> Vm:
    return Vm(
        name=s["name"],
        uuid=s["uuid"],
        spec=VmSpec.model_validate(s["spec"]),
        power_state=s["power_state"],
        domid=s["domid"],
        devices=[DeviceStatus(**d) for d in s["devices"]],
        messages=list(s["messages"]),
        booted=s["booted"],
        boot_on_unpause=s["boot_on_unpause"],
        guest_abi=s["guest_abi"],
        last_error=s["last_error"],
    )


def _new_uuid() -> str:
    """A random version-4 UUID; the simulation needs uniqueness, not os.urandom's cost."""
    return str(uuidlib.UUID(int=random.getrandbits(128), version=4))


def _store_mfn(domid: int, vm_type: str) -> int:
    """A plausible ring frame: HVM guests use the special page below 0xff000; PV a per-domain mfn."""
    return 0xFEFFC if vm_type == "hvm" else 0x100000 + domid * 0x1000


def _vdev_name(devid: int) -> str:
    if devid >> 8 == 202:
        return "xvd" + chr(ord("a") + ((devid >> 4) & 0xF))
    if devid & (1 << 28):
        return f"xvd{(devid >> 8) & 0xFFFFF}"
    return str(devid)


def _mac(vm_uuid: str, devid: int) -> str:
    """A stable MAC in Xen's OUI 00:16:3e for a NIC without one."""
    h = hashlib.sha256(vm_uuid.encode()).digest()
    return f"00:16:3e:{h[0] & 0x7F:02x}:{h[1]:02x}:{(h[2] + devid) & 0xFF:02x}"


__all__ = ["Admission", "DeviceStatus", "Host", "Vm"]
