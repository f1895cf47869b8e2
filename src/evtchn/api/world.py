"""Every XenAPI object of the host as records, built from one consistent read of the host file.

    world = build(inputs)                         # inputs: rows + overlay + tasks, read in one snapshot
    world.objects["VM"][ref]                      # the record a client gets from VM.get_record
    world.by_uuid["SR"][uuid]                     # -> ref

Toolstack objects (VMs, VBDs, VIFs) come from the store's rows, with the overlay's XenAPI-only fields on top.
Objects a single host has by construction (pool, host_metrics, host_cpu, SR/PBD, network/PIF, templates,
VM_metrics, consoles, guest metrics) are derived: their refs are name-based uuids of the host's uuid, so they
are stable across processes and restarts without being stored. Tasks come from the server's task table.
"""

from __future__ import annotations

import functools
import hashlib
import uuid as uuidlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evtchn.api import catalog
from evtchn.api.catalog import TEMPLATE_OPS, VM_OPS
from evtchn.api.coerce import MIB, NULL_REF, stable_mac, vbd_device_name
from evtchn.api.overlay import DELETED
from evtchn.store.rows import DeviceRow, VmRow

DOM0_NAME = "Control domain on host: evtchn-sim"  # xapi names dom0 after its host
CLASSES = (
    "pool", "host", "host_metrics", "host_cpu", "VM", "VM_metrics", "VM_guest_metrics", "console", "SR",
    "PBD", "VDI", "VBD", "VIF", "network", "PIF", "task", "message",
)  # fmt: skip
_NS = uuidlib.UUID("6b1d3c52-7e0a-4d3b-9c39-2f8e5a0b7c11")



@functools.lru_cache(maxsize=65536)
def derived(seed: str, key: str) -> tuple[str, str]:
    """(ref, uuid) of a derived object: name-based, so every process computes the same."""
    return (f"OpaqueRef:{uuidlib.uuid5(_NS, f'{seed}/{key}/ref')}", str(uuidlib.uuid5(_NS, f"{seed}/{key}")))


@dataclass
class Inputs:
    meta: Mapping[str, str]
    vms: Sequence[VmRow]
    devices: Sequence[DeviceRow]
    overlay: Mapping[str, tuple[str, dict[str, Any]]]
    host_pcpus: int
    host_memory_mib: int
    dom0_memory_mib: int
    tasks: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    operations: Mapping[str, dict[str, str]] = field(default_factory=dict)  # object ref -> {task: op}
    messages: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # ref -> message record
    on_crash: Mapping[str, str] = field(default_factory=dict)  # VM uuid -> spec.on_crash (crash_spec.py)


@dataclass
class World:
    key: Any
    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: {c: {} for c in CLASSES})
    by_uuid: dict[str, dict[str, str]] = field(default_factory=lambda: {c: {} for c in CLASSES})
    vm_names: dict[str, str] = field(default_factory=dict)  # VM ref -> toolstack name (not templates)
    free_memory: int = 0
    # VM ref -> what its part of the view (VM, VBDs, VIFs, metrics, console, guest metrics) was built from:
    # the next build reuses the part of a VM whose inputs are equal (see _reused)
    vm_inputs: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    def add(self, cls: str, ref: str, rec: dict[str, Any]) -> dict[str, Any]:
        self.objects[cls][ref] = rec
        self.by_uuid[cls][rec["uuid"]] = ref
        return rec


def _overlaid(rec: dict[str, Any], extra: dict[str, Any] | None) -> dict[str, Any]:
    if extra:
        rec.update({k: v for k, v in extra.items() if k in rec})
    return rec


