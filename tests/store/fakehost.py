"""A tiny in-test host with the real Host's persistence shape, for testing the store's mechanics alone."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from evtchn.store.rows import Changes, DeviceFacts, HostFacts, VmFacts


@dataclass
class FakeVm:
    name: str
    uuid: str
    disks: list[int] = field(default_factory=list)
    power_state: str = "Halted"
    domid: int | None = None


@dataclass
class FakeHost:
    profile: str = "fake"
    vms: dict[str, FakeVm] = field(default_factory=dict)
    pool: int = 10  # free "dom0 ports"

    def define_vm(self, name: str, disks: int = 1) -> FakeVm:
        vm = FakeVm(name, str(uuid.uuid4()), list(range(51712, 51712 + 16 * disks, 16)))
        self.vms[name] = vm
        return vm

    def start_vm(self, name: str) -> None:
        vm = self.vms[name]
        need = 1 + len(vm.disks)
        if need > self.pool:
            raise RuntimeError("28: No space left on device")
        self.pool -= need
        vm.power_state = "Running"
        vm.domid = 1 + max((v.domid or 0 for v in self.vms.values()), default=0)


class FakeCodec:
    """Parts: one "host" part holding everything; changes() cannot tell, so every write is a full one."""

    def parts(self, host: FakeHost) -> Iterator[tuple[str, str, Any]]:
        yield "host", "", self.dump(host)

    def assemble(self, parts: Iterable[tuple[str, str, Any]]) -> FakeHost:
        return self.load(dict(parts_by_kind(parts)["host"]))

    def changes(self, host: FakeHost) -> Changes | None:
        return None

    def vm_uuids(self, host: FakeHost) -> set[str]:
        return {v.uuid for v in host.vms.values()}

    def vm_facts(self, host: FakeHost, uuid: str) -> VmFacts | None:
        return next((v for v in self.facts(host).vms if v.uuid == uuid), None)

    def meta(self, host: FakeHost) -> dict[str, str]:
        return {"profile": host.profile, "hardware": ""}

    def dump(self, host: FakeHost) -> dict[str, Any]:
        return {
            "profile": host.profile,
            "pool": host.pool,
            "vms": [[v.name, v.uuid, v.disks, v.power_state, v.domid] for v in host.vms.values()],
        }

    def load(self, state: dict[str, Any]) -> FakeHost:
        h = FakeHost(state["profile"], {}, state["pool"])
        for name, u, disks, ps, domid in state["vms"]:
            h.vms[name] = FakeVm(name, u, disks, ps, domid)
        return h

    def facts(self, host: FakeHost) -> HostFacts:
        vms = [
            VmFacts(
                v.uuid,
                v.name,
                v.power_state,
                v.domid,
                "pv",
                1,
                256,
                1 + len(v.disks),
                [],
                [
                    DeviceFacts("vbd", d, {"mode": "rw"}, v.power_state == "Running", 0, "", 1)
                    for d in v.disks
                ],
            )
            for v in host.vms.values()
        ]
        return HostFacts(host.profile, "", vms)


def parts_by_kind(parts: Iterable[tuple[str, str, Any]]) -> dict[str, Any]:
    return {kind: value for kind, _key, value in parts}
