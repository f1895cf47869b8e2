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
dicts, which the codec swaps for a recording dict (TrackedHolds). While a tracker is missing the
codec answers "unknown" and the store rewrites every part (correct, but its cost grows with the host).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from evtchn.store.hostparts import (
    TrackedHolds,
    counter,
    dom0_held,
    dom_part,
    find_vm,
    hold_from_key,
    hold_key,
    host_part,
    part_domid,
    share_specs,
    track_holds,
    vm_part,
)
from evtchn.store.hostparts import count as _count
from evtchn.store.rows import Changes, DeviceFacts, HostFacts, Part, VmFacts
from evtchn.store.verify import check_hypervisor
from evtchn.toolstack.host import DeviceStatus, Host, Vm
from evtchn.toolstack.records import vm_from_state
from evtchn.xen import ECS, delta
from evtchn.xenstore.tree import TreeLoader

_ERRNO = re.compile(r"^\s*(?:error\s+)?(\d+)\b")


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


def _settle(host: Host) -> None:
    """Start every tracker afresh: what was just loaded is what the file holds, nothing is dirty. (Not
    changes(), which would export every domain of a freshly loaded hypervisor only to drop it.)"""
    host.xenstore.take_dirty()
    host.take_dirty_vms()
    host.hv.take_dirty()  # untracked after a load: this starts tracking; its "everything" is dropped
    track_holds(host)
    for b in host.binders:
        assert isinstance(b.held, TrackedHolds)
        b.held.take()


class _Parts:
    """The parts of one host, in LOAD_ORDER, taken kind by kind."""

    def __init__(self, parts: Iterable[tuple[str, str, Any]]) -> None:
        self._it = iter(parts)
        self.rank = 0
        self._next()

    def _next(self) -> None:
        self.head = next(self._it, None)
        if self.head is None:
            return
        kind = self.head[0]
        if kind not in _RANK:
            raise ValueError(f"unknown part kind {kind!r}")
        if _RANK[kind] < self.rank:
            raise ValueError(f"part {kind} {self.head[1]} comes after the {LOAD_ORDER[self.rank]} parts")
        self.rank = _RANK[kind]

    def each(self, kind: str) -> Iterator[tuple[str, Any]]:
        """(key, value) of every part of this kind (they come together)."""
        while self.head is not None and self.head[0] == kind:
            _, key, value = self.head
            self._next()
            yield key, value


# The order assemble() takes parts in (the store reads them so, each kind in rowid order): the host part
# and what Host.from_state needs first, then each domain's buckets before its record, so each domain is
# built as its record arrives and its decoded parts die young; then the xenstore nodes, straight into
# the tree (docs/store.md, "Memory").
LOAD_ORDER = ("host", "hold", "vm", "bkt", "dom", "xs")
_RANK = {kind: i for i, kind in enumerate(LOAD_ORDER)}


