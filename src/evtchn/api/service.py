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

from evtchn.api import overlay
from evtchn.api.errors import ApiFailure
from evtchn.api.tasks import TaskTable
from evtchn.api.world import Inputs, World, build
from evtchn.store.errors import StoreError
from evtchn.store.sqlite import Store, Txn
from evtchn.toolstack.errors import ToolstackError
from evtchn.toolstack.hardware import Hardware, get_hardware
from evtchn.toolstack.host import Host

# VM operations whose toolstack call is not there yet (see lifecycle.py): not in allowed_operations.
_OPTIONAL_OPS = {"pause": "pause_vm", "plug": "plug_device", "pool_migrate": "migrate_vm"}


class Service:
    def __init__(self, store: Store[Host]) -> None:
        self.store = store
        self.changed = threading.Condition()
        self.tasks = TaskTable(on_change=self._notify)
        self._world: World | None = None
        self._world_lock = threading.Lock()
        self.after_commit: list[Callable[[], None]] = []
        self.unsupported = frozenset(op for op, fn in _OPTIONAL_OPS.items() if not hasattr(Host, fn))

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
                    w = build(key, self._inputs())
                    self._world = w
                    return w
        except StoreError as e:
            raise ApiFailure("INTERNAL_ERROR", e.message) from None

    def _inputs(self) -> Inputs:
        st = self.store
        meta = st.host_meta()
        hw = self._hardware(meta.get("hardware", ""))
        return Inputs(
            meta=meta, vms=st.vms(), devices=st.devices(), overlay=overlay.read_all(st._db()),
            host_pcpus=hw.host_pcpus, host_memory_mib=hw.host_memory_mib, dom0_memory_mib=hw.dom0_memory_mib,
            tasks=self.tasks.records(), operations=self.tasks.operations(), unsupported=self.unsupported,
        )  # fmt: skip

    def _hardware(self, name: str) -> Hardware:
        try:
            return _builtin_hardware(name)
        except ToolstackError:  # a user's hardware file: the host carries it
            return self.store.read().hardware

    def record(self, cls: str, ref: Any) -> dict[str, Any]:
        rec = self.world().objects[cls].get(ref) if isinstance(ref, str) else None
        if rec is None:
            raise ApiFailure("HANDLE_INVALID", cls, ref)
        return rec

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
