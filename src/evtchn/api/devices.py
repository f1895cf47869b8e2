"""VBD and VIF messages (xen-api: ocaml/xapi/xapi_vbd.ml, xapi_vif.ml): create and destroy on a halted VM
through the toolstack's VM spec, and hot-plug on a running one.

A hot-plugged device binds its event channels when frontend and backend connect, through the toolstack's
`plug_device`; on a short dom0 the backend fails, the device stays `currently_attached` false with the
backend's message in `status_code`/`status_detail`, and nothing leaks. Device numbers are checked first:
a taken one is DEVICE_ALREADY_EXISTS [device]; "autodetect" with none left is INVALID_DEVICE ["autodetect"].
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from evtchn.api import messages, overlay
from evtchn.api.coerce import NULL_REF, as_int, as_record
from evtchn.api.errors import ApiFailure
from evtchn.api.lifecycle import vm_row
from evtchn.api.service import Service
from evtchn.store.rows import DeviceRow, VmRow
from evtchn.store.sqlite import Txn
from evtchn.toolstack.errors import BadPowerState, DeviceError, ToolstackError
from evtchn.toolstack.host import Host
from evtchn.toolstack.spec import DiskSpec, NicSpec, VmSpec

MAX_USERDEVICE = 254  # xapi: userdevice 0..254 for a VM (Xapi_vm_helpers.allowed_VBD_devices)
MAX_VIF_DEVICE = 255


def allowed_vbd_devices(svc: Service, ref: Any) -> list[str]:
    used = {int(svc.record("VBD", v)["userdevice"]) for v in svc.record("VM", ref)["VBDs"]}
    return [str(i) for i in range(MAX_USERDEVICE + 1) if i not in used]


def allowed_vif_devices(svc: Service, ref: Any) -> list[str]:
    used = {int(svc.record("VIF", v)["device"]) for v in svc.record("VM", ref)["VIFs"]}
    return [str(i) for i in range(MAX_VIF_DEVICE + 1) if i not in used]


def create(svc: Service, cls: str, record: Any) -> str:
    rec = as_record(record)
    with svc.txn() as tx:
        row = vm_row(svc, rec.get("VM"), tx, "changing_VCPUs")
        if row.power_state != "Halted":
            raise ApiFailure("VM_BAD_POWER_STATE", row.ref, "halted", row.power_state.lower())
        spec = tx.host.vm(row.name).spec
        extra: dict[str, Any] = {}
        try:
            if cls == "VBD":
                disk = _disk_from(rec, spec)
                new_spec = spec.model_copy(update={"disks": [*spec.disks, disk]})
                key = f"{row.uuid}/{disk.vbd_devid}"
                vdi = rec.get("VDI", NULL_REF)
                if vdi not in (NULL_REF, "", None):
                    if vdi not in svc.world().objects["VDI"]:
                        raise ApiFailure("HANDLE_INVALID", "VDI", vdi)
                    extra["VDI"] = vdi
            else:
                nic = _nic_from(rec, spec)
                new_spec = spec.model_copy(update={"nics": [*spec.nics, nic]})
                key = f"{row.uuid}/{nic.devid}"
                net = rec.get("network", NULL_REF)
                if net not in (NULL_REF, "", None):  # none given: the management network (eth0's)
                    if net not in svc.world().objects["network"]:
                        raise ApiFailure("HANDLE_INVALID", "network", net)
                    extra["network"] = net
            tx.host.update_vm(row.name, VmSpec.model_validate(new_spec.model_dump()))
        except ValidationError as e:
            raise ApiFailure("FIELD_TYPE_ERROR", str(e.errors()[0]["loc"][-1:] or "record")) from None
        except BadPowerState as e:
            raise ApiFailure("VM_BAD_POWER_STATE", row.ref, ", ".join(e.expected), e.actual.lower()) from None
        ref, _ = tx.ref(cls, key)
        other = rec.get("other_config")
        if isinstance(other, dict) and other:
            extra["other_config"] = {str(k): str(v) for k, v in other.items()}
        if extra:
            overlay.put(tx.conn, ref, cls, extra)
    return ref


def _disk_from(rec: dict[str, Any], spec: VmSpec) -> DiskSpec:
    used = {d.userdevice for d in spec.disks}
    raw = rec.get("userdevice", "autodetect")
    if raw in ("autodetect", "", None):
        userdevice = next((i for i in range(MAX_USERDEVICE + 1) if i not in used), None)
        if userdevice is None:
            raise ApiFailure("INVALID_DEVICE", "autodetect")
    else:
        userdevice = as_int(raw, "userdevice")
        if not 0 <= userdevice <= MAX_USERDEVICE:
            raise ApiFailure("INVALID_DEVICE", str(raw))
        if userdevice in used:
            raise ApiFailure("DEVICE_ALREADY_EXISTS", str(userdevice))
    mode = str(rec.get("mode", "RW")).upper()
    vtype = str(rec.get("type", "Disk"))
    if mode not in ("RW", "RO"):
        raise ApiFailure("FIELD_TYPE_ERROR", "mode")
    if vtype not in ("Disk", "CD"):
        raise ApiFailure("FIELD_TYPE_ERROR", "type")
    return DiskSpec(
        userdevice=userdevice,
        mode="rw" if mode == "RW" else "ro",
        kind="disk" if vtype == "Disk" else "cdrom",
    )


def _nic_from(rec: dict[str, Any], spec: VmSpec) -> NicSpec:
    used = {n.devid for n in spec.nics}
    devid = as_int(rec.get("device", 0), "device")
    if not 0 <= devid <= MAX_VIF_DEVICE:
        raise ApiFailure("INVALID_DEVICE", str(devid))
    if devid in used:
        raise ApiFailure("DEVICE_ALREADY_EXISTS", str(devid))
    mac = rec.get("MAC") or None
    if mac is not None and not re.fullmatch(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}", str(mac)):
        raise ApiFailure("MAC_INVALID", str(mac))
    return NicSpec(devid=devid, mac=mac)


def _device_row(cls: str, ref: Any, tx: Txn[Host]) -> DeviceRow:
    row = tx.device(ref, cls.lower()) if isinstance(ref, str) else None
    if row is None:
        raise ApiFailure("HANDLE_INVALID", cls, ref)
    return row


def destroy(svc: Service, cls: str, ref: Any) -> str:
    with svc.txn() as tx:
        d = _device_row(cls, ref, tx)
        vm = vm_row(svc, d.vm_ref, tx, "changing_VCPUs")
        if vm.power_state != "Halted":
            raise ApiFailure("VM_BAD_POWER_STATE", vm.ref, "halted", vm.power_state.lower())
        spec = tx.host.vm(vm.name).spec
        if cls == "VBD":
            new = spec.model_copy(update={"disks": [x for x in spec.disks if x.vbd_devid != d.devid]})
        else:
            new = spec.model_copy(update={"nics": [x for x in spec.nics if x.devid != d.devid]})
        tx.host.update_vm(vm.name, new)
        overlay.delete(tx.conn, d.ref)
    return ""


def plug(svc: Service, cls: str, ref: Any, plugging: bool) -> str:
    """VBD/VIF.plug and .unplug on a running VM, through the toolstack's `plug_device(vm, device spec)` and
    `unplug_device(vm, kind, devid)`. A plug whose backend fails is committed as it ended (the device
    detached, with the backend's message in status_code/status_detail), posts a VBD/VIF_PLUG_FAILED
    message, and is then answered as xapi answers it: the backend's text as INTERNAL_ERROR (xenopsd's
    device errors reach the client through xapi_xenops.ml's generic Internal_error mapping)."""
    failure: tuple[ApiFailure, str, DeviceRow, VmRow] | None = None
    with svc.txn() as tx:
        d = _device_row(cls, ref, tx)
        vm = vm_row(svc, d.vm_ref, tx, "plug")
        if vm.power_state != "Running":
            raise ApiFailure("VM_BAD_POWER_STATE", vm.ref, "running", vm.power_state.lower())
        if plugging and d.attached:
            raise ApiFailure("DEVICE_ALREADY_ATTACHED", d.ref)
        if not plugging and not d.attached:
            raise ApiFailure("DEVICE_ALREADY_DETACHED", d.ref)
        try:
            if plugging:
                tx.host.plug_device(vm.uuid, _spec_device(tx.host.vm(vm.uuid).spec, d))
            else:
                tx.host.unplug_device(vm.uuid, d.kind, d.devid)
        except BadPowerState as e:
            raise ApiFailure("VM_BAD_POWER_STATE", vm.ref, ", ".join(e.expected), e.actual.lower()) from None
        except DeviceError as e:  # the device's failure: kept (detached, with its status), then answered
            if e.xenapi_code in ("DEVICE_ALREADY_ATTACHED", "DEVICE_ALREADY_DETACHED"):
                raise ApiFailure(e.xenapi_code, d.ref) from None
            failure = (ApiFailure(e.xenapi_code, *e.xenapi_params), e.message, d, vm)
        except ToolstackError as e:
            raise ApiFailure("INTERNAL_ERROR", e.message) from None
    if failure is not None:
        error, text, d, vm = failure
        messages.device_failed(svc, cls, vm, d.uuid, text)
        raise error
    return ""


def _spec_device(spec: VmSpec, d: DeviceRow) -> DiskSpec | NicSpec:
    if d.kind == "vbd":
        return next(x for x in spec.disks if x.vbd_devid == d.devid)
    return next(x for x in spec.nics if x.devid == d.devid)
