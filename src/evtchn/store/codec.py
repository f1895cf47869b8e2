"""How the toolstack's Host is persisted: as parts (one per domain, VM and xenstore node) and listable rows.

store = Store(path, HOST_CODEC)     # what open_store() does

Parts (kind, key) -> JSON value, each rewritten only when it changed:
    ("host", "")          profile, hardware, rovers, the hypervisor's global fields, binders' global holds
    ("dom", "<domid>")    one domain (port table, ABI, vCPUs), its grant counter, what binders hold for it
    ("vm", "<uuid>")      one VM record (spec, power state, device statuses, messages)
    ("xs", "<path>")      one xenstore node: [value, is_directory]
What changed comes from the models' own dirty trackers: `Hypervisor.take_dirty()` (domains),
`Host.take_dirty_vms()` (VM uuids) and `XenStore.take_dirty()` (nodes). While a tracker is missing the
codec answers "unknown" and the store rewrites every part (correct, but its cost grows with the host).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator
from typing import Any

from evtchn.store.rows import Changes, DeviceFacts, HostFacts, Part, VmFacts
from evtchn.toolstack.host import STATE_VERSION, DeviceStatus, Host, Vm
from evtchn.xen import ECS
from evtchn.xenstore import XenStore

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


# ------------------------------------------------------------------------------------------ parts


def _key_domid(key: Hashable) -> int | None:
    """The domain a binder's hold belongs to (its key is the domid, or a tuple starting with it)."""
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    if isinstance(key, tuple) and key and isinstance(key[0], int) and not isinstance(key[0], bool):
        return key[0]
    return None


def _holds(host: Host, domid: int | None) -> dict[str, list[list[Any]]]:
    """What each binder holds for `domid`; None: the holds of no live domain (kept with the host part)."""
    live = host.hv.domains
    out: dict[str, list[list[Any]]] = {}
    for b in host.binders:
        state = b.to_state()
        if domid is None:
            out[b.name] = [
                e for e, k in zip(state, b.held, strict=True) if (d := _key_domid(k)) is None or d not in live
            ]
        else:
            out[b.name] = [e for e, k in zip(state, b.held, strict=True) if _key_domid(k) == domid]
    return out


def _host_part(host: Host) -> dict[str, Any]:
    from evtchn.xen.snapshot import SNAPSHOT_VERSION

    hv = host.hv
    plumbing = host.plumbing
    return {
        "version": STATE_VERSION,
        "profile": host.profile.model_dump(mode="json"),
        "hardware": host.hardware.model_dump(mode="json"),
        "rover": plumbing.rover,
        "tty": plumbing.tty,
        "memory": {
            "xen_reserved_mib": plumbing.memory.xen_reserved_mib,
            "shadow": plumbing.memory.shadow_multiplier,
        },
        "dom0_abi": host.kernel.abi,
        "xs_root": host.xenstore.read("/"),
        "hv": {
            "version": SNAPSHOT_VERSION,
            "settings": {
                "xen_version": list(hv.settings.xen_version),
                "fifo_compiled": hv.settings.fifo_compiled,
            },
            "global_virq_handlers": [[k, v] for k, v in hv.global_virq_handlers.items()],
            "xen_consumers": [[name, index] for name, index in hv.xen_consumers().items()],
            "domid_rover": hv.domid_rover,
        },
        "binders": _holds(host, None),
    }


def _dom_part(host: Host, domid: int) -> dict[str, Any]:
    from evtchn.xen.snapshot import domain_state

    return {
        "domain": domain_state(host.hv.domains[domid]),
        "grefs": host.plumbing.grefs.get(domid),
        "binders": _holds(host, domid),
    }


def _vm_part(vm: Vm) -> dict[str, Any]:
    from evtchn.toolstack.records import vm_to_state

    return vm_to_state(vm)


def _find_vm(host: Host, uuid: str) -> Vm | None:
    vm = host.vms.get(uuid)
    if vm is not None and vm.uuid == uuid:
        return vm
    return next((v for v in host.vms.values() if v.uuid == uuid), None)


def _hv_dirty_domains(host: Host) -> set[int] | None:
    """Domains created, destroyed or changed since the last call, from the hypervisor's tracker."""
    take = getattr(host.hv, "take_dirty", None)
    if take is None:
        return None
    dirty = take()
    out: set[int] = set()
    for name in ("created", "destroyed", "changed", "domains", "ports", "buckets"):
        got = getattr(dirty, name, None)
        if got is None and isinstance(dirty, dict):
            got = dirty.get(name)
        if got is not None:
            out.update(int(d) for d in got)
    return out


