"""Virtual NICs: VIF_plug writes the directories; at boot netfront takes, per queue, a tx/rx pair (split) or
one port, plus the optional control ring; netback binds them; unplug closes and removes
(reference §7.2, §8.1 8, §8.3).

    vif_layout(profile, hw, spec, nic)   # (queues, split); vif_ports(): the dom0 ports this NIC costs
    PLUG / UNPLUG                        # the atoms "VIF_plug" / "VIF_unplug" for every NIC of the VM
    frontend(p, vm, nic, dev, fifo)      # netfront; connect(p, vm, dev): netback
Error texts: profile.vif_error / vif_ctrl_error (netback's), profile.frontend_alloc_error (netfront's).
"""

from __future__ import annotations

import hashlib

from evtchn.toolstack.atoms import Atom
from evtchn.toolstack.devices import xenbus
from evtchn.toolstack.devices.base import DeviceKind
from evtchn.toolstack.hardware import Hardware
from evtchn.toolstack.plumbing import Plumbing
from evtchn.toolstack.profiles import Profile
from evtchn.toolstack.records import DeviceStatus, Vm
from evtchn.toolstack.spec import NicSpec, VmSpec
from evtchn.xen import XenError


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


ROW = DeviceKind(
    "vif",
    "netback",
    "connect",
    lambda p, h, s: sum(vif_ports(p, h, s, n) for n in s.nics),
    "reference §7.2 VIF row",
)


def mac(vm_uuid: str, devid: int) -> str:
    """A stable MAC in Xen's OUI 00:16:3e for a NIC without one."""
    h = hashlib.sha256(vm_uuid.encode()).digest()
    return f"00:16:3e:{h[0] & 0x7F:02x}:{h[1]:02x}:{(h[2] + devid) & 0xFF:02x}"


def plug_one(p: Plumbing, vm: Vm, nic: NicSpec) -> None:
    assert vm.domid is not None
    domid, n = vm.domid, nic.devid
    back = f"/local/domain/0/backend/vif/{domid}/{n}"
    front = f"/local/domain/{domid}/device/vif/{n}"
    address = nic.mac or mac(vm.uuid, n)
    p.xenstore.write_many(
        front,
        {"backend": back, "backend-id": 0, "state": xenbus.XB_INITIALISING, "handle": n, "mac": address},
    )
    script = (
        "/etc/xensource/scripts/vif" if p.profile.toolstack == "xenopsd" else "/etc/xen/scripts/vif-bridge"
    )
    bkeys: dict[str, str | int] = {
        "frontend": front,
        "frontend-id": domid,
        "online": 1,
        "state": xenbus.XB_INITIALISING,
        "script": script,
        "mac": address,
        "handle": n,
    }
    if p.profile.netback_split:
        bkeys["feature-split-event-channels"] = 1
    maxq = p.profile.netback_max_queues or p.hardware.dom0_vcpus
    if maxq > 1:
        bkeys["multi-queue-max-queues"] = maxq
    bkeys["hotplug-status"] = "connected"
    bkeys["state"] = xenbus.XB_INITWAIT
    p.xenstore.write_many(back, bkeys)


def _plug(p: Plumbing, vm: Vm) -> None:
    """VIF_plug in device order (reference §8.1 8)."""
    for nic in sorted(vm.spec.nics, key=lambda n: n.devid):
        plug_one(p, vm, nic)