def build(key: Any, i: Inputs, prev: World | None = None) -> World:
    """The whole view; with `prev` (the view of an earlier generation) the part of each toolstack VM whose
    rows, overlay fields and operations are unchanged is taken from it instead of being built again."""
    w = World(key)
    meta = i.meta
    host_ref, host_uuid = meta["host_ref"], meta["host_uuid"]
    over = {ref: f for ref, (_, f) in i.overlay.items()}
    pool_ref, pool_uuid = derived(host_uuid, "pool")
    sr_ref, sr_uuid = derived(host_uuid, "SR/local")
    pbd_ref, pbd_uuid = derived(host_uuid, "PBD/local")
    hm_ref, hm_uuid = derived(host_uuid, "host_metrics")
    _build_network(w, host_ref, host_uuid, over)
    first_net = next(iter(w.objects["network"]), NULL_REF)

    # ------------------------------------------------------------------ VMs
    dom0_vcpus = int(meta.get("dom0_vcpus", "1") or 1)
    dom0_mem = i.dom0_memory_mib * MIB
    dom0 = catalog.vm_defaults()
    dom0.update(
        uuid=meta["dom0_uuid"], name_label=DOM0_NAME, power_state="Running",
        domid=0, is_control_domain=True, VCPUs_max=dom0_vcpus, VCPUs_at_startup=dom0_vcpus, domain_type="pv",
        resident_on=host_ref, memory_static_max=dom0_mem, actions_after_crash="destroy",
        memory_dynamic_max=dom0_mem, memory_dynamic_min=dom0_mem, memory_static_min=dom0_mem,
    )  # fmt: skip
    _overlaid(dom0, over.get(meta["dom0_ref"]))
    _vm_extras(w, meta["dom0_ref"], dom0, host_ref)
    w.add("VM", meta["dom0_ref"], dom0)
    used_memory = i.dom0_memory_mib * MIB + _toolstack_vms(w, i, over, first_net, prev)
    for t in catalog.TEMPLATES:
        ref, uuid = derived(host_uuid, f"template/{t.name_label}")
        extra = over.get(ref)
        if extra and extra.get(DELETED):
            continue
        rec = catalog.vm_defaults()
        rec.update(
            uuid=uuid, name_label=t.name_label, name_description=t.name_description, is_a_template=True,
            is_default_template=True, domain_type=t.domain_type, VCPUs_max=t.vcpus, VCPUs_at_startup=t.vcpus,
            memory_static_max=t.memory, memory_dynamic_max=t.memory, memory_dynamic_min=t.memory,
            memory_static_min=16 * MIB, other_config=dict(t.other_config), platform=dict(t.platform),
            PV_bootloader=t.PV_bootloader, HVM_boot_params=dict(t.HVM_boot_params),
            HVM_boot_policy="BIOS order" if t.domain_type == "hvm" else "",
        )  # fmt: skip
        _overlaid(rec, extra)
        rec["allowed_operations"] = [] if i.operations.get(ref) else list(TEMPLATE_OPS)
        rec["current_operations"] = dict(i.operations.get(ref, {}))
        _vm_metrics(w, ref, rec)
        w.add("VM", ref, rec)

    # ----------------------------------------------------- storage (one local SR)
    _vdis(w, i, sr_ref)
    used = sum(int(r["virtual_size"]) for r in w.objects["VDI"].values())
    sr = {
        "uuid": sr_uuid, "name_label": catalog.LOCAL_SR["name_label"], "name_description": "",
        "type": catalog.LOCAL_SR["type"], "content_type": "user", "shared": False,
        "physical_size": catalog.LOCAL_SR["physical_size"], "physical_utilisation": used,
        "virtual_allocation": used, "VDIs": list(w.objects["VDI"]), "PBDs": [pbd_ref], "other_config": {},
        "sm_config": {"devserial": "scsi-evtchn-sim"}, "tags": [], "local_cache_enabled": False,
        "allowed_operations": ["vdi_create", "vdi_destroy", "scan"], "current_operations": {},
        "is_tools_sr": False, "clustered": False, "blobs": {}, "introduced_by": NULL_REF,
    }  # fmt: skip
    w.add("SR", sr_ref, _overlaid(sr, over.get(sr_ref)))
    w.add("PBD", pbd_ref, {
        "uuid": pbd_uuid, "host": host_ref, "SR": sr_ref, "currently_attached": True,
        "device_config": {"device": catalog.LOCAL_SR["device"]}, "other_config": {},
    })  # fmt: skip

    # ------------------------------------------------------ pool and host
    total = i.host_memory_mib * MIB
    w.free_memory = max(0, total - used_memory)
    cpus = []
    for n in range(i.host_pcpus):
        ref, uuid = derived(host_uuid, f"host_cpu/{n}")
        cpus.append(ref)
        w.add("host_cpu", ref, {
            "uuid": uuid, "host": host_ref, "number": n, "vendor": "GenuineIntel", "speed": 2600,
            "modelname": "simulated x86-64 CPU", "family": 6, "model": 45, "stepping": "7", "flags": "",
            "features": "", "utilisation": 0.0, "other_config": {},
        })  # fmt: skip
    w.add("host_metrics", hm_ref, {
        "uuid": hm_uuid, "memory_total": total, "memory_free": w.free_memory, "live": True,
        "last_updated": "", "other_config": {},
    })  # fmt: skip
    host = {
        "uuid": host_uuid, "name_label": "evtchn-sim",
        "name_description": f"simulated host, profile {meta.get('profile', '')}",
        "hostname": "evtchn-sim", "address": "127.0.0.1", "enabled": True,
        "API_version_major": 2, "API_version_minor": 21, "API_version_vendor": "evtchn",
        "API_version_vendor_implementation": {},
        "resident_VMs": [r for r, v in w.objects["VM"].items() if v["resident_on"] == host_ref],
        "control_domain": meta["dom0_ref"], "metrics": hm_ref, "host_CPUs": cpus, "PBDs": [pbd_ref],
        "PIFs": list(w.objects["PIF"]), "suspend_image_sr": sr_ref, "crash_dump_sr": sr_ref,
        "software_version": {"product_brand": "evtchn", "profile": meta.get("profile", "")},
        "other_config": {
            "profile": meta.get("profile", ""), "hardware": meta.get("hardware", ""),
            "dom0_evtchn_used": meta.get("dom0_ports_used", "0"),
            "dom0_evtchn_free": meta.get("dom0_ports_free", "0"),
        },
        "cpu_info": {"cpu_count": str(i.host_pcpus), "dom0_vcpus": str(dom0_vcpus)},
        "memory_overhead": 0, "tags": [], "allowed_operations": ["evacuate", "provision", "vm_start"],
        "current_operations": dict(i.operations.get(host_ref, {})), "logging": {}, "capabilities": [],
        "sched_policy": "credit", "supported_bootloaders": ["pygrub", "eliloader"],
    }  # fmt: skip
    w.add("host", host_ref, _overlaid(host, over.get(host_ref)))
    # read-only: dom0 ports `evtchn fault consume` holds, whatever a client wrote into other_config
    other = host["other_config"]
    assert isinstance(other, dict)
    host["other_config"] = {**other, "evtchn_fault_ports": meta.get("fault_ports", "0")}
    pool = {
        "uuid": pool_uuid, "name_label": "", "name_description": "", "master": host_ref,
        "default_SR": sr_ref, "suspend_image_SR": sr_ref, "crash_dump_SR": sr_ref, "other_config": {},
        "tags": [], "ha_enabled": False, "allowed_operations": [], "current_operations": {},
    }  # fmt: skip
    w.add("pool", pool_ref, _overlaid(pool, over.get(pool_ref)))

    for ref, rec in i.tasks.items():
        w.add("task", ref, {**rec, "resident_on": host_ref})
    for ref, rec in i.messages.items():
        w.add("message", ref, dict(rec))
    return w


