"""VM messages that define, copy or reshape VMs (xen-api: ocaml/xapi/xapi_vm.ml, xapi_vm_clone.ml,
xapi_templates_install.ml): create, destroy, clone, copy, provision, and the setters with a toolstack effect
(VCPUs, memory limits: halted VMs only, as xapi).

A XenAPI `name_label` is free text and need not be unique; the toolstack keys VMs by a short name, so a VM
made here gets a toolstack name derived from its label (made unique), and its label is kept in the overlay.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree

from pydantic import ValidationError

from evtchn.api import crash_action, overlay
from evtchn.api.coerce import MIB, as_int, as_record, as_str
from evtchn.api.errors import ApiFailure
from evtchn.api.lifecycle import vm_row
from evtchn.api.service import Service
from evtchn.api.storage import new_vdi
from evtchn.store.sqlite import Txn
from evtchn.toolstack.errors import BadPowerState
from evtchn.toolstack.host import Host
from evtchn.toolstack.plumbing import DOM0_NAME
from evtchn.toolstack.spec import DiskSpec, VmSpec

_NAME_OK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@+-]*")
# Fields a clone or copy carries over from the source's XenAPI record (besides what the toolstack holds).
_CARRIED = ("name_description", "other_config", "platform", "PV_bootloader", "PV_args", "PV_kernel",
            "PV_ramdisk", "HVM_boot_params", "HVM_boot_policy", "tags", "actions_after_shutdown",
            "actions_after_reboot", "actions_after_crash", "xenstore_data")  # fmt: skip


_SPEC_FIELDS = {"vcpus": "VCPUs_at_startup", "max_vcpus": "VCPUs_max", "memory_mib": "memory_static_max"}


def toolstack_name(label: str, taken: Callable[[str], bool]) -> str:
    """A unique toolstack name for a free-text label: the label itself when it is a valid name."""
    base = re.sub(r"[^A-Za-z0-9_.@+-]+", "-", label).strip("-")[:56]
    if not base or not _NAME_OK.fullmatch(base):
        base = "vm" + (f"-{base}" if base else "")
    name, n = base, 1
    while taken(name) or name == DOM0_NAME:
        n += 1
        name = f"{base}-{n}"
    return name


def _define(tx: Txn[Host], spec_fields: dict[str, Any], label: str, extra: dict[str, Any]) -> tuple[str, str]:
    name = toolstack_name(label, lambda n: bool(tx.host.vms.named(n)))
    if "on_crash" not in spec_fields:  # a new VM or a template's clone: the record's actions_after_crash
        action = crash_action.parse(extra.get("actions_after_crash", "restart"))
        spec_fields = {**spec_fields, "on_crash": action}
    try:
        spec = VmSpec.model_validate({**spec_fields, "name": name})
    except ValidationError as e:
        loc = e.errors()[0]["loc"]
        field = _SPEC_FIELDS.get(str(loc[0]) if loc else "", "record")
        raise ApiFailure("FIELD_TYPE_ERROR", field) from None
    vm = tx.host.define_vm(spec)
    ref, _ = tx.ref("VM", vm.uuid, vm.uuid)
    fields = {k: v for k, v in extra.items() if k in _CARRIED}
    fields["actions_after_crash"] = crash_action.XAPI_OF[spec.on_crash]
    if label != name:
        fields["name_label"] = label
    if spec.maxvcpus != spec.vcpus:  # the rows carry the vCPUs at startup only
        fields["VCPUs_max"] = spec.maxvcpus
    if fields:
        overlay.put(tx.conn, ref, "VM", fields)
    return ref, vm.uuid


def create(svc: Service, record: Any) -> str:
    rec = as_record(record)
    label = rec.get("name_label")
    if not isinstance(label, str):
        raise ApiFailure("FIELD_TYPE_ERROR", "name_label")
    domain_type = rec.get("domain_type") or ("hvm" if rec.get("HVM_boot_policy") else "pv")
    if domain_type not in ("hvm", "pv", "pvh"):
        raise ApiFailure("FIELD_TYPE_ERROR", "domain_type")
    vcpus_max = as_int(rec.get("VCPUs_max", 1), "VCPUs_max")
    vcpus = as_int(rec.get("VCPUs_at_startup", vcpus_max), "VCPUs_at_startup")
    memory = as_int(rec.get("memory_static_max", 1024 * MIB), "memory_static_max")
    other = rec.get("other_config") or {}
    if not isinstance(other, dict):
        raise ApiFailure("FIELD_TYPE_ERROR", "other_config")
    spec = {
        "type": domain_type, "vcpus": vcpus, "max_vcpus": vcpus_max, "memory_mib": max(16, memory // MIB),
        "pv_drivers": str(other.get("pv_drivers", "true")).lower() != "false",
    }  # fmt: skip
    with svc.txn() as tx:
        return _define(tx, spec, label, rec)[0]


def destroy(svc: Service, ref: Any) -> str:
    rec = svc.world().objects["VM"].get(ref) if isinstance(ref, str) else None
    with svc.txn() as tx:
        if rec is not None and rec["is_a_template"]:
            if rec["other_config"].get("default_template") == "true":
                raise ApiFailure("VM_IS_TEMPLATE", ref, "destroy")
            overlay.put(tx.conn, ref, "VM", {overlay.DELETED: True})
            return ""
        row = vm_row(svc, ref, tx, "destroy")
        if row.power_state != "Halted":
            raise ApiFailure("VM_BAD_POWER_STATE", row.ref, "halted", row.power_state.lower())
        tx.host.remove_vm(row.name)
        overlay.delete(tx.conn, row.ref)
    return ""


def clone(svc: Service, ref: Any, new_name: Any, sr: Any = None) -> str:
    """VM.clone / VM.copy of a template or a halted VM: the new VM has the source's devices and settings;
    disks with a VDI get a copy of it on the SR (SR_FULL if it does not fit)."""
    label = as_str(new_name, "new_name")
    w = svc.world()
    src = w.objects["VM"].get(ref) if isinstance(ref, str) else None
    if src is None:
        raise ApiFailure("HANDLE_INVALID", "VM", ref)
    if src["is_control_domain"]:
        raise ApiFailure("OPERATION_NOT_ALLOWED", "Operations on domain 0 are not allowed")
    if not src["is_a_template"] and src["power_state"] != "Halted":
        raise ApiFailure("VM_BAD_POWER_STATE", ref, "halted", src["power_state"].lower())
    extra = {k: src[k] for k in _CARRIED}
    extra["other_config"] = {
        k: v
        for k, v in src["other_config"].items()
        if k != "default_template" and not k.startswith("evtchn_")
    }
    with svc.txn() as tx:
        if src["is_a_template"]:
            spec: dict[str, Any] = {
                "type": src["domain_type"], "vcpus": src["VCPUs_at_startup"], "max_vcpus": src["VCPUs_max"],
                "memory_mib": max(16, src["memory_static_max"] // MIB),
            }  # fmt: skip
        else:
            source = tx.host.vm(w.vm_names[ref]).spec
            spec = source.model_dump()
        new_ref, new_uuid = _define(tx, spec, label, extra)
        for vbd in src["VBDs"]:
            disk = w.objects["VBD"][vbd]
            if disk["VDI"] in w.objects["VDI"]:
                copy = new_vdi(svc, tx, w.objects["VDI"][disk["VDI"]])
                devid = _devid_of(tx.host.vm(w.vm_names[ref]).spec, int(disk["userdevice"]))
                vbd_ref, _ = tx.ref("VBD", f"{new_uuid}/{devid}")
                overlay.put(tx.conn, vbd_ref, "VBD", {"VDI": copy})
    return new_ref


def _devid_of(spec: VmSpec, userdevice: int) -> int:
    return next(d.vbd_devid for d in spec.disks if d.userdevice == userdevice)


def provision(svc: Service, ref: Any) -> str:
    """Create the disks the `disks` provisioning XML in other_config asks for, on its SR (or the default
    one), and attach them as VBDs; the key is consumed."""
    w = svc.world()
    with svc.txn() as tx:
        row = vm_row(svc, ref, tx, "provision")
        rec = w.objects["VM"][row.ref]
        if rec["power_state"] != "Halted":
            raise ApiFailure("VM_BAD_POWER_STATE", row.ref, "halted", rec["power_state"].lower())
        xml = rec["other_config"].get("disks")
        if not xml:
            return ""
        try:
            root = ElementTree.fromstring(xml)
        except ElementTree.ParseError as e:
            raise ApiFailure("INVALID_VALUE", "other_config:disks", f"not XML: {e}") from None
        spec = tx.host.vm(row.name).spec
        disks = list(spec.disks)
        links: list[tuple[int, str]] = []
        for n, d in enumerate(root.iter("disk")):
            userdevice = as_int(d.get("device", n), "disks:device")
            size = as_int(d.get("size", 0), "disks:size")
            sr_uuid = d.get("sr", "")
            if sr_uuid and sr_uuid not in w.by_uuid["SR"]:
                raise ApiFailure("UUID_INVALID", "SR", sr_uuid)
            if any(x.userdevice == userdevice for x in disks):
                raise ApiFailure("DEVICE_ALREADY_EXISTS", str(userdevice))
            vdi = new_vdi(svc, tx, {"name_label": f"{rec['name_label']} {userdevice}", "virtual_size": size})
            disks.append(DiskSpec(userdevice=userdevice))
            links.append((disks[-1].vbd_devid, vdi))
        try:
            tx.host.update_vm(row.name, VmSpec.model_validate({**spec.model_dump(), "disks": disks}))
        except ValidationError as e:
            raise ApiFailure("INVALID_VALUE", "other_config:disks", str(e.errors()[0]["msg"])) from None
        for devid, vdi in links:
            vbd_ref, _ = tx.ref("VBD", f"{row.uuid}/{devid}")
            overlay.put(tx.conn, vbd_ref, "VBD", {"VDI": vdi})
        stored = overlay.get(tx.conn, row.ref) or {}
        other = dict(stored.get("other_config", rec["other_config"]))
        other.pop("disks", None)
        overlay.put(tx.conn, row.ref, "VM", {**stored, "other_config": other})
    return ""


def reshape(svc: Service, ref: Any, **changes: Any) -> str:
    """A spec change (VCPUs, memory) on a halted VM, through the toolstack."""
    with svc.txn() as tx:
        row = vm_row(svc, ref, tx, "changing_VCPUs")
        spec = tx.host.vm(row.name).spec
        try:
            new = VmSpec.model_validate({**spec.model_dump(), **changes})
        except ValidationError:
            field, value = next(iter(changes.items()))
            raise ApiFailure("INVALID_VALUE", field, str(value)) from None
        try:
            tx.host.update_vm(row.name, new)
        except BadPowerState as e:
            raise ApiFailure("VM_BAD_POWER_STATE", row.ref, "halted", e.actual.lower()) from None
        overlay.update(tx.conn, row.ref, "VM", VCPUs_max=new.maxvcpus)
    return ""


def set_vcpus_max(svc: Service, ref: Any, value: Any) -> str:
    n = as_int(value, "value")
    rec = svc.record("VM", ref)
    return reshape(svc, ref, max_vcpus=n, vcpus=min(rec["VCPUs_at_startup"], n))


def set_vcpus_at_startup(svc: Service, ref: Any, value: Any) -> str:
    n = as_int(value, "value")
    if n > svc.record("VM", ref)["VCPUs_max"]:
        raise ApiFailure("INVALID_VALUE", "VCPUs_at_startup", str(n))
    return reshape(svc, ref, vcpus=n)


def set_memory(svc: Service, ref: Any, static_min: Any, static_max: Any, dyn_min: Any, dyn_max: Any) -> str:
    smin, smax = as_int(static_min, "static_min"), as_int(static_max, "static_max")
    dmin, dmax = as_int(dyn_min, "dynamic_min"), as_int(dyn_max, "dynamic_max")
    if not 0 <= smin <= dmin <= dmax <= smax:
        raise ApiFailure("MEMORY_CONSTRAINT_VIOLATION_ORDER")
    return reshape(svc, ref, memory_mib=max(16, smax // MIB))
