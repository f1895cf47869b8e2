"""The XenAPI subset this simulator serves: host, VM, VBD and VIF over the persisted host (reference §11).

    service = XapiService(open_store(path))
    service.register(dispatcher)         # adds "VM.start", "VBD.get_record", … and every get_<field>

Reads come from the store's rows (no host load); every change is one store transaction, so the server's
threads, and other processes using the same host file, serialise there. Records carry the fields SDK
scripts read; events that the simulator does not model (networks, VDIs, SRs) read as OpaqueRef:NULL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import ValidationError

from evtchn.api.dispatch import Dispatcher
from evtchn.api.errors import ApiFailure
from evtchn.store.errors import StoreError
from evtchn.store.rows import DeviceRow, VmRow
from evtchn.store.sqlite import Store, Txn
from evtchn.toolstack.errors import BadPowerState, NoSuchVm, StartError, ToolstackError, VmExists
from evtchn.toolstack.host import Host
from evtchn.toolstack.spec import DiskSpec, NicSpec, VmSpec

NULL_REF = "OpaqueRef:NULL"
MIB = 1024 * 1024
_VM_OPS_HALTED = ["start", "destroy", "clone", "copy", "export"]
_VM_OPS_RUNNING = ["clean_shutdown", "hard_shutdown", "clean_reboot", "hard_reboot"]


def _int(value: Any, field: str) -> int:
    """XenAPI ints arrive as decimal strings (or ints from lenient clients)."""
    if isinstance(value, bool):
        raise ApiFailure("FIELD_TYPE_ERROR", field)
    try:
        n = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a <double> inf
        raise ApiFailure("FIELD_TYPE_ERROR", field) from None
    if not -(2**63) <= n < 2**63:  # XenAPI ints are 64-bit (reference §11)
        raise ApiFailure("FIELD_TYPE_ERROR", field)
    return n


def _bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ApiFailure("FIELD_TYPE_ERROR", field)


def _record(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ApiFailure("FIELD_TYPE_ERROR", "record")
    return value


def vbd_device_name(userdevice: int) -> str:
    """xvd<letter(s)> for a userdevice number, as xapi names Linux-style VBDs."""
    letters, n = "", userdevice
    while True:
        letters = chr(ord("a") + n % 26) + letters
        n = n // 26 - 1
        if n < 0:
            return "xvd" + letters


def _mac(vm_uuid: str, devid: int) -> str:
    """A stable locally administered MAC for a VIF created without one (xapi: random, then fixed)."""
    h = re.sub("[^0-9a-f]", "", vm_uuid)
    return "02:" + ":".join(h[i : i + 2] for i in range(0, 6, 2)) + f":{devid // 256:02x}:{devid % 256:02x}"


def _start_failure(e: StartError, row: VmRow) -> ApiFailure:
    """The toolstack's XenAPI error, with its VM parameter (the uuid) given as the VM ref, as xapi does."""
    return ApiFailure(e.xenapi_code, *[row.ref if p == row.uuid else p for p in e.xenapi_params])