def build_vms(key: Any, i: Inputs) -> World:
    """Only the toolstack VMs in `i` (and their devices, metrics, consoles, VDIs): what one VM's, VBD's or
    VIF's record needs, read with a few targeted queries instead of the whole host."""
    w = World(key)
    over = {ref: f for ref, (_, f) in i.overlay.items()}
    _build_network(w, i.meta["host_ref"], i.meta["host_uuid"], over)
    _toolstack_vms(w, i, over, next(iter(w.objects["network"]), NULL_REF))
    _vdis(w, i, derived(i.meta["host_uuid"], "SR/local")[0])
    return w


def _toolstack_vms(
    w: World, i: Inputs, over: Mapping[str, dict[str, Any]], first_net: str, prev: World | None = None
) -> int:
    """Add the toolstack's VMs and their devices; the memory the running ones hold."""
    host_ref = i.meta["host_ref"]
    dev_by_vm: dict[str, list[DeviceRow]] = {}
    for d in i.devices:
        dev_by_vm.setdefault(d.vm_ref, []).append(d)
    vdis = frozenset(r for r, (c, f) in i.overlay.items() if c == "VDI" and not f.get(DELETED))
    used_memory = 0
    for row in i.vms:
        devs = dev_by_vm.get(row.ref, [])
        extras = [(over.get(r), i.operations.get(r)) for r in [row.ref] + [d.ref for d in devs]]
        sig = (host_ref, first_net, vdis, row, tuple(devs), i.on_crash.get(row.uuid), *extras)
        w.vm_inputs[row.ref] = sig
        if prev is not None and prev.vm_inputs.get(row.ref) == sig:
            used_memory += _reused(w, prev, row.ref)
            w.vm_names[row.ref] = row.name
            continue
        rec = _vm_record(row, devs, host_ref, over.get(row.ref), i)
        if rec["power_state"] in ("Running", "Paused"):
            used_memory += rec["memory_static_max"]
        w.vm_names[row.ref] = row.name
        _vm_extras(w, row.ref, rec, host_ref)
        for d in devs:
            _device(w, d, row, rec, over.get(d.ref), first_net, i)
        if rec["power_state"] == "Running" and (row.vm_type != "hvm" or any(d.attached for d in devs)):
            _guest_metrics(w, row, rec, devs)
        w.add("VM", row.ref, rec)
    return used_memory


