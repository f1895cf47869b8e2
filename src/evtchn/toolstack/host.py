"""A simulated host: the facade over the hypervisor, dom0's daemons, xenstore and the VM records.

    host = Host.create("xenserver-6.2")              # default hardware
    host.define_vm(seed_vm_spec("vm1"))
    vm = host.start_vm("vm1")                        # StartError if a start-time bind fails
    vm.devices                                       # DeviceStatus per VBD/VIF: connected / error
    host.can_start(spec)                             # Admission: ok, needed, free, shortfall, binding limit
    host.shutdown_vm("vm1")                          # every port on both sides released
    host.take_dirty_vms()                            # uuids whose record changed since the last call

VMs are keyed by uuid; methods take a uuid or a name only one VM has. Each operation is a list of atoms
(operations.py) that one executor runs and undoes in reverse on failure (atoms.py), so a failure at any
point leaves nothing behind. The guest's boot (frontends allocate and publish, backends bind) is a
separate step, immediate by default (guest.py; reference §8.1, §8.3a, §13.4).
"""

from __future__ import annotations

from typing import Any

from evtchn.toolstack import capacity, costs, crash, guest, hotplug, invariants, migrate, operations
from evtchn.toolstack.atoms import AtomFailed, run
from evtchn.toolstack.capacity import Admission
from evtchn.toolstack.devices import xenbus
from evtchn.toolstack.devices.dom0_daemons import (
    Binder,
    BlockBackend,
    DeviceModels,
    Dom0Kernel,
    NetBackend,
    Xenconsoled,
    Xenstored,
)
from evtchn.toolstack.errors import BadPowerState, ToolstackError, VmExists
from evtchn.toolstack.hardware import Hardware, get_hardware
from evtchn.toolstack.memory import MemoryModel
from evtchn.toolstack.plumbing import DOM0_NAME, Plumbing
from evtchn.toolstack.profiles import Profile, get_profile
from evtchn.toolstack.records import (
    HALTED,
    PAUSED,
    RUNNING,
    SUSPENDED,
    DeviceStatus,
    Vm,
    VmTable,
    fresh_devices,
    halt,
    new_uuid,
    vm_from_state,
    vm_to_state,
)
from evtchn.toolstack.spec import DiskSpec, NicSpec, VmSpec
from evtchn.xen import Hypervisor
from evtchn.xenstore import XenStore

STATE_VERSION = 2  # 2: xenstore kept as a tree
_vm_to_state = vm_to_state  # the name store/codec.py imports


