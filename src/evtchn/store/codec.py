"""How the toolstack's Host is persisted: its exact JSON state, and the rows listed by the CLI and XenAPI.

store = Store(path, HOST_CODEC)     # what open_store() does
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from evtchn.store.rows import DeviceFacts, HostFacts, VmFacts
from evtchn.toolstack.host import DeviceStatus, Host, Vm
from evtchn.xen import ECS

_ERRNO = re.compile(r"^\s*(?:error\s+)?(\d+)\b")


def _count(ports: int | Iterable[int] | None) -> int:
    if ports is None:
        return 0
    if isinstance(ports, int):
        return ports
    return len(list(ports))


def status_code(error: str | None) -> int:
    """The errno a backend's xenbus_dev_fatal text starts with ("28 mapping ring-ref port 9" → 28)."""
    if not error:
        return 0
    m = _ERRNO.match(error)
    return int(m.group(1)) if m else 1


def _device(vm: Vm, kind: str, devid: int, detail: dict[str, Any]) -> DeviceFacts:
    status: DeviceStatus | None = next((d for d in vm.devices if d.kind == kind and d.devid == devid), None)
    running = vm.power_state != "Halted"
    attached = bool(running and status is not None and status.connected)
    error = status.error if (running and status is not None) else None
    return DeviceFacts(
        kind, devid, detail, attached, status_code(error), error or "",
        _count(status.dom0_ports) if (running and status is not None) else 0,
    )  # fmt: skip


def dom0_ports_by_domain(host: Host) -> Counter[int]:
    """dom0's interdomain and unbound ports per remote domain: what `lsevtchn 0` attributes to each VM."""
    t = host.hv.domains[0].ports
    st, rdom = t.state, t.rdom
    return Counter(rdom[p] for p in range(1, t.valid) if st[p] in (ECS.INTERDOMAIN, ECS.UNBOUND))


def vm_facts(vm: Vm, dom0_ports: int = 0) -> VmFacts:
    spec = vm.spec
    devices = [
        _device(vm, "vbd", d.vbd_devid, {"userdevice": d.userdevice, "mode": d.mode, "type": d.kind,
                                         "queues": d.queues})
        for d in spec.disks
    ] + [
        _device(vm, "vif", n.devid, {"mac": n.mac or "", "queues": n.queues})
        for n in spec.nics
    ]  # fmt: skip
    return VmFacts(
        vm.uuid, vm.name, vm.power_state, vm.domid, spec.type, spec.vcpus, spec.memory_mib,
        dom0_ports if vm.domid is not None else 0, list(vm.messages), devices,
    )  # fmt: skip


class HostCodec:
    def dump(self, host: Host) -> dict[str, Any]:
        return host.to_state()

    def load(self, state: dict[str, Any]) -> Host:
        return Host.from_state(state)

    def facts(self, host: Host) -> HostFacts:
        dom0 = host.hv.domains.get(0)
        per_domain = dom0_ports_by_domain(host)
        return HostFacts(
            profile=host.profile.name,
            hardware=host.hardware.name,
            vms=[
                vm_facts(vm, per_domain[vm.domid] if vm.domid is not None else 0) for vm in host.vms.values()
            ],
            dom0={
                "vcpus": dom0.max_vcpus if dom0 is not None else 0,
                "ports_used": host.dom0_ports_used(),
                "ports_free": host.dom0_ports_free(),
            },
        )


HOST_CODEC = HostCodec()