def _reused(w: World, prev: World, ref: str) -> int:
    """Take VM `ref`'s part of the view from `prev` (its inputs are unchanged); the memory it holds. Records
    are never changed once built, so the two views share them."""
    rec = prev.objects["VM"][ref]
    for cls, key in (("VBD", "VBDs"), ("VIF", "VIFs"), ("console", "consoles"), ("VM_metrics", "metrics"),
                     ("VM_guest_metrics", "guest_metrics")):  # fmt: skip
        for r in [rec[key]] if isinstance(rec[key], str) else rec[key]:
            if r in prev.objects[cls]:
                w.add(cls, r, prev.objects[cls][r])
    for r in rec["VIFs"]:
        vif = w.objects["VIF"][r]
        if vif["network"] in w.objects["network"] and vif["currently_attached"]:
            w.objects["network"][vif["network"]]["VIFs"].append(r)
    w.add("VM", ref, rec)
    return int(rec["memory_static_max"]) if rec["power_state"] in ("Running", "Paused") else 0


def _vdis(w: World, i: Inputs, sr_ref: str) -> None:
    vdis = [(ref, f) for ref, (cls, f) in i.overlay.items() if cls == "VDI" and not f.get(DELETED)]
    users: dict[str, list[str]] = {}
    for v, r in w.objects["VBD"].items():
        users.setdefault(r["VDI"], []).append(v)
    for ref, f in vdis:
        rec = _overlaid(catalog.vdi_defaults(), f)
        rec["SR"] = sr_ref
        rec["VBDs"] = users.get(ref, [])
        rec["physical_utilisation"] = rec["virtual_size"]
        w.add("VDI", ref, rec)
    for vbd in w.objects["VBD"].values():
        if vbd["VDI"] not in w.objects["VDI"]:
            vbd["VDI"] = NULL_REF


def _build_network(w: World, host_ref: str, host_uuid: str, over: Mapping[str, dict[str, Any]]) -> None:
    for n, dev in enumerate(catalog.PIF_DEVICES):
        net_ref, net_uuid = derived(host_uuid, f"network/{dev}")
        pif_ref, pif_uuid = derived(host_uuid, f"PIF/{dev}")
        w.add("PIF", pif_ref, catalog.pif_record(n, dev, pif_uuid, net_ref, host_ref, host_uuid))
        net = catalog.network_record(n, dev, net_uuid, pif_ref)
        w.add("network", net_ref, _overlaid(net, over.get(net_ref)))


def _vm_record(
    row: VmRow, devs: list[DeviceRow], host_ref: str, extra: dict[str, Any] | None, i: Inputs
) -> dict[str, Any]:
    rec = catalog.vm_defaults()
    hvm = row.vm_type == "hvm"
    mem = row.memory_mib * MIB
    power = row.power_state
    rec.update(
        uuid=row.uuid, name_label=row.name, power_state=power,
        domid=-1 if row.domid is None else row.domid, VCPUs_max=row.vcpus, VCPUs_at_startup=row.vcpus,
        memory_static_max=mem, memory_dynamic_max=mem, memory_dynamic_min=mem, memory_static_min=mem,
        memory_target=mem if power in ("Running", "Paused") else 0,
        HVM_boot_policy="BIOS order" if hvm else "", HVM_boot_params={"order": "cd"} if hvm else {},
        PV_bootloader="" if hvm else "pygrub", domain_type=row.vm_type,
        resident_on=host_ref if power in ("Running", "Paused") else NULL_REF,
        VBDs=[d.ref for d in devs if d.kind == "vbd"], VIFs=[d.ref for d in devs if d.kind == "vif"],
        other_config={"evtchn_dom0_ports": str(row.dom0_ports)},
    )  # fmt: skip
    if row.messages:
        rec["other_config"]["evtchn_last_message"] = row.messages[-1]
    if extra:
        oc = dict(rec["other_config"])
        _overlaid(rec, extra)
        rec["other_config"] = {**oc, **extra.get("other_config", {})}
        for k in extra.get("other_config_removed", []):
            rec["other_config"].pop(k, None)
    rec["actions_after_crash"] = catalog.ON_CRASH_XAPI[i.on_crash.get(row.uuid, "destroy")]  # the spec's
    ops = i.operations.get(row.ref, {})
    rec["current_operations"] = dict(ops)
    rec["allowed_operations"] = [] if ops else list(VM_OPS[power])
    return rec


