"""The listable rows kept beside the host snapshot, so `vm list` and XenAPI reads need no full load.

    facts = codec.facts(host)      # natural keys: VM uuid, (VM uuid, kind, devid)
    # the store gives each a stable OpaqueRef and persists VmRow / DeviceRow

Refs and uuids are assigned once and kept while the object exists, so they are the same in every process.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


@dataclass(frozen=True, slots=True)
class ObjectRow:
    """A persisted XenAPI object that is not a VM or a device (VDI, message, task, …)."""

    ref: str
    cls: str
    uuid: str
    name_label: str
    record: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Event:
    """One create / modify / delete, in commit order; `id` is the token to ask from next time."""

    id: int
    cls: str
    ref: str
    operation: str  # "add" | "mod" | "del" (xapi's event operations)
    snapshot: dict[str, Any]
    timestamp: float


Part = tuple[str, str]  # (kind, key) of one persisted piece of the host


@dataclass(slots=True)
class Changes:
    """What one operation changed: parts to write, parts and subtrees to delete, VMs whose rows to redo."""

    put: dict[Part, Any]
    drop: list[Part] = field(default_factory=list)
    drop_trees: list[Part] = field(default_factory=list)  # the part and every part under key + "/"
    vms: set[str] = field(default_factory=set)


H = TypeVar("H")


class HostCodec(Protocol[H]):
    """How the store turns a host into parts and rows and back; `evtchn.store.codec` has the real one.

    parts() and assemble() are exact inverses; changes() says what changed since the last call (or since
    assemble), or None when it cannot tell (then the store rewrites every part). A codec with a
    `load_order` attribute (a tuple of kinds) is given its parts kind by kind in that order, each kind in
    rowid order; without one, all parts in rowid order."""

    def parts(self, host: H) -> Iterable[tuple[str, str, Any]]: ...

    def assemble(self, parts: Iterable[tuple[str, str, Any]]) -> H: ...

    def changes(self, host: H) -> Changes | None: ...

    def vm_uuids(self, host: H) -> set[str]: ...

    def vm_facts(self, host: H, uuid: str) -> VmFacts | None: ...

    def meta(self, host: H) -> dict[str, str]: ...

    def load(self, state: dict[str, Any]) -> H: ...  # a schema-1 snapshot, for the upgrade
