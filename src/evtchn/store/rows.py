"""The listable rows kept beside the host snapshot, so `vm list` and XenAPI reads need no full load.

    facts = codec.facts(host)      # natural keys: VM uuid, (VM uuid, kind, devid)
    # the store gives each a stable OpaqueRef and persists VmRow / DeviceRow

Refs and uuids are assigned once and kept while the object exists, so they are the same in every process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    kind: str  # "vbd" | "vif"
    devid: int
    detail: Mapping[str, Any]  # vbd: userdevice, mode, type; vif: mac, queues
    attached: bool
    status_code: int  # errno of the backend's failure, 0 when fine
    status_detail: str
    dom0_ports: int


@dataclass(frozen=True, slots=True)
class VmFacts:
    uuid: str
    name: str
    power_state: str  # "Halted" | "Paused" | "Running"
    domid: int | None
    vm_type: str  # "pv" | "hvm" | "pvh"
    vcpus: int
    memory_mib: int
    dom0_ports: int
    messages: list[str] = field(default_factory=list)
    devices: list[DeviceFacts] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class HostFacts:
    profile: str
    hardware: str
    vms: list[VmFacts]
    dom0: Mapping[str, int] = field(default_factory=dict)  # vcpus, memory_mib, ports_used, ports_free


@dataclass(frozen=True, slots=True)
class VmRow:
    ref: str
    uuid: str
    name: str
    power_state: str
    domid: int | None
    vm_type: str
    vcpus: int
    memory_mib: int
    dom0_ports: int
    messages: list[str]


@dataclass(frozen=True, slots=True)
class DeviceRow:
    ref: str
    uuid: str
    vm_ref: str
    kind: str
    devid: int
    detail: dict[str, Any]
    attached: bool
    status_code: int
    status_detail: str
    dom0_ports: int


H = TypeVar("H")


class HostCodec(Protocol[H]):
    """How the store turns a host into bytes and rows and back; `evtchn.store.codec` has the real one."""

    def dump(self, host: H) -> dict[str, Any]: ...

    def load(self, state: dict[str, Any]) -> H: ...

    def facts(self, host: H) -> HostFacts: ...