def _vm_extras(w: World, ref: str, rec: dict[str, Any], host_ref: str) -> None:
    _vm_metrics(w, ref, rec)
    if rec["power_state"] in ("Running", "Paused"):
        cref, cuuid = derived(rec["uuid"], "console")
        hvm = rec["domain_type"] == "hvm"
        w.add("console", cref, {
            "uuid": cuuid, "VM": ref, "protocol": "rfb" if hvm else "vt100", "other_config": {},
            "location": f"https://127.0.0.1/console?uuid={cuuid}",
        })  # fmt: skip
        rec["consoles"] = [cref]


def _vm_metrics(w: World, ref: str, rec: dict[str, Any]) -> None:
    mref, muuid = derived(rec["uuid"], "VM_metrics")
    live = rec["power_state"] in ("Running", "Paused")
    w.add("VM_metrics", mref, {
        "uuid": muuid, "memory_actual": rec["memory_static_max"] if live else 0,
        "VCPUs_number": rec["VCPUs_at_startup"] if live else 0, "VCPUs_utilisation": {},
        "state": [rec["power_state"].lower()], "start_time": "", "install_time": "", "last_updated": "",
        "other_config": {}, "hvm": rec["domain_type"] == "hvm", "current_domain_type": rec["domain_type"]
        if live else "unspecified", "nested_virt": False, "nomigrate": False,
    })  # fmt: skip
    rec["metrics"] = mref


def _guest_metrics(w: World, row: VmRow, rec: dict[str, Any], devs: list[DeviceRow]) -> None:
    gref, guuid = derived(row.uuid, "VM_guest_metrics")
    distro = rec["other_config"].get("install-distro", "")
    os_version = dict(catalog.OS_VERSION.get(distro, catalog.OS_VERSION[""]))
    if rec["domain_type"] == "hvm" and not distro:
        os_version = {"name": "Windows" if rec["platform"].get("viridian") == "true" else "HVM guest"}
    h = hashlib.sha256(row.uuid.encode()).digest()
    vifs = [d.devid for d in devs if d.kind == "vif" and d.attached]
    networks = {f"{n}/ip": f"10.{n}.{h[0]}.{h[1] % 253 + 1}" for n in vifs}
    w.add("VM_guest_metrics", gref, {
        "uuid": guuid, "os_version": os_version, "networks": networks, "PV_drivers_detected": True,
        "PV_drivers_up_to_date": True, "PV_drivers_version": {"major": "9", "minor": "3"}, "live": True,
        "memory": {}, "disks": {}, "other": {"platform-feature-multiprocessor-suspend": "1"},
        "last_updated": "", "other_config": {}, "can_use_hotplug_vbd": "yes", "can_use_hotplug_vif": "yes",
    })  # fmt: skip
    rec["guest_metrics"] = gref


def _device(
    w: World, d: DeviceRow, row: VmRow, vm: dict[str, Any], extra: dict[str, Any] | None, net: str, i: Inputs
) -> None:
    running = vm["power_state"] == "Running"
    if d.kind == "vbd":
        rec = catalog.vbd_defaults()
        userdevice = int(d.detail.get("userdevice", 0))
        cd = d.detail.get("type") == "cdrom"
        rec.update(
            uuid=d.uuid, VM=row.ref, userdevice=str(userdevice), device=vbd_device_name(userdevice),
            mode="RO" if d.detail.get("mode") == "ro" else "RW", type="CD" if cd else "Disk",
            empty=cd, bootable=userdevice == 0,
        )  # fmt: skip
        unplug = ["unplug", "unplug_force"]
    else:
        rec = catalog.vif_defaults()
        mac = d.detail.get("mac") or stable_mac(row.uuid, d.devid)
        rec.update(uuid=d.uuid, VM=row.ref, device=str(d.devid), MAC=mac,
                   MAC_autogenerated=not d.detail.get("mac"), network=net)  # fmt: skip
        unplug = ["unplug"]
    rec.update(
        currently_attached=d.attached, status_code=d.status_code, status_detail=d.status_detail,
        other_config={"evtchn_dom0_ports": str(d.dom0_ports)},
    )
    _overlaid(rec, extra)
    ops = i.operations.get(d.ref, {})
    rec["current_operations"] = dict(ops)
    if ops or not running:
        rec["allowed_operations"] = []
    else:
        rec["allowed_operations"] = unplug if d.attached else ["plug"]
    cls = d.kind.upper()
    w.add(cls, d.ref, rec)
    if cls == "VIF" and rec["network"] in w.objects["network"] and d.attached:
        w.objects["network"][rec["network"]]["VIFs"].append(d.ref)
