"""The toolstack: host profiles, VM specs, per-device plumbing and the VM lifecycle (reference §7, §8).
Operations are lists of atoms (operations.py) run by one executor (atoms.py); one module per device kind
under devices/; Host (host.py) is the facade. See docs/toolstack.md.

from evtchn.toolstack import Host, seed_vm_spec
host = Host.create("xenserver-6.1")
host.define_vm(seed_vm_spec("vm1")); host.start_vm("vm1")
"""

from evtchn.toolstack.costs import VmCost, dom0_baseline, vm_cost
from evtchn.toolstack.errors import (
    AmbiguousVm,
    BadPowerState,
    DeviceError,
    HostNotEnoughFreeMemory,
    NoSuchVm,
    ProfileError,
    SpecError,
    StartError,
    ToolstackError,
    VmExists,
)
from evtchn.toolstack.hardware import DEFAULT_HARDWARE, Hardware, get_hardware
from evtchn.toolstack.host import Admission, DeviceStatus, Host, Vm
from evtchn.toolstack.profiles import BUILTIN_PROFILES, Profile, get_profile
from evtchn.toolstack.spec import DiskSpec, NicSpec, VmSpec, load_spec, read_spec, seed_vm_spec

__all__ = [
    "BUILTIN_PROFILES",
    "DEFAULT_HARDWARE",
    "Admission",
    "AmbiguousVm",
    "BadPowerState",
    "DeviceError",
    "DeviceStatus",
    "DiskSpec",
    "Hardware",
    "Host",
    "HostNotEnoughFreeMemory",
    "NicSpec",
    "NoSuchVm",
    "Profile",
    "ProfileError",
    "SpecError",
    "StartError",
    "ToolstackError",
    "Vm",
    "VmCost",
    "VmExists",
    "VmSpec",
    "dom0_baseline",
    "get_hardware",
    "get_profile",
    "load_spec",
    "read_spec",
    "seed_vm_spec",
    "vm_cost",
]