def frontend(p: Plumbing, vm: Vm, nic: NicSpec, dev: DeviceStatus, fifo: bool) -> None:
    """Linux netfront: split tx/rx per queue, falling back to one channel; a queue with none fails all."""
    assert vm.domid is not None
    domid = vm.domid
    queues, split = vif_layout(p.profile, p.hardware, vm.spec, nic)
    layout: list[tuple[int, ...]] = []
    try:
        for _ in range(queues):
            got: tuple[int, ...] | None = None
            if split:
                tx = xenbus.guest_alloc_logged(p, vm, dev, fifo)
                if tx is not None:
                    rx = xenbus.guest_alloc_logged(p, vm, dev, fifo)
                    if rx is None:
                        p.hv.close(domid, tx)
                    else:
                        got = (tx, rx)
            if got is None:
                got = (xenbus.guest_alloc(p, domid, fifo),)
            layout.append(got)
        ctrl = xenbus.guest_alloc(p, domid, fifo) if vif_ctrl(p.profile, vm.spec) else None
    except XenError as e:
        for ports in layout:
            for port in ports:
                p.hv.close(domid, port)
        dev.frontend_error = xenbus.frontend_error(p, vm, dev, e)
        xenbus.frontend_failed(p, vm, dev, "vif")
        return
    keys: dict[str, str | int] = {}
    multi = queues > 1
    if multi:
        keys["multi-queue-num-queues"] = queues
    # xennet_create_queues: every queue reserves its tx then rx buffer refs; then talk_to_netback's
    # setup_netfront grants each queue's tx ring, then its rx ring (linux v6.1 drivers/net/xen-netfront.c).
    kernel = p.profile.guest_kernel(vm.spec.type)
    for _ in layout:
        xenbus.grant(p, vm, kernel.netfront_tx_grants + kernel.netfront_rx_grants)
    for q, ports in enumerate(layout):
        prefix = f"queue-{q}/" if multi else ""
        keys[f"{prefix}tx-ring-ref"] = xenbus.grant(p, vm)
        keys[f"{prefix}rx-ring-ref"] = xenbus.grant(p, vm)
        if len(ports) == 2:
            keys[f"{prefix}event-channel-tx"] = ports[0]
            keys[f"{prefix}event-channel-rx"] = ports[1]
        else:
            keys[f"{prefix}event-channel"] = ports[0]
    if ctrl is not None:
        keys["ctrl-ring-ref"] = xenbus.grant(p, vm)
        keys["event-channel-ctrl"] = ctrl
    keys["request-rx-copy"] = 1
    keys["state"] = xenbus.XB_INITIALISED
    p.xenstore.write_many(f"/local/domain/{domid}/device/vif/{dev.devid}", keys)
    dev.guest_ports = [port for ports in layout for port in ports] + ([ctrl] if ctrl is not None else [])
    dev.queues = queues
    dev.split = all(len(ports) == 2 for ports in layout)


def connect(p: Plumbing, vm: Vm, dev: DeviceStatus) -> None:
    """netback binds each queue's port(s), then the control ring; a failed bind is xenbus_dev_fatal()."""
    if dev.state != "plugged":
        return
    assert vm.domid is not None
    domid, key = vm.domid, (vm.domid, dev.devid)
    front = f"/local/domain/{domid}/device/vif/{dev.devid}"
    xs = p.xenstore
    multi = dev.queues > 1
    for q in range(dev.queues):
        prefix = f"queue-{q}/" if multi else ""
        tx_text = xs.get(f"{front}/{prefix}event-channel-tx")
        if tx_text is not None:
            tx, rx = int(tx_text), int(xs.read(f"{front}/{prefix}event-channel-rx"))
            wanted = [tx, rx]
        else:
            tx = rx = int(xs.read(f"{front}/{prefix}event-channel"))
            wanted = [tx]
        try:
            for port in wanted:
                p.netback.bind(key, domid, port)
        except XenError as e:
            p.netback.release(key)
            text = p.profile.vif_error.format(
                errno=e.code,
                tx_ref=xs.get(f"{front}/{prefix}tx-ring-ref", "0"),
                rx_ref=xs.get(f"{front}/{prefix}rx-ring-ref", "0"),
                tx=tx,
                rx=rx,
            )
            xenbus.backend_failed(p, vm, dev, "vif", text)
            return
    ctrl_text = xs.get(f"{front}/event-channel-ctrl")
    if ctrl_text is not None:
        try:
            p.netback.bind(key, domid, int(ctrl_text))
        except XenError as e:
            p.netback.release(key)
            ref = xs.get(f"{front}/ctrl-ring-ref", "0")
            text = p.profile.vif_ctrl_error.format(errno=e.code, ring_ref=ref, port=ctrl_text)
            xenbus.backend_failed(p, vm, dev, "vif", text)
            return
    xenbus.connected(p, vm, dev, "vif", p.netback.ports_for(key))


def release(p: Plumbing, vm: Vm, dev: DeviceStatus) -> None:
    assert vm.domid is not None
    p.netback.release((vm.domid, dev.devid))


def unplug_one(p: Plumbing, vm: Vm, dev: DeviceStatus) -> None:
    release(p, vm, dev)
    xenbus.unplug_one(p, vm, "vif", "vif", dev.devid)


def _unplug_dirs(p: Plumbing, vm: Vm) -> None:
    xenbus.unplug_class(p, vm, "vif", "vif")


def _unplug(p: Plumbing, vm: Vm) -> None:
    for dev in vm.devices:
        if dev.kind == "vif":
            release(p, vm, dev)
    _unplug_dirs(p, vm)


PLUG = Atom("VIF_plug", _plug, _unplug_dirs)
UNPLUG = Atom("VIF_unplug", _unplug)
