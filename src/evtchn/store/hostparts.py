"""The pieces of a toolstack Host that the store persists separately, and how each is exported.

    track_holds(host)          # swap each binder's `held` for a dict that records the keys it changes
    host_part(host)            # profile, hardware, dom0 counters, the hypervisor's globals
    dom_part(host, domid)      # one domain's record (and its grant counter)
    vm_part(vm)                # one VM record
    delta()                    # xen/delta.py (export by domain record and 64-port bucket) where present

Works with both toolstack layouts (dom0 counters on the Host, or on `host.plumbing`) and both hypervisor
layouts (whole-domain snapshots, or records and buckets).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable
from typing import Any

from evtchn.toolstack.host import STATE_VERSION, Host, Vm


def count(ports: int | Iterable[int] | None) -> int:
    if ports is None:
        return 0
    if isinstance(ports, int):
        return ports
    return len(list(ports))


class TrackedHolds(dict[Hashable, list[int]]):
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


def track_holds(host: Host) -> bool:
    """Put a tracking `held` on every binder; False if some were not tracked yet (changes unknown)."""
    was = True
    for b in host.binders:
        if not isinstance(b.held, TrackedHolds):
            tracked = TrackedHolds(b.held)
            tracked.touched, tracked.removed = {}, set()
            b.held = tracked
            was = False
    return was


def hold_key(binder: str, key: Hashable) -> str:
    return f"{binder}/{json.dumps(list(key) if isinstance(key, tuple) else key)}"


def hold_from_key(text: str) -> tuple[str, Any]:
    binder, _, key = text.partition("/")
    return binder, json.loads(key)


def counter(host: Host, name: str) -> Any:
    """One of dom0's counters the toolstack keeps in its plumbing (rover, tty, grefs)."""
    return getattr(host.plumbing, name)


def hv_globals(host: Host) -> dict[str, Any]:
    from evtchn.xen.delta import export_globals
    from evtchn.xen.snapshot import SNAPSHOT_VERSION

    return {"version": SNAPSHOT_VERSION, **export_globals(host.hv)}


def host_part(host: Host) -> dict[str, Any]:
    part = {
        "version": STATE_VERSION,
        "profile": host.profile.model_dump(mode="json"),
        "hardware": host.hardware.model_dump(mode="json"),
        "rover": counter(host, "rover"),
        "tty": counter(host, "tty"),
        "dom0_abi": host.kernel.abi,
        "xs_root": host.xenstore.read("/"),
        "hv": hv_globals(host),
        "binder_names": [b.name for b in host.binders],
    }
    memory = host.plumbing.memory
    part["memory"] = {"xen_reserved_mib": memory.xen_reserved_mib, "shadow": memory.shadow_multiplier}
    return part


def dom_part(host: Host, domid: int) -> dict[str, Any]:
    from evtchn.xen.delta import export_domain

    return {"grefs": counter(host, "grefs").get(domid), "record": export_domain(host.hv, domid)}


def vm_part(vm: Vm) -> dict[str, Any]:
    from evtchn.toolstack.records import vm_to_state

    return vm_to_state(vm)


def share_specs(record: dict[str, Any], made: dict[Any, Any]) -> dict[str, Any]:
    """A VM record whose disks and NICs are DiskSpec / NicSpec objects, one per distinct description across
    the records seen with `made` (docs/store.md, "Memory"). They are frozen pydantic models, so VMs can
    share them: a thousand copies of one template hold four, not four thousand (~700 bytes each). A
    description that is not a flat record is left as it is, for VmSpec's validation to report."""
    from evtchn.toolstack.spec import DiskSpec, NicSpec

    spec = record.get("spec")
    if not isinstance(spec, dict):
        return record
    for field, model in (("disks", DiskSpec), ("nics", NicSpec)):
        items = spec.get(field)
        if not isinstance(items, list):
            continue
        shared: list[Any] = []
        for item in items:
            try:
                key = (field, tuple(item.items()))
                hash(key)
            except (AttributeError, TypeError):
                shared.append(item)
                continue
            got = made.get(key)
            if got is None:
                got = made[key] = model.model_validate(item)
            shared.append(got)
        spec[field] = shared
    return record


def dom0_held(host: Host, vm: Vm) -> int:
    """dom0 ports held for this VM (Host.vm_dom0_ports, without its lookup by name)."""
    if vm.domid is None:
        return 0
    held = sum(len(b.ports_for(vm.domid)) for b in (host.xenstored, host.xenconsoled, host.qemu))
    return held + sum(count(d.dom0_ports) for d in vm.devices)


def part_domid(d: dict[str, Any]) -> int:
    return int(d["record"]["domid"])


def find_vm(host: Host, uuid: str) -> Vm | None:
    vm = host.vms.get(uuid)
    if vm is not None and vm.uuid == uuid:
        return vm
    return next((v for v in host.vms.values() if v.uuid == uuid), None)