class Host:
    def __init__(self, profile: Profile, hardware: Hardware) -> None:
        self.profile = profile
        self.hardware = hardware
        self.plumbing = Plumbing(profile, hardware)
        self.vms = VmTable()

    # ------------------------------------------------------------------ the live pieces

    @property
    def hv(self) -> Hypervisor:
        return self.plumbing.hv

    @property
    def xenstore(self) -> XenStore:
        return self.plumbing.xenstore

    @xenstore.setter
    def xenstore(self, tree: XenStore) -> None:
        self.plumbing.xenstore = tree  # the persisted store loads the tree node by node

    # The persisted store's codec reads these counters under their old names; they live in the plumbing.
    @property
    def _rover(self) -> int:
        return self.plumbing.rover

    @property
    def _tty(self) -> int:
        return self.plumbing.tty

    @property
    def _grefs(self) -> dict[int, int]:
        return self.plumbing.grefs

    @property
    def kernel(self) -> Dom0Kernel:
        return self.plumbing.kernel

    @property
    def xenstored(self) -> Xenstored:
        return self.plumbing.xenstored

    @property
    def xenconsoled(self) -> Xenconsoled:
        return self.plumbing.xenconsoled

    @property
    def blkback(self) -> BlockBackend:
        return self.plumbing.blkback

    @property
    def netback(self) -> NetBackend:
        return self.plumbing.netback

    @property
    def qemu(self) -> DeviceModels:
        return self.plumbing.qemu

    @property
    def binders(self) -> tuple[Binder, ...]:
        return self.plumbing.binders

    @property
    def vbd_backend_kind(self) -> str:
        return self.plumbing.vbd_backend_kind

    backend_error_path = staticmethod(xenbus.backend_error_path)

    @classmethod
    def create(cls, profile: str | Profile = "xenserver-6.2", hardware: str | Hardware | None = None) -> Host:
        """Boot a host: dom0 binds its baseline (kernel VIRQs/IPIs/PIRQs, xenstored, xenconsoled)."""
        p = get_profile(profile) if isinstance(profile, str) else profile
        h = hardware if isinstance(hardware, Hardware) else get_hardware(hardware)
        host = cls(p, h)
        host.plumbing.boot_dom0()
        return host

    # ------------------------------------------------------------------ VM records

    def vm(self, name: str) -> Vm:
        """The VM with this uuid, or the one VM with this name; NoSuchVm / AmbiguousVm (one line)."""
        return self.vms.lookup(name)

    def define_vm(self, spec: VmSpec, *, uuid: str | None = None, unique_name: bool = True) -> Vm:
        """A new halted VM. Names are free text; with unique_name=False another VM may share it (xapi)."""
        self._check_name(spec.name, None, unique_name)
        return self.vms.add(Vm(name=spec.name, uuid=uuid or new_uuid(), spec=spec))

    def update_vm(self, name: str, spec: VmSpec, *, unique_name: bool = True) -> Vm:
        vm = self.vm(name)
        if vm.power_state != HALTED:
            raise BadPowerState(vm.name, ["halted"], vm.power_state)
        self._check_name(spec.name, vm, unique_name)
        self.vms.rename(vm, spec.name)
        vm.spec = spec
        self.vms.mark(vm)
        return vm

    def _check_name(self, name: str, this: Vm | None, unique: bool) -> None:
        if name == DOM0_NAME or (unique and any(v is not this for v in self.vms.named(name))):
            raise VmExists(name)

    def remove_vm(self, name: str) -> None:
        vm = self.vm(name)
        if vm.power_state != HALTED:
            raise BadPowerState(vm.name, ["halted"], vm.power_state)
        self.vms.remove(vm)

    def vm_by_domid(self, domid: int) -> Vm | None:
        return self.plumbing.by_domid.get(domid)

    def take_dirty_vms(self) -> set[str]:
        """uuids of VMs whose record (state, devices, statuses, spec) changed, was added or removed since
        the last call: what the persisted store must rewrite."""
        return self.vms.take_dirty()

    # ------------------------------------------------------------------ accounting

    def dom0_ports_used(self) -> int:
        return capacity.dom0_ports_used(self.plumbing)

    def dom0_ports_usable(self) -> int:
        return capacity.dom0_ports_usable(self.plumbing)

    def dom0_ports_free(self) -> int:
        return self.dom0_ports_usable() - self.dom0_ports_used()

    def vm_dom0_ports(self, name: str) -> dict[str, list[int]]:
        """The dom0 ports a VM holds now, by kind (the same keys as VmCost.by_kind)."""
        return capacity.vm_dom0_ports(self.plumbing, self.vm(name))

    @property
    def memory(self) -> MemoryModel:
        return self.plumbing.memory

    @memory.setter
    def memory(self, model: MemoryModel) -> None:
        self.plumbing.memory = model

    def memory_free_mib(self) -> int:
        """Host memory free for another VM: host − dom0 − Xen − every live domain's footprint."""
        return self.memory.free_after(self.hardware, self.plumbing.resident_mib)

    def _admit_memory(self, spec: VmSpec) -> None:
        self.memory.admit(self.hardware, self.plumbing.resident_mib, spec)

    def baseline(self) -> dict[str, int]:
        return costs.dom0_baseline(self.profile, self.hardware)

    def guest_port_limit(self, spec: VmSpec) -> int:
        """Usable guest ports: min(max_evtchn_port, max_evtchns − 1) once its kernel chose an ABI (§1)."""
        return capacity.guest_port_limit(self.plumbing, spec)

    def can_start(self, spec: VmSpec) -> Admission:
        """Would this VM start with every device connected? Which limit binds first."""
        return capacity.can_start(self.plumbing, spec)

    # ------------------------------------------------------------------ lifecycle

    def start_vm(self, name: str, *, paused: bool = False, boot: bool = True) -> Vm:
        """VM.start: the start atoms with rollback; then (unless paused or boot=False) the guest boots."""
        vm = self._in_state(name, HALTED)
        self._admit_memory(vm.spec)  # xapi checks memory before anything is built (reference §8.3)
        vm.devices = fresh_devices(vm.spec)
        vm.booted = False
        vm.guest_abi = ""
        vm.last_error = None
        self._build(vm)
        if paused:
            vm.power_state = PAUSED
            vm.boot_on_unpause = boot
            return vm
        self._run_guest(vm, boot)
        return vm

    def unpause_vm(self, name: str) -> Vm:
        vm = self._in_state(name, PAUSED)
        if crash.preserved(self.plumbing, vm):  # a crashed domain does not run again (crash.py)
            return vm
        boot = vm.boot_on_unpause and not vm.booted
        vm.boot_on_unpause = False
        self._run_guest(vm, boot)
        return vm

    def boot_vm(self, name: str) -> Vm:
        """The deferred guest boot: the kernel binds its VIRQs/IPIs, frontends publish, backends bind."""
        vm = self._in_state(name, RUNNING)
        if vm.booted:
            raise ToolstackError(f"VM {vm.name} has already booted")
        self._boot(vm)
        return vm

    def shutdown_vm(self, name: str) -> Vm:
        """Clean shutdown: devices unplugged, domain destroyed, daemons release on @releaseDomain."""
        vm = self._in_state(name, RUNNING, PAUSED)
        self._teardown(vm)
        return vm

    def destroy_vm(self, name: str) -> Vm:
        """Hard shutdown: same releases as shutdown, from any live state."""
        return self.shutdown_vm(name)

    def reboot_vm(self, name: str, *, hard: bool = False) -> Vm:
        """clean_reboot / hard_reboot: the domain goes (every port released) and a new one starts; the
        channels' effect is the same for both (xenopsd: shutdown then start, reference §8.1)."""
        vm = self._in_state(name, RUNNING, PAUSED)
        self._teardown(vm)
        return self.start_vm(vm.uuid)

    def pause_vm(self, name: str) -> Vm:
        """VM.pause: the domain stops being scheduled; every channel stays bound."""
        vm = self._in_state(name, RUNNING)
        run(self.plumbing, vm, operations.atoms(self.profile, "pause", vm))
        vm.power_state = PAUSED
        return vm

    def suspend_vm(self, name: str) -> Vm:
        """VM.suspend: the memory image is saved and the domain torn down, releasing every port on both
        sides; the VM is Suspended, holding no domain."""
        vm = self._in_state(name, RUNNING)
        self._teardown(vm, SUSPENDED)
        return vm

    def resume_vm(self, name: str, *, paused: bool = False) -> Vm:
        """VM.resume: a new domain is built and bound like a start (VM_restore for VM_build), then the
        guest rebinds everything; it fails like a start on a short dom0, and the VM stays Suspended."""
        vm = self._in_state(name, SUSPENDED)
        self._admit_memory(vm.spec)
        detached = {(d.kind, d.devid) for d in vm.devices if d.state == "unplugged"}
        vm.devices = fresh_devices(vm.spec)
        self._build(vm, "resume", SUSPENDED)
        hotplug.replug_after_build(self.plumbing, vm, detached)
        if paused:
            vm.power_state = PAUSED
            vm.boot_on_unpause = True
            return vm
        self._run_guest(vm, True)
        return vm

    def migrate_vm(self, name: str) -> Vm:
        """VM.pool_migrate to this host: needs the VM's ports (and memory) twice over while both domains
        live; on failure the VM keeps running on its old domain (StartError, op "VM_migrate")."""
        vm = self._in_state(name, RUNNING)
        self._admit_memory(vm.spec)
        migrate.migrate(self.plumbing, vm)
        return vm

    def clone_vm(self, name: str, new_name: str | None = None) -> Vm:
        """VM.clone / VM.copy of a halted VM: the same spec under a new uuid (names may repeat, as in
        xapi); binds nothing."""
        vm = self.vm(name)
        if vm.power_state != HALTED:
            raise BadPowerState(vm.name, ["halted"], vm.power_state)
        spec = vm.spec if new_name is None else vm.spec.model_copy(update={"name": new_name})
        return self.define_vm(VmSpec.model_validate(spec.model_dump()), unique_name=False)

    def plug_device(self, name: str, device: DiskSpec | NicSpec) -> DeviceStatus:
        """VBD.plug / VIF.plug on a running VM (a device new to the spec is added first): binds at
        connect time; DeviceError with the backend's text, device left detached, if it fails."""
        vm = self._in_state(name, RUNNING)
        return hotplug.plug(self.plumbing, vm, device)

    def unplug_device(self, name: str, kind: str, devid: int) -> DeviceStatus:
        """VBD.unplug / VIF.unplug: the backend and frontend close their ports; the device stays in the
        spec, detached (DEVICE_ALREADY_DETACHED if it was)."""
        vm = self._in_state(name, RUNNING)
        return hotplug.unplug(self.plumbing, vm, kind, devid)

    # ------------------------------------------------------------------ the steps the operations share

    def _in_state(self, name: str, *states: str) -> Vm:
        """The VM, marked changed, if it is in one of `states`; BadPowerState otherwise."""
        vm = self.vm(name)
        if vm.power_state not in states:
            raise BadPowerState(vm.name, [s.lower() for s in states], vm.power_state)
        self.vms.mark(vm)
        return vm

    def _build(self, vm: Vm, operation: operations.Operation = "start", failed: str = HALTED) -> None:
        """Run the operation's atoms; on failure the VM is back in `failed` with the error recorded."""
        try:
            run(self.plumbing, vm, operations.atoms(self.profile, operation, vm))
        except AtomFailed as f:
            halt(vm, failed)
            vm.last_error = f.error.message
            vm.messages.append(f.error.message)
            raise f.error from None

    def _run_guest(self, vm: Vm, boot: bool) -> None:
        assert vm.domid is not None
        self.hv.unpause(vm.domid)
        vm.power_state = RUNNING
        if boot:
            self._boot(vm)

    def _boot(self, vm: Vm) -> None:
        if not guest.boot(self.plumbing, vm):  # the kernel died: the VM's on_crash action (crash.py)
            crash.handle(self.plumbing, vm, self._teardown, lambda v: self.start_vm(v.uuid))

    def _teardown(self, vm: Vm, state: str = HALTED) -> None:
        run(self.plumbing, vm, operations.atoms(self.profile, "shutdown", vm))
        halt(vm, state)

    # ------------------------------------------------------------------ checks and persistence

    def check_invariants(self) -> None:
        """AssertionError on any leaked port, dangling peer, or record that disagrees with the hypervisor."""
        invariants.check(self.plumbing, self.vms.values())

    def to_state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot; `Host.from_state(h.to_state())` restores it exactly."""
        return {
            "version": STATE_VERSION,
            **self.plumbing.to_state(),
            "vms": [vm_to_state(vm) for vm in self.vms.values()],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Host:
        """Restore a to_state() snapshot; ToolstackError (one line) if it is not one."""
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            version = state.get("version") if isinstance(state, dict) else None
            raise ToolstackError(f"host state version {version!r} is not {STATE_VERSION}")
        try:
            plumbing = Plumbing.from_state(state)
            host = cls(plumbing.profile, plumbing.hardware)
            host.plumbing = plumbing
            for s in state["vms"]:  # records, or Vm objects already restored (a store streams them)
                vm = host.vms.add(s if isinstance(s, Vm) else vm_from_state(s))
                if vm.domid is not None:
                    plumbing.by_domid[vm.domid] = vm
                    plumbing.domain_memory(vm.domid, plumbing.memory.footprint_mib(vm.spec))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ToolstackError(f"host state is malformed: {type(e).__name__}: {e}") from None
        host.vms.take_dirty()
        return host


__all__ = ["Admission", "DeviceStatus", "Host", "Vm"]
