"""The dashboard's view kept current change by change, without reading the whole host per commit.

    live = LiveView(store)
    host, view = live.current()   # the HostView of the last committed generation; `host` is the last
                                  # whole read (headroom, a chosen shape: at most HEADROOM_EVERY old)

A whole read of a 1 000-VM host file (`store.read()`) costs ~0.6 s of CPU; issue 13 wants a change in the
page within a second. The store writes only the rows and parts that changed (one `vm` part per VM, one
`dom` part and 64-port `bkt` parts per domain, one `hold` part per daemon and key), so a new generation is
answered by comparing those parts' bytes with the ones the view was built from and rebuilding only the VMs
whose part, domain, daemon holds or rows moved: each from its own VM record, its domain's counts
(store/reads.py `hypervisor` of just those domids) and the daemons' holds for its domid, with the same
code as the whole-host view (state.py). dom0's used and usable ports and the fault-injected consumers come
from the host meta row the store keeps current. The headroom rows need the toolstack's `can_start`: their
"how many more" follows dom0's free ports at once; their binding limit is refreshed from a whole read in
the background at most every HEADROOM_EVERY seconds.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from evtchn.ui.state import HostView, Rows, VmView, finish_view, host_view, vm_ports_by_kind, vm_view

if TYPE_CHECKING:
    from evtchn.store.sqlite import Store
    from evtchn.toolstack.host import Host

HEADROOM_EVERY = 5.0  # seconds between whole reads for the headroom rows' binding limits


class _Parts:
    """Digests of the parts a VM's row is built from, as of one generation (16 bytes each, not the ~3.5 MB
    of parts a 1 000-VM host has); `raw_vm` / `raw_hold` keep the bytes only until the update is done."""

    def __init__(self, store: Store[Host]) -> None:
        q = store._q  # the store's own read of its parts table (store/reads.py reads it the same way)
        self.raw_vm = {str(k): bytes(d) for k, d in q("SELECT key, data FROM parts WHERE kind = 'vm'")}
        self.raw_hold = {str(k): bytes(d) for k, d in q("SELECT key, data FROM parts WHERE kind = 'hold'")}
        dom: dict[str, Any] = {}
        for k, d in q("SELECT key, data FROM parts WHERE kind = 'dom'"):
            dom.setdefault(str(k), hashlib.blake2b(digest_size=16)).update(bytes(d))
        for k, d in q("SELECT key, data FROM parts WHERE kind = 'bkt' ORDER BY key"):
            dom.setdefault(str(k).partition("/")[0], hashlib.blake2b(digest_size=16)).update(b"/" + bytes(d))
        self.dom = {k: h.digest() for k, h in dom.items()}
        self.vm = {k: _digest(v) for k, v in self.raw_vm.items()}
        self.hold = {k: _digest(v) for k, v in self.raw_hold.items()}

    def done(self) -> None:
        self.raw_vm, self.raw_hold = {}, {}


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


class LiveView:
    def __init__(self, store: Store[Host]) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._gen: int | None = None
        self._view: HostView | None = None
        self._host: Host | None = None  # the last whole read
        self._host_gen = -1
        self._host_time = 0.0
        self._refreshing = False
        self._parts: _Parts | None = None
        self._rows: dict[str, tuple[Any, ...]] = {}  # VM uuid -> its VM row and device rows
        self._vms: dict[str, VmView] = {}
        self._kinds: dict[str, dict[str, int]] = {}  # VM uuid -> dom0 ports it holds, by kind

    def current(self) -> tuple[Host, HostView]:
        store = self.store
        gen = store.generation()
        with self._lock:
            if self._view is not None and self._gen == gen:
                assert self._host is not None
                return self._host, self._view
            if self._host is None:
                self._whole(gen)
            else:
                self._update()
            self._maybe_refresh_headroom()
            assert self._host is not None and self._view is not None
            return self._host, self._view

    # ----------------------------------------------------------------- the first look: the whole host
    def _whole(self, gen: int) -> None:
        store = self.store
        host = store.read()
        with store.snapshot() as now:
            vms, devs = store.vms(), store.devices()
            parts = _Parts(store) if now == gen else None
        rows = Rows.of(vms, devs)
        view = host_view(host, rows)
        self._host, self._host_gen, self._host_time = host, now, time.monotonic()
        self._vms = {v.uuid: v for v in view.vms}
        self._kinds = {
            u: {k: len(p) for k, p in host.vm_dom0_ports(u).items() if p} if vm.domid is not None else {}
            for u, vm in host.vms.items()
        }
        self._rows = _row_keys(rows)
        # parts read at the generation the host was read at describe it; else rebuild every VM next time
        if parts is not None:
            parts.done()
        self._parts = parts
        self._gen, self._view = now, view
        if parts is None:  # a commit landed between the whole read and the parts: rebuild every VM row
            self._update()

    # ----------------------------------------------------------------- later looks: what moved
    def _update(self) -> None:
        store = self.store
        host = self._host
        assert host is not None
        with store.snapshot() as gen:
            parts = _Parts(store)
            vms, devs = store.vms(), store.devices()
            meta = store.host_meta()
            rows = Rows.of(vms, devs)
            keys = _row_keys(rows)
            old = self._parts
            names = _daemons(host)
            changed: set[str] = set()
            for uuid, blob in parts.vm.items():
                if old is None or old.vm.get(uuid) != blob or self._rows.get(uuid) != keys.get(uuid):
                    changed.add(uuid)
            moved = {d for d, b in parts.dom.items() if old is None or old.dom.get(d) != b}
            moved |= {d for d in (old.dom if old is not None else {}) if d not in parts.dom}
            held = {k for k, b in parts.hold.items() if old is None or old.hold.get(k) != b}
            held |= {k for k in (old.hold if old is not None else {}) if k not in parts.hold}
            if moved or held:
                for uuid, row in self._vms.items():
                    if row.domid is not None and (
                        str(row.domid) in moved or any(_hold(n, row.domid) in held for n in names.values())
                    ):
                        changed.add(uuid)
            from evtchn.store.writer import decode
            from evtchn.toolstack.records import vm_from_state

            built = {u: vm_from_state(decode(parts.raw_vm[u])) for u in changed if u in parts.raw_vm}
            domids = [vm.domid for vm in built.values() if vm.domid is not None]
            guests = _guests(store, domids)
        for uuid in [u for u in self._vms if u not in parts.vm]:
            del self._vms[uuid]
            self._kinds.pop(uuid, None)
        for uuid, vm in built.items():
            daemons: dict[str, list[int]] = {}
            if vm.domid is not None:
                for kind, name in names.items():
                    held_blob = parts.raw_hold.get(_hold(name, vm.domid))
                    daemons[kind] = list(decode(held_blob)) if held_blob is not None else []
            kinds = vm_ports_by_kind(vm, daemons)
            self._kinds[uuid] = {k: len(p) for k, p in kinds.items() if p}
            self._vms[uuid] = vm_view(vm, sum(len(p) for p in kinds.values()), guests.get(vm.domid), rows)
        parts.done()
        self._parts, self._rows, self._gen = parts, keys, gen
        used = int(meta.get("dom0_ports_used", "0"))
        usable = used + int(meta.get("dom0_ports_free", "0"))
        base = self._view
        assert base is not None
        view = HostView(profile=base.profile, abi=base.abi, abi_evidence=base.abi_evidence, used=used,
                        usable=usable, fault_ports=int(meta.get("fault_ports", "0")))  # fmt: skip
        order = sorted(self._vms.values(), key=lambda v: (v.name, v.uuid))
        finish_view(view, host.baseline(), [(v, self._kinds.get(v.uuid, {})) for v in order])
        view.headroom = [replace(h, more=view.free // h.cost if h.cost else 0) for h in base.headroom]
        self._view = view

    # ----------------------------------------------------------------- headroom, in the background
    def _maybe_refresh_headroom(self) -> None:
        if self._refreshing or self._host_gen == self._gen:
            return
        if time.monotonic() - self._host_time < HEADROOM_EVERY:
            return
        self._refreshing = True
        threading.Thread(target=self._refresh_headroom, name="ui headroom", daemon=True).start()

    def _refresh_headroom(self) -> None:
        from evtchn.ui.state import headroom

        try:
            gen = self.store.generation()
            host = self.store.read()
            with self._lock:
                self._host, self._host_gen, self._host_time = host, gen, time.monotonic()
                view = self._view
                if view is not None:
                    rows = headroom(host, view.free)
                    self._view = replace(view, headroom=rows)
        finally:
            self._refreshing = False


def _row_keys(rows: Rows) -> dict[str, tuple[Any, ...]]:
    """Per VM uuid, what its page row reads from the store's rows (ref and device rows)."""
    return {u: (ref, tuple(sorted(rows.devices.get(u, {}).items()))) for u, ref in rows.vm_refs.items()}


def _daemons(host: Host) -> dict[str, str]:
    """The dom0 daemons that hold ports per guest domid: kind (as VmCost.by_kind names it) -> binder name."""
    p = host.plumbing
    return {"xenstore": p.xenstored.name, "console": p.xenconsoled.name, "device_model": p.qemu.name}


def _hold(binder: str, domid: int) -> str:
    from evtchn.store.hostparts import hold_key

    return hold_key(binder, domid)


def _guests(store: Store[Host], domids: list[int]) -> dict[int | None, tuple[int, int]]:
    """(active event channels, limit port) of these domains, read without building the others."""
    if not domids:
        return {}
    from evtchn.store.reads import any_hypervisor

    hv = any_hypervisor(store, domids)
    return {d: (hv.domains[d].active_evtchns, hv.domains[d].limit_port) for d in domids if d in hv.domains}
