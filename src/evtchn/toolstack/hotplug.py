"""Hot-plug and hot-unplug of one VBD or VIF on a live VM, as lists of atoms (xenopsd's VBD_plug /
VIF_plug then the guest's frontend and dom0's backend meeting; VBD_unplug / VIF_unplug).

    plug(plumbing, vm, DiskSpec(userdevice=3))   # DeviceError if the backend (or frontend) fails
    unplug(plumbing, vm, "vif", 0)

A plugged device binds its channels at connect time, so on a short dom0 the plug fails the way the backend
fails (profile.vbd_error / vif_error, e.g. "error 28 mapping ring-refs and evtchn"): the frontend closes its
ports, the directories go, the device stays not attached with the text in its status, nothing leaks
(reference §8.3, §8.3a).
"""

from __future__ import annotations

from pydantic import ValidationError

from evtchn.toolstack.atoms import Atom, AtomFailed, run
from evtchn.toolstack.devices import vbd, vif, xenbus
from evtchn.toolstack.errors import DeviceError
from evtchn.toolstack.plumbing import Plumbing
from evtchn.toolstack.records import DeviceStatus, Vm
from evtchn.toolstack.spec import DiskSpec, NicSpec, VmSpec
from evtchn.toolstack.spec_model import first_error

Device = DiskSpec | NicSpec
# States of a device that is attached to the live domain (xapi's currently_attached, or about to be).
ATTACHED = ("connected", "plugged", "emulated")


def _key(device: Device) -> tuple[str, int]:
    return ("vbd", device.vbd_devid) if isinstance(device, DiskSpec) else ("vif", device.devid)


def _backend_kind(p: Plumbing, kind: str) -> str:
    return p.vbd_backend_kind if kind == "vbd" else "vif"


def _detach(p: Plumbing, vm: Vm, dev: DeviceStatus) -> None:
    """The backend closes its ports, then the frontend closes its own; the directories go."""
    assert vm.domid is not None
    (vbd.release if dev.kind == "vbd" else vif.release)(p, vm, dev)
    for port in dev.guest_ports:
        p.hv.close(vm.domid, port)
    xenbus.unplug_one(p, vm, _backend_kind(p, dev.kind), dev.kind, dev.devid)
    dev.guest_ports, dev.dom0_ports, dev.connected = [], [], False


def plug_atoms(device: Device, dev: DeviceStatus) -> list[Atom]:
    """VBD_plug / VIF_plug (the directories), then the frontend and backend meet if the guest is up."""
    name = "VBD" if isinstance(device, DiskSpec) else "VIF"

    def write(p: Plumbing, vm: Vm) -> None:
        if isinstance(device, DiskSpec):
            vbd.plug_one(p, vm, device)
        else:
            vif.plug_one(p, vm, device)

    def meet(p: Plumbing, vm: Vm) -> None:
        if not vm.booted:
            return  # the guest is not up: its frontend connects when it boots
        fifo = vm.guest_abi == "FIFO"
        if isinstance(device, DiskSpec):
            if not vbd.disk_has_frontend(p.profile, vm.spec, device):
                dev.state = "emulated"
                return
            vbd.frontend(p, vm, device, dev, fifo)
            vbd.connect(p, vm, dev)
        else:
            if not vm.spec.has_pv_frontends:
                dev.state = "emulated"
                return
            vif.frontend(p, vm, device, dev, fifo)
            vif.connect(p, vm, dev)
        p.dom0_events()
        if dev.state in ("failed", "absent"):
            dev.error = dev.error or dev.frontend_error
            text = dev.error or f"{dev.kind} {dev.devid} did not connect"
            raise AtomFailed(DeviceError(text, xenapi_params=[text]))

    return [Atom(f"{name}_plug", write, lambda p, vm: _detach(p, vm, dev)), Atom(f"{name}_connect", meet)]


def plug(p: Plumbing, vm: Vm, device: Device) -> DeviceStatus:
    """Attach one device (added to the spec if new); DeviceError, device left detached, if it fails."""
    kind, devid = _key(device)
    dev = vm.device(kind, devid)
    if dev is not None and dev.state in ATTACHED:
        raise DeviceError(
            f"{kind} {devid} of VM {vm.name} is already attached",
            xenapi_code="DEVICE_ALREADY_ATTACHED",
            xenapi_params=[f"{kind}/{devid}"],
        )
    if dev is None:
        field = "disks" if kind == "vbd" else "nics"
        try:
            grown = {**vm.spec.model_dump(), field: [*getattr(vm.spec, field), device]}
            vm.spec = VmSpec.model_validate(grown)
        except ValidationError as e:
            raise DeviceError(f"VM {vm.name}: {first_error(e)[1]}") from None
        dev = DeviceStatus(kind=kind, devid=devid)
        vm.devices.append(dev)
    elif dev.guest_ports or dev.state in ("failed", "absent"):
        _detach(p, vm, dev)  # what a connect-time failure at boot left: the frontend's ports, the dirs
    dev.state, dev.error, dev.frontend_error, dev.queues, dev.split = "plugged", None, None, 0, False
    devices: list[Device] = [*vm.spec.disks, *vm.spec.nics]
    spec_device = next(d for d in devices if _key(d) == (kind, devid))
    try:
        run(p, vm, plug_atoms(spec_device, dev))
    except AtomFailed as f:
        dev.state = "failed"  # not attached; the backend's (or frontend's) text stays in dev.error
        raise f.error from None
    return dev


def unplug(p: Plumbing, vm: Vm, kind: str, devid: int) -> DeviceStatus:
    """Detach one device: the backend closes its ports, then the frontend; the directories go."""
    dev = vm.device(kind, devid)
    if dev is None:
        raise DeviceError(
            f"VM {vm.name} has no {kind} {devid}", xenapi_code="HANDLE_INVALID", xenapi_params=[kind.upper()]
        )
    if dev.state not in ATTACHED:
        raise DeviceError(
            f"{kind} {devid} of VM {vm.name} is not attached",
            xenapi_code="DEVICE_ALREADY_DETACHED",
            xenapi_params=[f"{kind}/{devid}"],
        )
    _detach(p, vm, dev)
    dev.state = "unplugged"
    return dev


def replug_after_build(p: Plumbing, vm: Vm, detached: set[tuple[str, int]]) -> None:
    """A new domain of the VM (resume, migrate) plugged every device of the spec; the ones that were
    detached are taken away again before the guest sees them."""
    for dev in vm.devices:
        if (dev.kind, dev.devid) in detached:
            xenbus.unplug_one(p, vm, _backend_kind(p, dev.kind), dev.kind, dev.devid)
            dev.state = "unplugged"