class HostCodec:
    def parts(self, host: Host) -> Iterator[tuple[str, str, Any]]:
        yield "host", "", _host_part(host)
        for domid in host.hv.domains:
            yield "dom", str(domid), _dom_part(host, domid)
        for vm in host.vms.values():
            yield "vm", vm.uuid, _vm_part(vm)
        for path, value, is_dir in host.xenstore.nodes():
            yield "xs", path, [value, is_dir]

    def assemble(self, parts: Iterable[tuple[str, str, Any]]) -> Host:
        """A Host from parts(); ValueError / KeyError / TypeError (or ToolstackError) if they are not one."""
        head: dict[str, Any] | None = None
        domains: list[dict[str, Any]] = []
        vms: list[Any] = []
        nodes: list[tuple[str, str, bool]] = []
        for kind, key, value in parts:
            if kind == "host":
                head = value
            elif kind == "dom":
                domains.append(value)
            elif kind == "vm":
                vms.append(value)
            elif kind == "xs":
                nodes.append((key, str(value[0]), bool(value[1])))
            else:
                raise ValueError(f"unknown part kind {kind!r}")
        if head is None:
            raise ValueError("no host part")
        binders: dict[str, list[Any]] = {name: list(v) for name, v in head["binders"].items()}
        grefs: dict[str, int] = {}
        for d in domains:
            for name, entries in d["binders"].items():
                binders.setdefault(name, []).extend(entries)
            if d["grefs"] is not None:
                grefs[str(d["domain"]["domid"])] = int(d["grefs"])
        state = {
            "version": head["version"],
            "profile": head["profile"],
            "hardware": head["hardware"],
            "hypervisor": {**head["hv"], "domains": [d["domain"] for d in domains]},
            "xenstore": ["", {}],
            "rover": head["rover"],
            "tty": head["tty"],
            "memory": head.get("memory", {}),
            "grefs": grefs,
            "binders": binders,
            "dom0_abi": head["dom0_abi"],
            "vms": vms,
        }
        host = Host.from_state(state)
        host.plumbing.xenstore = XenStore.from_nodes(str(head["xs_root"]), nodes)
        self.changes(host)  # what was just loaded is what the file holds: nothing is dirty
        return host

    def changes(self, host: Host) -> Changes | None:
        """The parts and VM rows changed since the last call (or load); None when a tracker is missing."""
        xs_removed, xs_dirty = host.xenstore.take_dirty()
        take_vms = getattr(host, "take_dirty_vms", None)
        vm_uuids: set[str] | None = take_vms() if take_vms is not None else None
        domids = _hv_dirty_domains(host)
        if vm_uuids is None or domids is None:
            return None
        put: dict[Part, Any] = {("host", ""): _host_part(host)}
        drop: list[Part] = []
        for uuid in vm_uuids:
            vm = _find_vm(host, uuid)
            if vm is None:
                drop.append(("vm", uuid))
                continue
            put[("vm", uuid)] = _vm_part(vm)
            if vm.domid is not None:
                domids.add(vm.domid)
        for domid in domids:
            if domid in host.hv.domains:
                put[("dom", str(domid))] = _dom_part(host, domid)
            else:
                drop.append(("dom", str(domid)))
        trees: list[Part] = [("xs", p) for p in xs_removed]
        for path in xs_dirty:
            if path == "/":
                continue
            node = host.xenstore.node(path)
            if node is None:
                drop.append(("xs", path))
            else:
                put[("xs", path)] = [node[0], node[1]]
        return Changes(put=put, drop=drop, drop_trees=trees, vms=vm_uuids)

    def vm_uuids(self, host: Host) -> set[str]:
        return {vm.uuid for vm in host.vms.values()}

    def vm_facts(self, host: Host, uuid: str) -> VmFacts | None:
        vm = _find_vm(host, uuid)
        if vm is None:
            return None
        held = sum(len(p) for p in host.vm_dom0_ports(vm.name).values()) if vm.domid is not None else 0
        return vm_facts(vm, held)

    def meta(self, host: Host) -> dict[str, str]:
        dom0 = host.hv.domains.get(0)
        return {
            "profile": host.profile.name,
            "hardware": host.hardware.name,
            "dom0_vcpus": str(dom0.max_vcpus if dom0 is not None else 0),
            "dom0_ports_used": str(host.dom0_ports_used()),
            "dom0_ports_free": str(host.dom0_ports_free()),
        }

    def load(self, state: dict[str, Any]) -> Host:
        """A schema-1 host file's snapshot (Host.to_state()), for the upgrade to schema 2."""
        host = Host.from_state(state)
        self.changes(host)
        return host

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
