"""Records of toolstack VMs kept across commits: each VM's part of the view (the VM, its VBDs and VIFs,
VM_metrics, console, guest metrics) built from its own rows, and dropped exactly when the store's events
table names it.

    cache = RecordCache()
    part = cache.get(store, gen, vm_ref, build)   # build(vm_ref) -> World of that VM, called on a miss

Every commit, by any process, appends one events row per VM / VBD / VIF row it changed and one per
XenAPI-overlay row it wrote (api/overlay.py), in the same transaction. Before answering from a newer
generation the cache reads the rows after its token (in the caller's read snapshot) and forgets the VMs they
name: a write to one VM costs the next reader one VM's queries, not a view of the host. A row for anything
else the VM parts read (a VDI a VBD points at), a token the store no longer keeps, or a move of the task
table (allowed / current operations) forgets every part.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from evtchn.api.world import World
from evtchn.store.errors import EventsLost
from evtchn.store.sqlite import Store

LIMIT = 128  # VM parts kept, least recently used dropped first: ~1 MiB (each part ~8 KiB)
_OWN = {"vm", "vbd", "vif"}
_KEPT = ("VM", "VBD", "VIF")  # the classes answered from a part (service.py _toolstack_record)
_IGNORED = {"message", "task"}  # classes whose rows no VM part reads


class RecordCache:
    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._parts: OrderedDict[str, World] = OrderedDict()  # vm ref -> that VM's part of the view
        self._owner: dict[str, str] = {}  # VBD / VIF ref -> its VM's ref, for cached parts
        self._gen: int | None = None
        self._token = 0
        self._tasks = -1

    def cached(self, store: Store[Any], gen: int, tasks: int, cls: str, ref: str) -> World | None:
        """The cached part holding object `ref` of `cls` (a VM, VBD or VIF) as of `gen`, or None."""
        with self._lock:
            if self._gen is not None and gen < self._gen:
                return None
            self._catch_up(store, gen, tasks)
            part = self._parts.get(ref if cls == "VM" else self._owner.get(ref, ""))
            return part if part is not None and ref in part.objects[cls] else None

    def get(
        self, store: Store[Any], gen: int, tasks: int, vm_ref: str, build: Callable[[str], World]
    ) -> World:
        """The part of `vm_ref` as of generation `gen`; the caller holds a read snapshot at `gen`."""
        with self._lock:
            if self._gen is not None and gen < self._gen:  # a reader still on an older snapshot
                part = None
            else:
                self._catch_up(store, gen, tasks)
                part = self._parts.get(vm_ref)
            if part is not None:
                self._parts.move_to_end(vm_ref)
                return part
        built = build(vm_ref)
        part = World(built.key, objects={c: built.objects[c] for c in _KEPT}, by_uuid={})  # what reads need
        with self._lock:
            if self._gen == gen and self._tasks == tasks:
                self._parts[vm_ref] = part
                for cls in ("VBD", "VIF"):
                    for ref in part.objects[cls]:
                        self._owner[ref] = vm_ref
                while len(self._parts) > self.limit:
                    self._forget(next(iter(self._parts)))
        return part

    def _catch_up(self, store: Store[Any], gen: int, tasks: int) -> None:
        if tasks != self._tasks:
            self._clear()
            self._tasks = tasks
        if gen == self._gen:
            return
        if self._gen is None:  # first look
            self._clear()
            self._token, self._gen = store.last_event(), gen
            return
        try:
            rows, self._token = store.events_since(self._token)
        except EventsLost:
            self._clear()
            self._token, self._gen = store.last_event(), gen
            return
        self._gen = gen
        for e in rows:
            cls = e.cls.lower()
            if cls == "vm":
                self._forget(e.ref)
            elif cls in _OWN:
                vm = self._owner.get(e.ref) or e.snapshot.get("vm_ref")
                if isinstance(vm, str):
                    self._forget(vm)
            elif cls not in _IGNORED:
                self._clear()
                return

    def _forget(self, vm_ref: str) -> None:
        part = self._parts.pop(vm_ref, None)
        if part is not None:
            for cls in ("VBD", "VIF"):
                for ref in part.objects[cls]:
                    self._owner.pop(ref, None)

    def _clear(self) -> None:
        self._parts.clear()
        self._owner.clear()
