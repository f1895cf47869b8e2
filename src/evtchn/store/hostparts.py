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

import importlib
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


def plumbing(host: Host) -> Any:
    """Where the host keeps its dom0 counters (the toolstack moved them into `host.plumbing`)."""
    return getattr(host, "plumbing", host)


def counter(host: Host, name: str) -> Any:
    pl = plumbing(host)
    return getattr(pl, name) if pl is not host else getattr(host, f"_{name}")


def by_bucket(host: Host) -> bool:
    """Whether the hypervisor exports one domain record and 64-port buckets (xen/delta.py)."""
    return hasattr(host.hv, "export_dirty")


def hv_globals(host: Host) -> dict[str, Any]:
    from evtchn.xen.snapshot import SNAPSHOT_VERSION

    hv: Any = host.hv
    consumers = hv.xen_consumers() if hasattr(hv, "xen_consumers") else hv._xen_consumers
    return {
        "version": SNAPSHOT_VERSION,
        "settings": {
            "xen_version": list(hv.settings.xen_version),
            "fifo_compiled": hv.settings.fifo_compiled,
        },
        "global_virq_handlers": [[k, v] for k, v in hv.global_virq_handlers.items()],
        "xen_consumers": [[name, index] for name, index in consumers.items()],
    }


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
    memory = getattr(host, "memory", None)
    if memory is not None:
        part["memory"] = {"xen_reserved_mib": memory.xen_reserved_mib, "shadow": memory.shadow_multiplier}
    return part


def delta() -> Any:
    """xen/delta.py (export and restore by domain record and bucket), where the hypervisor has it."""

    return importlib.import_module("evtchn.xen.delta")


def dom_part(host: Host, domid: int) -> dict[str, Any]:
    part: dict[str, Any] = {"grefs": counter(host, "grefs").get(domid)}
    if by_bucket(host):
        part["record"] = delta().export_domain(host.hv, domid)
    else:
        from evtchn.xen.snapshot import _domain

        part["domain"] = _domain(host.hv.domains[domid])
    return part


def vm_part(vm: Vm) -> dict[str, Any]:

    try:
        to_state = importlib.import_module("evtchn.toolstack.records").vm_to_state
    except (ImportError, AttributeError):
        to_state = importlib.import_module("evtchn.toolstack.host")._vm_to_state
    state: dict[str, Any] = to_state(vm)
    return state


def dom0_held(host: Host, vm: Vm) -> int:
    """dom0 ports held for this VM (Host.vm_dom0_ports, without its lookup by name)."""
    if vm.domid is None:
        return 0
    held = sum(len(b.ports_for(vm.domid)) for b in (host.xenstored, host.xenconsoled, host.qemu))
    return held + sum(count(d.dom0_ports) for d in vm.devices)


def part_domid(d: dict[str, Any]) -> int:
    return int(d["record"]["domid"] if "record" in d else d["domain"]["domid"])


def find_vm(host: Host, uuid: str) -> Vm | None:
    vm = host.vms.get(uuid)
    if vm is not None and vm.uuid == uuid:
        return vm
    return next((v for v in host.vms.values() if v.uuid == uuid), None)


def hv_dirty_domains(host: Host) -> set[int] | None:
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
