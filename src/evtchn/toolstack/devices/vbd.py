"""Virtual disks: VBD_plug writes the frontend and backend directories; at the guest's boot blkfront takes
one port per ring and blkback (or tapdisk3, one port) binds them; unplug closes and removes
(reference §7.2, §8.1 6, §8.3).

    vbd_rings(profile, hw, spec, disk)   # rings = dom0 ports this disk costs
    PLUG / UNPLUG                        # the atoms "VBD_plug" / "VBD_unplug" for every disk of the VM
    frontend(p, vm, disk, dev, fifo)     # blkfront; connect(p, vm, dev): blkback or tapdisk3
Error texts: profile.vbd_error (the backend's), profile.frontend_alloc_error (blkfront's).
"""

from __future__ import annotations

from evtchn.toolstack.atoms import Atom
from evtchn.toolstack.devices import xenbus
from evtchn.toolstack.devices.base import DeviceKind
from evtchn.toolstack.hardware import Hardware
from evtchn.toolstack.plumbing import Plumbing
from evtchn.toolstack.profiles import Profile
from evtchn.toolstack.records import DeviceStatus, Vm
from evtchn.toolstack.spec import DiskSpec, VmSpec
from evtchn.xen import XenError


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


ROW = DeviceKind(
    "vbd",
    "blkback/tapdisk",
    "connect",
    lambda p, h, s: sum(vbd_rings(p, h, s, d) for d in s.disks),
    "reference §7.2 VBD rows",
)


def _dev_name(devid: int) -> str:
    """The backend's `dev` key."""
    if devid >> 8 == 202:
        return "xvd" + chr(ord("a") + ((devid >> 4) & 0xF))
    if devid & (1 << 28):
        return f"xvd{(devid >> 8) & 0xFFFFF}"
    return str(devid)


def plug_one(p: Plumbing, vm: Vm, disk: DiskSpec) -> None:
    """Frontend and backend directories; hotplug done, the backend waits for the frontend (InitWait)."""
    assert vm.domid is not None
    domid, devid = vm.domid, disk.vbd_devid
    back = f"/local/domain/0/backend/{p.vbd_backend_kind}/{domid}/{devid}"
    front = f"/local/domain/{domid}/device/vbd/{devid}"
    p.xenstore.write_many(
        front,
        {
            "backend": back,
            "backend-id": 0,
            "state": xenbus.XB_INITIALISING,
            "virtual-device": devid,
            "device-type": disk.kind,
        },
    )
    bkeys: dict[str, str | int] = {
        "frontend": front,
        "frontend-id": domid,
        "online": 1,
        "removable": int(disk.kind == "cdrom"),
        "state": xenbus.XB_INITIALISING,
        "dev": _dev_name(devid),
        "type": "phy",
        "mode": "w" if disk.mode == "rw" else "r",
        "params": f"/dev/sm/backend/{vm.uuid}/{devid}",
    }
    if p.profile.vbd_backend == "blkback":
        maxq = p.profile.blkback_max_queues or p.hardware.dom0_vcpus
        if maxq > 1:
            bkeys["multi-queue-max-queues"] = maxq
    bkeys["hotplug-status"] = "connected"
    bkeys["state"] = xenbus.XB_INITWAIT
    p.xenstore.write_many(back, bkeys)


def _plug(p: Plumbing, vm: Vm) -> None:
    """VBD_plug, read/write before read-only (reference §8.1 6)."""
    for disk in sorted(vm.spec.disks, key=lambda d: d.mode != "rw"):
        plug_one(p, vm, disk)


def frontend(p: Plumbing, vm: Vm, disk: DiskSpec, dev: DeviceStatus, fifo: bool) -> None:
    """Linux blkfront: one port per ring; any failure frees them all and the disk stays absent."""
    assert vm.domid is not None
    domid = vm.domid
    rings = vbd_rings(p.profile, p.hardware, vm.spec, disk)
    ports: list[int] = []
    try:
        for _ in range(rings):
            ports.append(xenbus.guest_alloc(p, domid, fifo))
    except XenError as e:
        for port in ports:
            p.hv.close(domid, port)
        dev.frontend_error = xenbus.frontend_error(p, vm, dev, e)
        xenbus.frontend_failed(p, vm, dev, p.vbd_backend_kind)
        return
    refs = [xenbus.grant(p, vm) for _ in ports]
    keys: dict[str, str | int] = {}
    if rings == 1:
        keys.update({"ring-ref": refs[0], "event-channel": ports[0]})
    else:
        keys["multi-queue-num-queues"] = rings
        for q, (port, ref) in enumerate(zip(ports, refs, strict=True)):
            keys[f"queue-{q}/ring-ref"] = ref
            keys[f"queue-{q}/event-channel"] = port
    keys["protocol"] = "x86_64-abi" if p.profile.guest_width == 64 else "x86_32-abi"
    keys["state"] = xenbus.XB_INITIALISED
    p.xenstore.write_many(f"/local/domain/{domid}/device/vbd/{dev.devid}", keys)
    dev.guest_ports = ports
    dev.queues = rings


def connect(p: Plumbing, vm: Vm, dev: DeviceStatus) -> None:
    """blkback / tapdisk3 maps each ring and binds its port; a failed bind is xenbus_dev_fatal()."""
    if dev.state != "plugged":
        return
    assert vm.domid is not None
    domid, key = vm.domid, (vm.domid, dev.devid)
    front = f"/local/domain/{domid}/device/vbd/{dev.devid}"
    for q, port in enumerate(dev.guest_ports):
        try:
            p.blkback.bind(key, domid, port)
        except XenError as e:
            p.blkback.release(key)
            rkey = "ring-ref" if len(dev.guest_ports) == 1 else f"queue-{q}/ring-ref"
            ref = p.xenstore.get(f"{front}/{rkey}", "0")
            text = p.profile.vbd_error.format(errno=e.code, port=port, ring_ref=ref)
            xenbus.backend_failed(p, vm, dev, p.vbd_backend_kind, text)
            return
    xenbus.connected(p, vm, dev, p.vbd_backend_kind, p.blkback.ports_for(key))


def release(p: Plumbing, vm: Vm, dev: DeviceStatus) -> None:
    """The backend closes the ports it bound for this disk."""
    assert vm.domid is not None
    p.blkback.release((vm.domid, dev.devid))


def unplug_one(p: Plumbing, vm: Vm, dev: DeviceStatus) -> None:
    release(p, vm, dev)
    xenbus.unplug_one(p, vm, p.vbd_backend_kind, "vbd", dev.devid)


def _unplug_dirs(p: Plumbing, vm: Vm) -> None:
    xenbus.unplug_class(p, vm, p.vbd_backend_kind, "vbd")


def _unplug(p: Plumbing, vm: Vm) -> None:
    for dev in vm.devices:
        if dev.kind == "vbd":
            release(p, vm, dev)
    _unplug_dirs(p, vm)


PLUG = Atom("VBD_plug", _plug, _unplug_dirs)
UNPLUG = Atom("VBD_unplug", _unplug)
