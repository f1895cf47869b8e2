"""The toolstack's VM records: a Vm, its devices' status, and the table that keys them by uuid.

    table = VmTable()
    vm = table.add(Vm(name="Windows Server 2019 (1)", uuid=new_uuid(), spec=spec))
    table[vm.uuid] is vm                     # keys are uuids
    table.lookup("Windows Server 2019 (1)")  # a uuid, or a name that only one VM has
    table.take_dirty()                       # uuids changed, added or removed since the last call

Names are free text and may repeat, as in xapi (issue 10); an ambiguous name is an error listing the uuids.
"""

from __future__ import annotations

import random
import uuid as uuidlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from evtchn.toolstack.errors import AmbiguousVm, NoSuchVm, ToolstackError
from evtchn.toolstack.spec import VmSpec

HALTED, PAUSED, RUNNING, SUSPENDED = "Halted", "Paused", "Running", "Suspended"


@dataclass(slots=True)
class DeviceStatus:
    """One VBD or VIF as the toolstack sees it after the guest's frontends and dom0's backends met.

    state: "plugged" (not booted yet), "connected", "failed" (backend error), "absent" (frontend had no
    port), "emulated" (no PV frontend: HVM without PV drivers, or an HVM CD-ROM), "unplugged" (hot-unplugged
    or a hot-plug that failed: the device is in the spec but not attached).
    """

    kind: str
    devid: int
    connected: bool = False
    error: str | None = None
    dom0_ports: list[int] = field(default_factory=list)
    guest_ports: list[int] = field(default_factory=list)
    state: str = "plugged"
    frontend_error: str | None = None
    queues: int = 0
    split: bool = False


@dataclass(slots=True, eq=False)
class Vm:
    name: str
    uuid: str
    spec: VmSpec
    power_state: str = HALTED
    domid: int | None = None
    devices: list[DeviceStatus] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    booted: bool = False
    boot_on_unpause: bool = False
    guest_abi: str = ""
    last_error: str | None = None

    def device(self, kind: str, devid: int) -> DeviceStatus | None:
        return next((d for d in self.devices if d.kind == kind and d.devid == devid), None)


class VmTable(Mapping[str, Vm]):
    """VMs keyed by uuid. Reading `table[key]` also accepts a name that exactly one VM has (as `xe` does
    with `vm=`); iteration, len and equality are over uuids."""

    def __init__(self) -> None:
        self._by_uuid: dict[str, Vm] = {}
        self._by_name: dict[str, list[Vm]] = {}
        self._dirty: set[str] = set()

    def __getitem__(self, key: str) -> Vm:
        vm = self._by_uuid.get(key)
        if vm is not None:
            return vm
        named = self._by_name.get(key, [])
        if len(named) == 1:
            return named[0]
        if named:
            raise AmbiguousVm(key, [v.uuid for v in named])
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_uuid)

    def __contains__(self, key: object) -> bool:
        return key in self._by_uuid or key in self._by_name

    def __len__(self) -> int:
        return len(self._by_uuid)

    def lookup(self, key: str) -> Vm:
        """The VM with this uuid, or the one VM with this name; NoSuchVm / AmbiguousVm (one line)."""
        try:
            return self[key]
        except KeyError:
            raise NoSuchVm(key) from None

    def named(self, name: str) -> list[Vm]:
        return list(self._by_name.get(name, ()))

    def add(self, vm: Vm) -> Vm:
        if vm.uuid in self._by_uuid:
            raise ToolstackError(f"a VM with uuid {vm.uuid} already exists")
        self._by_uuid[vm.uuid] = vm
        self._by_name.setdefault(vm.name, []).append(vm)
        self._dirty.add(vm.uuid)
        return vm

    def remove(self, vm: Vm) -> None:
        del self._by_uuid[vm.uuid]
        self._unname(vm)
        self._dirty.add(vm.uuid)

    def rename(self, vm: Vm, name: str) -> None:
        self._unname(vm)
        vm.name = name
        self._by_name.setdefault(name, []).append(vm)
        self._dirty.add(vm.uuid)

    def _unname(self, vm: Vm) -> None:
        same = self._by_name[vm.name]
        same.remove(vm)
        if not same:
            del self._by_name[vm.name]

    def mark(self, vm: Vm) -> None:
        """The record changed (state, devices, statuses, spec): the persisted store must rewrite it."""
        self._dirty.add(vm.uuid)

    def take_dirty(self) -> set[str]:
        out, self._dirty = self._dirty, set()
        return out


def fresh_devices(spec: VmSpec) -> list[DeviceStatus]:
    """One status per VBD and VIF of the spec, before the domain exists: VBDs, then VIFs by devid."""
    out = [DeviceStatus(kind="vbd", devid=d.vbd_devid) for d in spec.disks]
    out += [DeviceStatus(kind="vif", devid=n.devid) for n in sorted(spec.nics, key=lambda n: n.devid)]
    return out


def halt(vm: Vm, state: str = HALTED) -> None:
    """The record of a VM whose domain is gone: no domid, no ports; failed devices keep their error."""
    vm.power_state = state
    vm.domid = None
    vm.booted = False
    vm.boot_on_unpause = False
    for dev in vm.devices:
        dev.connected = False
        dev.dom0_ports = []
        dev.guest_ports = []
        if dev.state != "failed":
            dev.state = "plugged"


def new_uuid() -> str:
    """A random version-4 UUID; the simulation needs uniqueness, not os.urandom's cost."""
    return str(uuidlib.UUID(int=random.getrandbits(128), version=4))


def vm_to_state(vm: Vm) -> dict[str, Any]:
    return {
        "name": vm.name,
        "uuid": vm.uuid,
        "spec": vm.spec.model_dump(mode="json"),
        "power_state": vm.power_state,
        "domid": vm.domid,
        "devices": [
            {
                "kind": d.kind,
                "devid": d.devid,
                "connected": d.connected,
                "error": d.error,
                "dom0_ports": d.dom0_ports,
                "guest_ports": d.guest_ports,
                "state": d.state,
                "frontend_error": d.frontend_error,
                "queues": d.queues,
                "split": d.split,
            }
            for d in vm.devices
        ],
        "messages": vm.messages,
        "booted": vm.booted,
        "boot_on_unpause": vm.boot_on_unpause,
        "guest_abi": vm.guest_abi,
        "last_error": vm.last_error,
    }


def vm_from_state(s: dict[str, Any]) -> Vm:
    return Vm(
        name=s["name"],
        uuid=s["uuid"],
        spec=VmSpec.model_validate(s["spec"]),
        power_state=s["power_state"],
        domid=s["domid"],
        devices=[DeviceStatus(**d) for d in s["devices"]],
        messages=list(s["messages"]),
        booted=s["booted"],
        boot_on_unpause=s["boot_on_unpause"],
        guest_abi=s["guest_abi"],
        last_error=s["last_error"],
    )
