"""Data the XenAPI objects are built from: field defaults per class, the host's templates, its storage and
network. Each entry says where it comes from; nothing here is behaviour.

Templates follow XenServer's shipped ones (xen-api: ocaml/xapi/xapi_templates.ml and the
`xenserver-linux-templates` / `guest-templates-json` packages): `is_a_template`, `other_config`
`default_template`, `install-methods`, `disks` (the provisioning XML that VM.provision and the SDK example
`provision.py` read), and `platform` flags for HVM guests.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from evtchn.api.coerce import MIB, NULL_REF

GIB = 1024 * MIB

# The local SR of a default XenServer install (an `ext` SR on the rest of the first disk); the size is a
# modelling choice: 512 GiB, written here so that SR_FULL is reachable.
LOCAL_SR = {"name_label": "Local storage", "type": "ext", "physical_size": 512 * GIB, "device": "/dev/sda3"}

# One PIF per physical NIC, each with its own bridge (XenServer names them xenbr<N> after eth<N>).
PIF_DEVICES = ("eth0", "eth1")


def provision_xml(*disks: tuple[int, int, bool]) -> str:
    """<provision> with one <disk device=… size=… sr="" bootable=…/> per (device, bytes, bootable)."""
    body = "".join(
        f'<disk device="{d}" size="{size}" sr="" bootable="{"true" if boot else "false"}" type="system"/>'
        for d, size, boot in disks
    )
    return f"<provision>{body}</provision>"


@dataclass(frozen=True, slots=True)
class Template:
    name_label: str
    domain_type: str
    memory: int
    vcpus: int
    other_config: dict[str, str]
    platform: dict[str, str] = field(default_factory=dict)
    PV_bootloader: str = ""
    HVM_boot_params: dict[str, str] = field(default_factory=dict)
    name_description: str = ""


_HVM_PLATFORM = {"nx": "true", "acpi": "1", "apic": "true", "pae": "true", "viridian": "true"}

TEMPLATES: tuple[Template, ...] = (
    Template(
        "Other install media", "hvm", 256 * MIB, 1,
        {"default_template": "true", "install-methods": "cdrom"},
        platform={**_HVM_PLATFORM, "viridian": "false"}, HVM_boot_params={"order": "cd"},
        name_description="Template which allows VM installation from install media",
    ),
    Template(
        "Debian Bullseye 11", "pv", 512 * MIB, 1,
        {"default_template": "true", "linux_template": "true", "install-methods": "cdrom,nfs,http,ftp",
         "install-distro": "debianlike", "debian-release": "bullseye", "install-arch": "amd64",
         "disks": provision_xml((0, 8 * GIB, True))},
        PV_bootloader="eliloader",
        name_description="Template that allows VM installation from Xen-aware Debian-based distros",
    ),
    Template(
        "Windows Server 2019 (64-bit)", "hvm", 2 * GIB, 2,
        {"default_template": "true", "install-methods": "cdrom", "disks": provision_xml((0, 32 * GIB, True))},
        platform={**_HVM_PLATFORM, "device_id": "0002"}, HVM_boot_params={"order": "dc"},
        name_description="Clones of this template will automatically provision their storage",
    ),
)  # fmt: skip

# What a booted guest's PV tools report (VM_guest_metrics.os_version), by template distro.
OS_VERSION = {
    "debianlike": {"name": "Debian GNU/Linux 11 (bullseye)", "distro": "debian", "major": "11"},
    "": {"name": "Linux", "distro": "linux"},
}


# xl.cfg(5) on_crash -> XenAPI on_crash_behaviour (xen-api ocaml/idl/datamodel_vm.ml); soft-reset has no
# XenAPI name and runs as destroy here (toolstack/crash.py). dom0's is destroy (ocaml/xapi/create_misc.ml).
ON_CRASH_XAPI = {
    "destroy": "destroy", "restart": "restart", "rename-restart": "rename_restart", "preserve": "preserve",
    "coredump-destroy": "coredump_and_destroy", "coredump-restart": "coredump_and_restart",
    "soft-reset": "destroy",
}  # fmt: skip


def vm_defaults() -> dict[str, Any]:
    """A VM record with xapi's defaults (xen-api: ocaml/idl/datamodel_vm.ml)."""
    return {
        "uuid": "", "name_label": "", "name_description": "", "power_state": "Halted", "domid": -1,
        "is_a_template": False, "is_default_template": False, "is_a_snapshot": False,
        "is_control_domain": False, "resident_on": NULL_REF, "affinity": NULL_REF, "user_version": 1,
        "memory_overhead": 0, "memory_target": 0,
        "memory_static_max": 0, "memory_dynamic_max": 0, "memory_dynamic_min": 0, "memory_static_min": 0,
        "VCPUs_max": 1, "VCPUs_at_startup": 1, "VCPUs_params": {}, "actions_after_shutdown": "destroy",
        "actions_after_reboot": "restart", "actions_after_crash": "restart", "HVM_boot_policy": "",
        "HVM_boot_params": {}, "HVM_shadow_multiplier": 1.0, "PV_bootloader": "", "PV_kernel": "",
        "PV_ramdisk": "", "PV_args": "", "PV_bootloader_args": "", "PV_legacy_args": "", "platform": {},
        "other_config": {}, "xenstore_data": {}, "domain_type": "pv", "VBDs": [], "VIFs": [], "consoles": [],
        "crash_dumps": [], "VTPMs": [], "VGPUs": [], "VUSBs": [], "attached_PCIs": [], "tags": [],
        "blocked_operations": {}, "snapshots": [], "snapshot_of": NULL_REF, "parent": NULL_REF,
        "children": [], "suspend_VDI": NULL_REF, "suspend_SR": NULL_REF, "metrics": NULL_REF,
        "guest_metrics": NULL_REF, "allowed_operations": [], "current_operations": {},
        "ha_restart_priority": "", "ha_always_run": False, "has_vendor_device": False,
        "start_delay": 0, "shutdown_delay": 0, "order": 0, "generation_id": "",
        "hardware_platform_version": 0,
        "recommendations": "", "bios_strings": {}, "pending_guidances": [],
    }  # fmt: skip


