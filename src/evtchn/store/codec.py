"""How the toolstack's Host is persisted: as parts (one per domain, VM and xenstore node) and listable rows.

store = Store(path, HOST_CODEC)     # what open_store() does

Parts (kind, key) -> JSON value, each rewritten only when it changed:
    ("host", "")          profile, hardware, rovers, the hypervisor's global fields
    ("dom", "<domid>")    one domain's record (fields, vCPUs, ABI; the whole domain before xen/delta.py)
    ("bkt", "<domid>/<b>")  ports 64·b .. 64·b+63 of a domain (with xen/delta.py)
    ("hold", "<binder>/<key>")  the dom0 ports a binder (blkback, qemu, …) holds for one key
    ("vm", "<uuid>")      one VM record (spec, power state, device statuses, messages)
    ("xs", "<path>")      one xenstore node: [value, is_directory]
What changed comes from the models' own dirty trackers: `Hypervisor.take_dirty()` (domains and
buckets), `Host.take_dirty_vms()` (VM uuids), `XenStore.take_dirty()` (nodes), and the binders' `held`
dicts, which the codec swaps for a recording dict (_TrackedHolds). While a tracker is missing the
codec answers "unknown" and the store rewrites every part (correct, but its cost grows with the host).
"""

from __future__ import annotations

import json
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


class _TrackedHolds(dict[Hashable, list[int]]):
    """A binder's `held` that remembers which keys were set, popped or handed out for appending (in the
    order they took their place), so the store writes back only those; the binder code is unchanged."""

    touched: dict[Hashable, None]
    removed: set[Hashable]

    def _arrive(self, key: Hashable) -> None:
        if key not in self:  # a new key goes last, here as in the file
            self.touched.pop(key, None)
        self.touched[key] = None

    def _leave(self, key: Hashable) -> None:
        self.touched[key] = None
        self.removed.add(key)

    def __setitem__(self, key: Hashable, value: list[int]) -> None:
        self._arrive(key)
        super().__setitem__(key, value)

    def __delitem__(self, key: Hashable) -> None:
        self._leave(key)
        super().__delitem__(key)

    def setdefault(self, key: Hashable, default: list[int] | None = None) -> list[int]:
        self._arrive(key)
        return super().setdefault(key, default if default is not None else [])

    def pop(self, key: Hashable, *default: Any) -> Any:
        self._leave(key)
        return super().pop(key, *default)

    def clear(self) -> None:
        for key in self:
            self._leave(key)
        super().clear()

    def take(self) -> tuple[dict[Hashable, None], set[Hashable]]:
        out = self.touched, self.removed
        self.touched, self.removed = {}, set()
        return out


def _track_holds(host: Host) -> bool:
    """Put a tracking `held` on every binder; False if some were not tracked yet (changes unknown)."""
    was = True
    for b in host.binders:
        if not isinstance(b.held, _TrackedHolds):
            tracked = _TrackedHolds(b.held)
            tracked.touched, tracked.removed = {}, set()
            b.held = tracked
            was = False
    return was


def _hold_key(binder: str, key: Hashable) -> str:
    return f"{binder}/{json.dumps(list(key) if isinstance(key, tuple) else key)}"


def _hold_from_key(text: str) -> tuple[str, Any]:
    binder, _, key = text.partition("/")
    return binder, json.loads(key)


def _counter(host: Host, name: str) -> Any:
    """One of dom0's counters the toolstack keeps in its plumbing (rover, tty, grefs)."""
    return getattr(host.plumbing, name)


def _hv_globals(host: Host) -> dict[str, Any]:
    from evtchn.xen.delta import export_globals
    from evtchn.xen.snapshot import SNAPSHOT_VERSION

    return {"version": SNAPSHOT_VERSION, **export_globals(host.hv)}


def _host_part(host: Host) -> dict[str, Any]:
    part = {
        "version": STATE_VERSION,
        "profile": host.profile.model_dump(mode="json"),
        "hardware": host.hardware.model_dump(mode="json"),
        "rover": _counter(host, "rover"),
        "tty": _counter(host, "tty"),
        "dom0_abi": host.kernel.abi,
        "xs_root": host.xenstore.read("/"),
        "hv": _hv_globals(host),
        "binder_names": [b.name for b in host.binders],
    }
    memory = host.plumbing.memory
    part["memory"] = {"xen_reserved_mib": memory.xen_reserved_mib, "shadow": memory.shadow_multiplier}
    return part


def _delta() -> Any:
    """xen/delta.py (export and restore by domain record and bucket), where the hypervisor has it."""
    import importlib

    return importlib.import_module("evtchn.xen.delta")


def _dom_part(host: Host, domid: int) -> dict[str, Any]:
    return {"grefs": _counter(host, "grefs").get(domid), "record": _delta().export_domain(host.hv, domid)}


def _vm_part(vm: Vm) -> dict[str, Any]:
    from evtchn.toolstack.records import vm_to_state

    return vm_to_state(vm)