class HostCodec:
    load_order = LOAD_ORDER

    def parts(self, host: Host) -> Iterator[tuple[str, str, Any]]:
        """Every part of the host, in LOAD_ORDER."""
        yield "host", "", host_part(host)
        track_holds(host)
        for b in host.binders:
            assert isinstance(b.held, TrackedHolds)
            b.held.take()
            for k, v in b.held.items():
                yield "hold", hold_key(b.name, k), list(v)
        for vm in host.vms.values():
            yield "vm", vm.uuid, vm_part(vm)
        for dom in delta.export_all(host.hv)["domains"]:
            for b, data in dom["buckets"].items():
                yield "bkt", f"{dom['domid']}/{b}", data
        for domid in host.hv.domains:
            yield "dom", str(domid), dom_part(host, domid)
        for path, value, is_dir in host.xenstore.nodes():
            yield "xs", path, [value, is_dir]

    def assemble(self, parts: Iterable[tuple[str, str, Any]]) -> Host:
        """A Host from parts() in LOAD_ORDER (each kind in the order written); ValueError / KeyError /
        TypeError (or ToolstackError) if they are not one. Nothing is held twice: VM records become Vm
        objects, domains are built and xenstore nodes join the tree as they arrive."""
        it = _Parts(parts)
        head: dict[str, Any] | None = None
        for _, value in it.each("host"):
            if head is not None:
                raise ValueError("two host parts")
            head = value
        if head is None:
            raise ValueError("no host part")
        binders: dict[str, list[Any]] = {str(name): [] for name in head["binder_names"]}
        for key, value in it.each("hold"):
            name, hold = hold_from_key(key)
            binders.setdefault(name, []).append([hold, value])  # a binder newer than the head
        specs: dict[Any, Any] = {}
        vms = [vm_from_state(share_specs(value, specs)) for _, value in it.each("vm")]
        del specs
        buckets: dict[str, dict[str, Any]] = {}
        for key, value in it.each("bkt"):
            domid, _, bucket = key.partition("/")
            buckets.setdefault(domid, {})[bucket] = value
        state = {
            "version": head["version"],
            "profile": head["profile"],
            "hardware": head["hardware"],
            "hypervisor": {**head["hv"], "domains": []},
            "xenstore": ["", {}],
            "rover": head["rover"],
            "tty": head["tty"],
            "grefs": {},
            "binders": binders,
            "dom0_abi": head["dom0_abi"],
            "vms": vms,
        }
        if "memory" in head:
            state["memory"] = head["memory"]
        host = Host.from_state(state)
        del state, vms, binders
        grefs = counter(host, "grefs")

        def domains() -> Iterator[dict[str, Any]]:
            for _, d in it.each("dom"):
                domid = part_domid(d)
                if d["grefs"] is not None:
                    grefs[domid] = int(d["grefs"])
                yield {"domid": domid, "record": d["record"], "buckets": buckets.pop(str(domid), {})}

        host.hv.apply_export({
            "version": delta.DELTA_VERSION,
            "globals": {k: v for k, v in head["hv"].items() if k != "version"},
            "destroyed": [],
            "domains": domains(),
        })  # fmt: skip
        # the toolstack's rover under its old name wins: files from before the toolstack let Xen choose
        # domids kept Xen's own rover unmoved (the two are one since then)
        host.plumbing.rover = int(head["rover"])
        nodes = TreeLoader()  # ~100 000 nodes on a 1 000-VM host
        for key, value in it.each("xs"):
            nodes.add(key, str(value[0]), bool(value[1]))
        if it.head is not None:
            raise ValueError(f"part {it.head[0]} {it.head[1]} is out of order")
        host.plumbing.xenstore = nodes.finish(str(head["xs_root"]))
        check_hypervisor(host.hv)  # a damaged part that still decodes is caught here (issue 15)
        _settle(host)
        return host

    def changes(self, host: Host) -> Changes | None:
        """The parts and VM rows changed since the last call (or load); None when a tracker is missing."""
        xs_removed, xs_dirty = host.xenstore.take_dirty()
        vm_uuids = host.take_dirty_vms()
        put: dict[Part, Any] = {("host", ""): host_part(host)}
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
        holds_known = track_holds(host)
        for b in host.binders:
            assert isinstance(b.held, TrackedHolds)
            touched, removed = b.held.take()
            for k in touched:
                part = ("hold", hold_key(b.name, k))
                if k in removed:
                    drop.append(part)  # deleted, or deleted and set again: it goes last
                if k in b.held:
                    put[part] = list(b.held[k])
        if not holds_known:
            return None
        for uuid in vm_uuids:
            vm = find_vm(host, uuid)
            if vm is None:
                drop.append(("vm", uuid))
                continue
            put[("vm", uuid)] = vm_part(vm)
            if vm.domid is not None:
                domids.add(vm.domid)
        for domid in domids:
            if domid in host.hv.domains:
                put[("dom", str(domid))] = dom_part(host, domid)
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
        vm = find_vm(host, uuid)
        if vm is None:
            return None
        return vm_facts(vm, dom0_held(host, vm))

    def meta(self, host: Host) -> dict[str, str]:
        dom0 = host.hv.domains.get(0)
        return {
            "profile": host.profile.name,
            "hardware": host.hardware.name,
            "dom0_vcpus": str(dom0.max_vcpus if dom0 is not None else 0),
            "dom0_ports_used": str(host.dom0_ports_used()),
            "dom0_ports_free": str(host.dom0_ports_free()),
            "fault_ports": str(host.plumbing.fault.count()),  # `evtchn fault` (toolstack/fault.py)
        }

    def load(self, state: dict[str, Any]) -> Host:
        """A schema-1 host file's snapshot (Host.to_state()), for the upgrade to schema 2."""
        host = Host.from_state(state)
        check_hypervisor(host.hv)
        _settle(host)
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
