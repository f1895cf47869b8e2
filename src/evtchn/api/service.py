"""The XenAPI service's core: the host file, a cached view of every object, and write transactions.

    svc = Service(store)
    svc.world()                       # World for the committed host and the task table (cached per change)
    svc.record("VM", ref)             # a copy of one record, or HANDLE_INVALID
    with svc.txn() as tx: ...         # one store transaction: tx.host (toolstack), tx.conn (overlay rows)

Reads are built from the rows inside one read transaction and reused until the host file's generation or
the task table moves; other processes' commits move the generation, so their changes show up here.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from evtchn.api import messages, overlay
from evtchn.api.crash_spec import read as crash_spec
from evtchn.api.errors import ApiFailure
from evtchn.api.records import RecordCache
from evtchn.api.tasks import TaskTable
from evtchn.api.world import Inputs, World, build, build_vms
from evtchn.store.errors import StoreError
from evtchn.store.sqlite import Store, Txn
from evtchn.toolstack.errors import ToolstackError
from evtchn.toolstack.hardware import Hardware, get_hardware
from evtchn.toolstack.host import Host


class Service:
    def __init__(self, store: Store[Host]) -> None:
        self.store = store
        self.changed = threading.Condition()
        self.tasks = TaskTable(on_change=self._notify)
        self._world: World | None = None
        self._world_lock = threading.Lock()
        self._parts = RecordCache()
        self._custom_hardware: dict[str, Hardware] = {}
        self.after_commit: list[Callable[[], None]] = []

    def _notify(self) -> None:
        with self.changed:
            self.changed.notify_all()

    # ------------------------------------------------------------------ reads
    def generation(self) -> int:
        try:
            return self.store.generation()
        except Exception as e:  # sqlite3 errors of a broken file: reported as the store reports them
            raise ApiFailure("INTERNAL_ERROR", f"{self.store.path}: {e}") from None

    def version(self) -> tuple[int, int]:
        return self.generation(), self.tasks.version

    @contextmanager
    def snapshot(self) -> Iterator[int]:
        """The dispatcher's consistent read: yields a number that moves with the host file and the tasks."""
        with self.store.snapshot() as gen:
            yield (gen << 32) | (self.tasks.version & 0xFFFFFFFF)

    def world(self) -> World:
        try:
            with self.store.snapshot() as gen:
                key = (gen, self.tasks.version)
                w = self._world
                if w is not None and w.key == key:
                    return w
                with self._world_lock:
                    w = self._world
                    if w is not None and w.key == key:
                        return w
                    w = build(key, self._inputs(), prev=self._world)  # unchanged VMs' parts reused
                    self._world = w
                    return w
        except StoreError as e:
            raise ApiFailure("INTERNAL_ERROR", e.message) from None

    def drop_view(self) -> None:
        """Forget the cached whole view (~9 MiB on a 1 000-VM host); the next whole read builds it again."""
        with self._world_lock:
            self._world = None

    def _inputs(self, vm_ref: str | None = None) -> Inputs:
        """What a view is built from: the whole host, or (vm_ref) one toolstack VM with its devices."""
        st = self.store
        meta = st.host_meta()
        hw = self._hardware(meta.get("hardware", ""))
        if vm_ref is None:
            vms, devs, over = st.vms(), st.devices(), overlay.read_all(st._db())
        else:
            row = st.vm(ref=vm_ref)
            vms = [row] if row is not None else []
            devs = st.devices(vm_ref=vm_ref)
            over = overlay.read_refs(st._db(), [vm_ref] + [d.ref for d in devs])
            disks = [str(f["VDI"]) for _, f in over.values() if f.get("VDI")]
            over.update(overlay.read_refs(st._db(), disks))
        return Inputs(
            meta=meta, vms=vms, devices=devs, overlay=over,
            host_pcpus=hw.host_pcpus, host_memory_mib=hw.host_memory_mib, dom0_memory_mib=hw.dom0_memory_mib,
            tasks=self.tasks.records(), operations=self.tasks.operations(),
            messages=messages.world_records(st.objects("message")) if vm_ref is None else {},
            on_crash=crash_spec(st._db(), None if vm_ref is None else [r.uuid for r in vms]),
        )  # fmt: skip

    def _hardware(self, name: str) -> Hardware:
        try:
            return _builtin_hardware(name)
        except ToolstackError:  # a user's hardware file: the host carries it
            hw = self._custom_hardware.get(name)
            if hw is None:
                hw = self._custom_hardware[name] = self.store.read().hardware
            return hw

    def record(self, cls: str, ref: Any) -> dict[str, Any]:
        """One record. A VM's, VBD's or VIF's is read with targeted queries when the cached view is stale
        (a client reading records between changes does not pay for a view of the whole host)."""
        if not isinstance(ref, str):
            raise ApiFailure("HANDLE_INVALID", cls, ref)
        rec: dict[str, Any] | None
        if cls in ("VM", "VBD", "VIF"):
            rec = self._toolstack_record(cls, ref)
        else:
            rec = self.world().objects[cls].get(ref)
        if rec is None:
            raise ApiFailure("HANDLE_INVALID", cls, ref)
        return rec

    def _toolstack_record(self, cls: str, ref: str) -> dict[str, Any] | None:
        try:
            with self.store.snapshot() as gen:
                key = (gen, self.tasks.version)
                w = self._world
                if w is not None and w.key == key:
                    return w.objects[cls].get(ref)
                part = self._parts.cached(self.store, gen, key[1], cls, ref)
                if part is not None:
                    return part.objects[cls].get(ref)
                if cls == "VM":
                    vm_ref: str | None = ref if self.store.vm(ref=ref) is not None else None
                else:
                    d = self.store.device(ref, cls.lower())
                    vm_ref = d.vm_ref if d is not None else None
                if vm_ref is None:  # a template, dom0, or no such object: the whole view answers
                    return self.world().objects[cls].get(ref)
                part = self._parts.get(
                    self.store, gen, key[1], vm_ref, lambda r: build_vms(key, self._inputs(r))
                )
                return part.objects[cls].get(ref)
        except StoreError as e:
            raise ApiFailure("INTERNAL_ERROR", e.message) from None

    # ----------------------------------------------------------------- writes
    @contextmanager
    def txn(self) -> Iterator[Txn[Host]]:
        """One store transaction; a host file that stays busy or breaks is INTERNAL_ERROR with the store's
        one-line message. Watchers are woken after the commit."""
        try:
            with self.store.txn() as tx:
                self.tasks.checkpoint()
                yield tx
        except StoreError as e:
            raise ApiFailure("INTERNAL_ERROR", e.message) from None
        for hook in self.after_commit:
            hook()
        self._notify()


@functools.lru_cache(maxsize=16)
def _builtin_hardware(name: str) -> Hardware:
    return get_hardware(name or None)


def servertime() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H:%M:%SZ")