def _dom0_held(host: Host, vm: Vm) -> int:
    """dom0 ports held for this VM (Host.vm_dom0_ports, without its lookup by name)."""
    if vm.domid is None:
        return 0
    held = sum(len(b.ports_for(vm.domid)) for b in (host.xenstored, host.xenconsoled, host.qemu))
    return held + sum(_count(d.dom0_ports) for d in vm.devices)


def _part_domid(d: dict[str, Any]) -> int:
    return int(d["record"]["domid"] if "record" in d else d["domain"]["domid"])


def _find_vm(host: Host, uuid: str) -> Vm | None:
    vm = host.vms.get(uuid)
    if vm is not None and vm.uuid == uuid:
        return vm
    return next((v for v in host.vms.values() if v.uuid == uuid), None)


class HostCodec:
    def parts(self, host: Host) -> Iterator[tuple[str, str, Any]]:
        yield "host", "", _host_part(host)
        for domid in host.hv.domains:
            yield "dom", str(domid), _dom_part(host, domid)
        _track_holds(host)
        for b in host.binders:
            assert isinstance(b.held, _TrackedHolds)
            b.held.take()
            for k, v in b.held.items():
                yield "hold", _hold_key(b.name, k), list(v)
        for dom in _delta().export_all(host.hv)["domains"]:
            for b, data in dom["buckets"].items():
                yield "bkt", f"{dom['domid']}/{b}", data
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
        buckets: dict[str, dict[str, Any]] = {}
        holds: list[tuple[str, Any, Any]] = []
        for kind, key, value in parts:
            if kind == "host":
                head = value
            elif kind == "dom":
                domains.append(value)
            elif kind == "vm":
                vms.append(value)
            elif kind == "xs":
                nodes.append((key, str(value[0]), bool(value[1])))
            elif kind == "hold":
                holds.append((*_hold_from_key(key), value))
            elif kind == "bkt":
                domid, _, bucket = key.partition("/")
                buckets.setdefault(domid, {})[bucket] = value
            else:
                raise ValueError(f"unknown part kind {kind!r}")
        if head is None:
            raise ValueError("no host part")
        binders: dict[str, list[Any]] = {str(name): [] for name in head["binder_names"]}
        for name, hold, value in holds:
            binders[name].append([hold, value])
        grefs: dict[str, int] = {}
        for d in domains:
            if d["grefs"] is not None:
                grefs[str(_part_domid(d))] = int(d["grefs"])
        by_bucket = any("record" in d for d in domains)
        state = {
            "version": head["version"],
            "profile": head["profile"],
            "hardware": head["hardware"],
            "hypervisor": {**head["hv"], "domains": [] if by_bucket else [d["domain"] for d in domains]},
            "xenstore": ["", {}],
            "rover": head["rover"],
            "tty": head["tty"],
            "grefs": grefs,
            "binders": binders,
            "dom0_abi": head["dom0_abi"],
            "vms": vms,
        }
        if "memory" in head:
            state["memory"] = head["memory"]
        host = Host.from_state(state)
        if by_bucket:
            hv: Any = host.hv
            hv.apply_export({
                "version": _delta().DELTA_VERSION,
                "globals": {k: v for k, v in head["hv"].items() if k != "version"},
                "destroyed": [],
                "domains": [
                    {"domid": i, "record": d["record"], "buckets": buckets.get(str(i), {})}
                    for d in domains
                    for i in [_part_domid(d)]
                ],
            })  # fmt: skip
        host.plumbing.xenstore = XenStore.from_nodes(str(head["xs_root"]), nodes)
        _track_holds(host)
        self.changes(host)  # what was just loaded is what the file holds: nothing is dirty
        return host

    def changes(self, host: Host) -> Changes | None:
        """The parts and VM rows changed since the last call (or load); None when a tracker is missing."""
        xs_removed, xs_dirty = host.xenstore.take_dirty()
        vm_uuids = host.take_dirty_vms()
        put: dict[Part, Any] = {("host", ""): _host_part(host)}
        drop: list[Part] = []
        trees: list[Part] = [("xs", p) for p in xs_removed]
        hv = host.hv
        exp = hv.export_dirty(hv.take_dirty())
        domids: set[int] = set()
        for domid in exp["destroyed"]:
            trees.append(("bkt", str(domid)))
            drop.append(("dom", str(domid)))
        for dom in exp["domains"]:
            domids.add(int(dom["domid"]))
            for b, data in dom["buckets"].items():
                put[("bkt", f"{dom['domid']}/{b}")] = data
        holds_known = _track_holds(host)
        for b in host.binders:
            assert isinstance(b.held, _TrackedHolds)
            touched, removed = b.held.take()
            for k in touched:
                part = ("hold", _hold_key(b.name, k))
                if k in removed:
                    drop.append(part)  # deleted, or deleted and set again: it goes last
                if k in b.held:
                    put[part] = list(b.held[k])
        if not holds_known:
            return None
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
        return vm_facts(vm, _dom0_held(host, vm))

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