def vbd_defaults() -> dict[str, Any]:
    return {
        "uuid": "", "VM": NULL_REF, "VDI": NULL_REF, "device": "", "userdevice": "0", "bootable": False,
        "mode": "RW", "type": "Disk", "unpluggable": True, "storage_lock": False, "empty": False,
        "currently_attached": False, "status_code": 0, "status_detail": "", "runtime_properties": {},
        "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {},
        "qos_supported_algorithms": [], "metrics": NULL_REF, "allowed_operations": [],
        "current_operations": {},
    }  # fmt: skip


def vif_defaults() -> dict[str, Any]:
    return {
        "uuid": "", "VM": NULL_REF, "network": NULL_REF, "device": "0", "MAC": "", "MTU": 1500,
        "MAC_autogenerated": False, "currently_attached": False, "status_code": 0, "status_detail": "",
        "runtime_properties": {}, "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {},
        "qos_supported_algorithms": [], "metrics": NULL_REF, "locking_mode": "network_default",
        "ipv4_allowed": [], "ipv6_allowed": [], "allowed_operations": [], "current_operations": {},
    }  # fmt: skip


def vdi_defaults() -> dict[str, Any]:
    return {
        "uuid": "", "name_label": "", "name_description": "", "SR": NULL_REF, "VBDs": [], "crash_dumps": [],
        "virtual_size": 0, "physical_utilisation": 0, "type": "user", "sharable": False, "read_only": False,
        "other_config": {}, "storage_lock": False, "location": "", "managed": True, "missing": False,
        "parent": NULL_REF, "xenstore_data": {}, "sm_config": {}, "is_a_snapshot": False,
        "snapshot_of": NULL_REF, "snapshots": [], "tags": [], "allow_caching": False,
        "on_boot": "persist", "metadata_latest": False, "is_tools_iso": False, "cbt_enabled": False,
        "allowed_operations": ["clone", "copy", "destroy", "resize", "snapshot"], "current_operations": {},
    }  # fmt: skip


# What xapi allows per power state (xen-api: ocaml/xapi/xapi_vm_lifecycle.ml, allowed_operations).
VM_OPS = {
    "Halted": ["changing_VCPUs", "changing_memory_limits", "clone", "copy", "destroy", "export", "provision",
               "start", "start_on"],
    "Running": ["changing_dynamic_range", "clean_reboot", "clean_shutdown", "hard_reboot", "hard_shutdown",
                "pause", "pool_migrate", "suspend"],
    "Paused": ["hard_reboot", "hard_shutdown", "unpause"],
    "Suspended": ["hard_shutdown", "resume", "resume_on"],
}  # fmt: skip
TEMPLATE_OPS = ["clone", "copy", "export", "provision"]


def pif_record(n: int, dev: str, uuid: str, net_ref: str, host_ref: str, host_uuid: str) -> dict[str, Any]:
    """PIF number `n` (device `dev`): the first is the management interface (DHCP, an address)."""
    mac = "00:16:3e:" + ":".join(hashlib.sha256(f"{host_uuid}{dev}".encode()).hexdigest()[i : i + 2]
                                   for i in range(0, 6, 2))  # fmt: skip
    return {
        "uuid": uuid, "device": dev, "network": net_ref, "host": host_ref, "MAC": mac, "MTU": 1500,
        "VLAN": -1, "physical": True, "currently_attached": True, "management": n == 0,
        "ip_configuration_mode": "DHCP" if n == 0 else "None", "IP": "192.0.2.10" if n == 0 else "",
        "netmask": "255.255.255.0" if n == 0 else "", "gateway": "", "DNS": "", "other_config": {},
        "disallow_unplug": False, "bond_master_of": [], "bond_slave_of": NULL_REF, "metrics": NULL_REF,
    }  # fmt: skip


def network_record(n: int, dev: str, uuid: str, pif_ref: str) -> dict[str, Any]:
    """The network bridged on PIF `dev` (xenbr<n>, as XenServer names them)."""
    return {
        "uuid": uuid, "name_label": f"Pool-wide network associated with {dev}", "name_description": "",
        "bridge": f"xenbr{n}", "MTU": 1500, "PIFs": [pif_ref], "VIFs": [], "other_config": {}, "tags": [],
        "managed": True, "allowed_operations": [], "current_operations": {}, "blobs": {},
    }  # fmt: skip