class XapiService:
    def __init__(self, store: Store[Host]) -> None:
        self.store = store

    @contextmanager
    def _txn(self) -> Iterator[Txn[Host]]:
        """One store transaction; a host file that stays busy (another process) or breaks is INTERNAL_ERROR
        with the store's one-line message."""
        try:
            with self.store.txn() as tx:
                yield tx
        except StoreError as e:
            raise ApiFailure("INTERNAL_ERROR", e.message) from None

    # ----------------------------------------------------------- registration
    def register(self, d: Dispatcher) -> None:
        m: dict[str, tuple[Callable[..., Any], list[str]]] = {
            "host.get_all": (self.host_get_all, []),
            "host.get_all_records": (self.host_get_all_records, []),
            "host.get_record": (self.host_get_record, ["host"]),
            "host.get_by_uuid": (lambda u: self._by_uuid("host", u), ["uuid"]),
            "VM.get_all": (self.vm_get_all, []),
            "VM.get_all_records": (self.vm_get_all_records, []),
            "VM.get_by_name_label": (self.vm_get_by_name_label, ["label"]),
            "VM.get_by_uuid": (lambda u: self._by_uuid("VM", u), ["uuid"]),
            "VM.get_record": (self.vm_get_record, ["vm"]),
            "VM.create": (self.vm_create, ["args"]),
            "VM.destroy": (self.vm_destroy, ["self"]),
            "VM.start": (self.vm_start, ["vm", "start_paused", "force"]),
            "VM.clean_shutdown": (lambda r: self._lifecycle(r, "clean_shutdown"), ["vm"]),
            "VM.hard_shutdown": (lambda r: self._lifecycle(r, "hard_shutdown"), ["vm"]),
            "VM.clean_reboot": (lambda r: self._lifecycle(r, "clean_reboot"), ["vm"]),
            "VM.hard_reboot": (lambda r: self._lifecycle(r, "hard_reboot"), ["vm"]),
            "VM.unpause": (lambda r: self._lifecycle(r, "unpause"), ["vm"]),
        }
        for cls in ("VBD", "VIF"):
            m[f"{cls}.create"] = (lambda rec, c=cls: self.device_create(c, rec), ["args"])
            m[f"{cls}.destroy"] = (lambda ref, c=cls: self.device_destroy(c, ref), ["self"])
            m[f"{cls}.get_record"] = (lambda ref, c=cls: self.device_get_record(c, ref), ["self"])
            m[f"{cls}.get_all"] = (lambda c=cls: self.device_get_all(c), [])
            m[f"{cls}.get_all_records"] = (lambda c=cls: self.device_get_all_records(c), [])
            m[f"{cls}.get_by_uuid"] = (lambda u, c=cls: self._by_uuid(c, u), ["uuid"])
        for name, (fn, params) in m.items():
            d.add(name, fn, params, pure=".get_" in name)
        # every field of every record has its get_<field>, as in xapi
        getters: dict[str, Callable[[str], dict[str, Any]]] = {
            "host": self.host_get_record,
            "VM": self.vm_get_record,
            "VBD": lambda r: self.device_get_record("VBD", r),
            "VIF": lambda r: self.device_get_record("VIF", r),
        }
        samples = {
            "host": self._host_record(),
            "VM": _vm_fields(),
            "VBD": _vbd_fields(),
            "VIF": _vif_fields(),
        }
        for cls, get in getters.items():
            for field in samples[cls]:
                name = f"{cls}.get_{field}"
                if name not in d.methods:
                    d.add(name, lambda ref, g=get, f=field: g(ref)[f], ["self"], pure=True)

    # ------------------------------------------------------------------- host
    def _meta(self) -> dict[str, str]:
        return self.store.host_meta()

    def host_get_all(self) -> list[str]:
        return [self._meta()["host_ref"]]

    def _host_record(self) -> dict[str, Any]:
        meta = self._meta()
        vms = self.store.vms()
        return {
            "uuid": meta["host_uuid"],
            "name_label": "evtchn-sim",
            "name_description": f"simulated host, profile {meta.get('profile', '')}",
            "hostname": "evtchn-sim",
            "address": "127.0.0.1",
            "enabled": True,
            "API_version_major": 2,
            "API_version_minor": 21,
            "API_version_vendor": "evtchn",
            "resident_VMs": [meta["dom0_ref"]] + [v.ref for v in vms if v.power_state != "Halted"],
            "control_domain": meta["dom0_ref"],
            "software_version": {"product_brand": "evtchn", "profile": meta.get("profile", "")},
            "other_config": {
                "profile": meta.get("profile", ""),
                "hardware": meta.get("hardware", ""),
                "dom0_evtchn_used": meta.get("dom0_ports_used", "0"),
                "dom0_evtchn_free": meta.get("dom0_ports_free", "0"),
            },
            "cpu_info": {"cpu_count": meta.get("dom0_vcpus", "0")},
        }

    def host_get_record(self, ref: Any) -> dict[str, Any]:
        if ref != self._meta()["host_ref"]:
            raise ApiFailure("HANDLE_INVALID", "host", ref)
        return self._host_record()

    def host_get_all_records(self) -> dict[str, Any]:
        return {self._meta()["host_ref"]: self._host_record()}

    def _by_uuid(self, cls: str, uuid: Any) -> str:
        meta = self._meta()
        ref: str | None = None
        if cls == "host":
            ref = meta["host_ref"] if uuid == meta["host_uuid"] else None
        elif cls == "VM":
            row = self.store.vm(uuid=str(uuid))
            ref = row.ref if row else (meta["dom0_ref"] if uuid == meta["dom0_uuid"] else None)
        else:
            ref = next((d.ref for d in self.store.devices(kind=cls.lower()) if d.uuid == uuid), None)
        if ref is None:
            raise ApiFailure("UUID_INVALID", cls, uuid)
        return ref

    # --------------------------------------------------------------------- VM
    def vm_get_all(self) -> list[str]:
        return [self._meta()["dom0_ref"]] + [v.ref for v in self.store.vms()]

    def vm_get_all_records(self) -> dict[str, Any]:
        meta = self._meta()
        devices = self.store.devices()
        out = {meta["dom0_ref"]: self._dom0_record(meta)}
        for row in self.store.vms():
            out[row.ref] = self._vm_record(row, [d for d in devices if d.vm_ref == row.ref], meta)
        return out

    def vm_get_by_name_label(self, label: Any) -> list[str]:
        row = self.store.vm(name=str(label))
        refs = [row.ref] if row else []
        meta = self._meta()
        if label == self._dom0_record(meta)["name_label"]:
            refs.append(meta["dom0_ref"])
        return refs

    def vm_get_record(self, ref: Any) -> dict[str, Any]:
        meta = self._meta()
        if ref == meta["dom0_ref"]:
            return self._dom0_record(meta)
        row = self._vm_row(ref)
        return self._vm_record(row, self.store.devices(vm_ref=row.ref), meta)

    def _vm_row(self, ref: Any, tx: Txn[Host] | None = None) -> VmRow:
        rows = tx or self.store
        row = rows.vm(ref=str(ref)) if isinstance(ref, str) else None
        if row is None:
            if isinstance(ref, str) and ref == rows.host_meta().get("dom0_ref"):
                # a valid handle: xapi refuses operations on the control domain (xapi_vm_lifecycle.ml)
                raise ApiFailure("OPERATION_NOT_ALLOWED", "Operations on domain 0 are not allowed")
            raise ApiFailure("HANDLE_INVALID", "VM", ref)
        return row

    def _dom0_record(self, meta: dict[str, str]) -> dict[str, Any]:
        rec = _vm_fields()
        vcpus = int(meta.get("dom0_vcpus", "1") or 1)
        rec.update(
            uuid=meta["dom0_uuid"], name_label="Control domain on host: evtchn-sim", power_state="Running",
            domid=0, is_control_domain=True, VCPUs_max=vcpus, VCPUs_at_startup=vcpus, domain_type="pv",
            resident_on=meta["host_ref"], allowed_operations=[],
        )  # fmt: skip
        return rec

    def _vm_record(self, row: VmRow, devices: list[DeviceRow], meta: dict[str, str]) -> dict[str, Any]:
        rec = _vm_fields()
        halted = row.power_state == "Halted"
        hvm = row.vm_type == "hvm"
        rec.update(
            uuid=row.uuid,
            name_label=row.name,
            power_state=row.power_state,
            domid=-1 if row.domid is None else row.domid,
            VCPUs_max=row.vcpus,
            VCPUs_at_startup=row.vcpus,
            memory_static_max=row.memory_mib * MIB,
            memory_dynamic_max=row.memory_mib * MIB,
            memory_dynamic_min=row.memory_mib * MIB,
            memory_static_min=row.memory_mib * MIB,
            HVM_boot_policy="BIOS order" if hvm else "",
            HVM_boot_params={"order": "cd"} if hvm else {},
            PV_bootloader="" if hvm else "pygrub",
            domain_type=row.vm_type,
            resident_on=NULL_REF if halted else meta["host_ref"],
            VBDs=[d.ref for d in devices if d.kind == "vbd"],
            VIFs=[d.ref for d in devices if d.kind == "vif"],
            allowed_operations=_VM_OPS_HALTED if halted else _VM_OPS_RUNNING,
            other_config={"evtchn_dom0_ports": str(row.dom0_ports)},
        )
        if row.messages:
            rec["other_config"]["evtchn_last_message"] = row.messages[-1]
        return rec

    def vm_create(self, record: Any) -> str:
        rec = _record(record)
        name = rec.get("name_label")
        if not isinstance(name, str) or not name:
            raise ApiFailure("FIELD_TYPE_ERROR", "name_label")
        domain_type = rec.get("domain_type") or ("hvm" if rec.get("HVM_boot_policy") else "pv")
        if domain_type not in ("hvm", "pv", "pvh"):
            raise ApiFailure("FIELD_TYPE_ERROR", "domain_type")
        vcpus_max = _int(rec.get("VCPUs_max", 1), "VCPUs_max")
        vcpus = _int(rec.get("VCPUs_at_startup", vcpus_max), "VCPUs_at_startup")
        memory = _int(rec.get("memory_static_max", 1024 * MIB), "memory_static_max")
        other = rec.get("other_config") or {}
        if not isinstance(other, dict):
            raise ApiFailure("FIELD_TYPE_ERROR", "other_config")
        try:
            spec = VmSpec(
                name=name, type=domain_type, vcpus=vcpus, max_vcpus=vcpus_max,
                memory_mib=max(16, memory // MIB),
                pv_drivers=str(other.get("pv_drivers", "true")).lower() != "false",
            )  # fmt: skip
        except ValidationError as e:
            field = {"name": "name_label", "vcpus": "VCPUs_at_startup", "max_vcpus": "VCPUs_max"}.get(
                str(e.errors()[0]["loc"][0]) if e.errors()[0]["loc"] else "", "record"
            )
            raise ApiFailure("FIELD_TYPE_ERROR", field) from None
        with self._txn() as tx:
            try:
                vm = tx.host.define_vm(spec)
            except VmExists as e:
                raise ApiFailure("OPERATION_NOT_ALLOWED", e.message) from None
            ref, _ = tx.ref("VM", vm.uuid, vm.uuid)
        return ref

    def vm_destroy(self, ref: Any) -> str:
        with self._txn() as tx:
            row = self._vm_row(ref, tx)
            if row.power_state != "Halted":
                raise ApiFailure("VM_BAD_POWER_STATE", row.ref, "halted", row.power_state.lower())
            tx.host.remove_vm(row.name)
        return ""

    def vm_start(self, ref: Any, start_paused: Any, force: Any) -> str:
        paused = _bool(start_paused, "start_paused")
        _bool(force, "force")
        with self._txn() as tx:
            row = self._vm_row(ref, tx)
            try:
                tx.host.start_vm(row.name, paused=paused)
            except StartError as e:  # raised inside the transaction: nothing of the start is kept
                raise _start_failure(e, row) from None
            except BadPowerState as e:
                raise ApiFailure("VM_BAD_POWER_STATE", row.ref, ", ".join(e.expected), e.actual) from None
        return ""

    def _lifecycle(self, ref: Any, op: str) -> str:
        with self._txn() as tx:
            row = self._vm_row(ref, tx)
            h = tx.host
            actions: dict[str, Callable[[str], object]] = {
                "clean_shutdown": h.shutdown_vm,
                "hard_shutdown": h.destroy_vm,
                "clean_reboot": h.reboot_vm,
                "hard_reboot": h.reboot_vm,
                "unpause": h.unpause_vm,
            }
            try:
                actions[op](row.name)
            except BadPowerState as e:
                raise ApiFailure("VM_BAD_POWER_STATE", row.ref, ", ".join(e.expected), e.actual) from None
            except StartError as e:  # a reboot whose start failed: the whole reboot is undone
                raise _start_failure(e, row) from None
            except NoSuchVm:
                raise ApiFailure("HANDLE_INVALID", "VM", ref) from None
            except ToolstackError as e:
                raise ApiFailure("INTERNAL_ERROR", e.message) from None
        return ""

    # ------------------------------------------------------------ VBD and VIF
    def _device_row(self, cls: str, ref: Any, tx: Txn[Host] | None = None) -> DeviceRow:
        row = (tx or self.store).device(str(ref), cls.lower()) if isinstance(ref, str) else None
        if row is None:
            raise ApiFailure("HANDLE_INVALID", cls, ref)
        return row

    def device_get_all(self, cls: str) -> list[str]:
        return [d.ref for d in self.store.devices(kind=cls.lower())]

    def device_get_record(self, cls: str, ref: Any) -> dict[str, Any]:
        return self._device_record(self._device_row(cls, ref), self._vm_uuid_of)

    def device_get_all_records(self, cls: str) -> dict[str, Any]:
        return {d.ref: self._device_record(d, self._vm_uuid_of) for d in self.store.devices(kind=cls.lower())}

    def _vm_uuid_of(self, vm_ref: str) -> str:
        row = self.store.vm(ref=vm_ref)
        return row.uuid if row else ""

    def _device_record(self, d: DeviceRow, vm_uuid: Callable[[str], str]) -> dict[str, Any]:
        if d.kind == "vbd":
            rec = _vbd_fields()
            userdevice = int(d.detail.get("userdevice", 0))
            cd = d.detail.get("type") == "cdrom"
            rec.update(
                uuid=d.uuid, VM=d.vm_ref, userdevice=str(userdevice), device=vbd_device_name(userdevice),
                mode="RO" if d.detail.get("mode") == "ro" else "RW", type="CD" if cd else "Disk",
                empty=cd, bootable=userdevice == 0,
            )  # fmt: skip
        else:
            rec = _vif_fields()
            mac = d.detail.get("mac") or _mac(vm_uuid(d.vm_ref), d.devid)
            rec.update(uuid=d.uuid, VM=d.vm_ref, device=str(d.devid), MAC=mac,
                       MAC_autogenerated=not d.detail.get("mac"))  # fmt: skip
        rec.update(
            currently_attached=d.attached,
            status_code=d.status_code,
            status_detail=d.status_detail,
            other_config={"evtchn_dom0_ports": str(d.dom0_ports)},
        )
        return rec

    def device_create(self, cls: str, record: Any) -> str:
        rec = _record(record)
        with self._txn() as tx:
            vm_row = self._vm_row(rec.get("VM"), tx)
            if vm_row.power_state != "Halted":
                raise ApiFailure("VM_BAD_POWER_STATE", vm_row.ref, "halted", vm_row.power_state.lower())
            vm = tx.host.vms[vm_row.name]
            spec = vm.spec
            try:
                if cls == "VBD":
                    disk = self._disk_from(rec, spec)
                    new_spec = spec.model_copy(update={"disks": [*spec.disks, disk]})
                    key = f"{vm.uuid}/{disk.vbd_devid}"
                else:
                    nic = self._nic_from(rec, spec)
                    new_spec = spec.model_copy(update={"nics": [*spec.nics, nic]})
                    key = f"{vm.uuid}/{nic.devid}"
                tx.host.update_vm(vm.name, VmSpec.model_validate(new_spec.model_dump()))
            except ValidationError as e:
                raise ApiFailure("FIELD_TYPE_ERROR", str(e.errors()[0]["loc"][-1:] or "record")) from None
            except BadPowerState as e:
                raise ApiFailure("VM_BAD_POWER_STATE", vm_row.ref, ", ".join(e.expected), e.actual) from None
            ref, _ = tx.ref(cls, key)
        return ref

    def _disk_from(self, rec: dict[str, Any], spec: VmSpec) -> DiskSpec:
        used = {d.userdevice for d in spec.disks}
        raw = rec.get("userdevice", "autodetect")
        if raw in ("autodetect", "", None):
            free = next((i for i in range(255) if i not in used), None)
            if free is None:  # xapi: INVALID_DEVICE [userdevice] when autodetect finds none (xapi_vbd.ml)
                raise ApiFailure("INVALID_DEVICE", str(raw or "autodetect"))
            userdevice = free
        else:
            userdevice = _int(raw, "userdevice")
            if userdevice in used:
                raise ApiFailure("DEVICE_ALREADY_EXISTS", str(userdevice))
        mode = str(rec.get("mode", "RW")).upper()
        vtype = str(rec.get("type", "Disk"))
        if mode not in ("RW", "RO"):
            raise ApiFailure("FIELD_TYPE_ERROR", "mode")
        if vtype not in ("Disk", "CD"):
            raise ApiFailure("FIELD_TYPE_ERROR", "type")
        if not 0 <= userdevice <= 254:
            raise ApiFailure("FIELD_TYPE_ERROR", "userdevice")
        return DiskSpec(
            userdevice=userdevice,
            mode="rw" if mode == "RW" else "ro",
            kind="disk" if vtype == "Disk" else "cdrom",
        )

    def _nic_from(self, rec: dict[str, Any], spec: VmSpec) -> NicSpec:
        used = {n.devid for n in spec.nics}
        devid = _int(rec.get("device", 0), "device")
        if devid in used:
            raise ApiFailure("DEVICE_ALREADY_EXISTS", str(devid))
        if not 0 <= devid <= 255:
            raise ApiFailure("FIELD_TYPE_ERROR", "device")
        mac = rec.get("MAC") or None
        if mac is not None and not re.fullmatch(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}", str(mac)):
            raise ApiFailure("MAC_INVALID", str(mac))
        return NicSpec(devid=devid, mac=mac)

    def device_destroy(self, cls: str, ref: Any) -> str:
        with self._txn() as tx:
            d = self._device_row(cls, ref, tx)
            vm_row = self._vm_row(d.vm_ref, tx)
            if vm_row.power_state != "Halted":
                raise ApiFailure("VM_BAD_POWER_STATE", vm_row.ref, "halted", vm_row.power_state.lower())
            spec = tx.host.vms[vm_row.name].spec
            if cls == "VBD":
                new = spec.model_copy(update={"disks": [x for x in spec.disks if x.vbd_devid != d.devid]})
            else:
                new = spec.model_copy(update={"nics": [x for x in spec.nics if x.devid != d.devid]})
            tx.host.update_vm(vm_row.name, new)
        return ""


def _vm_fields() -> dict[str, Any]:
    """A VM record's fields with xapi's defaults; callers fill in what the simulator knows. xapi fields for
    things the simulator has no notion of (consoles, snapshots, tags, metrics objects, PCI, vTPM, HA, …)
    are left out: every field here means something for this host."""
    return {
        "uuid": "", "name_label": "", "name_description": "", "power_state": "Halted", "domid": -1,
        "is_a_template": False, "is_a_snapshot": False, "is_control_domain": False, "resident_on": NULL_REF,
        "memory_static_max": 0, "memory_dynamic_max": 0, "memory_dynamic_min": 0, "memory_static_min": 0,
        "VCPUs_max": 1, "VCPUs_at_startup": 1, "actions_after_shutdown": "destroy",
        "actions_after_reboot": "restart", "actions_after_crash": "restart", "HVM_boot_policy": "",
        "HVM_boot_params": {}, "PV_bootloader": "", "platform": {}, "other_config": {}, "domain_type": "pv",
        "VBDs": [], "VIFs": [], "allowed_operations": [], "current_operations": {},
    }  # fmt: skip


def _vbd_fields() -> dict[str, Any]:
    return {
        "uuid": "", "VM": NULL_REF, "VDI": NULL_REF, "device": "", "userdevice": "0", "bootable": False,
        "mode": "RW", "type": "Disk", "unpluggable": True, "storage_lock": False, "empty": False,
        "currently_attached": False, "status_code": 0, "status_detail": "", "runtime_properties": {},
        "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {},
        "qos_supported_algorithms": [], "metrics": NULL_REF, "allowed_operations": [],
        "current_operations": {},
    }  # fmt: skip


def _vif_fields() -> dict[str, Any]:
    return {
        "uuid": "", "VM": NULL_REF, "network": NULL_REF, "device": "0", "MAC": "", "MTU": 1500,
        "MAC_autogenerated": False, "currently_attached": False, "status_code": 0, "status_detail": "",
        "runtime_properties": {}, "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {},
        "qos_supported_algorithms": [], "metrics": NULL_REF, "locking_mode": "network_default",
        "ipv4_allowed": [], "ipv6_allowed": [], "allowed_operations": [], "current_operations": {},
    }  # fmt: skip
