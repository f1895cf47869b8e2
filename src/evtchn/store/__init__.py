"""The persisted host (SQLite): one file per simulated host, one transaction per host operation.

store = open_store(None)          # --host FILE, else $EVTCHN_HOST, else default_path()
host = store.read()               # read-only snapshot (lsevtchn, can-start)
with store.transaction() as host: # saved on success, rolled back on exception
    host.start_vm("web1")
"""

from __future__ import annotations

from evtchn.store.errors import (
    CorruptHost,
    HostBusy,
    HostExists,
    NoHostFile,
    NotAHostFile,
    StoreError,
    UnknownSchema,
)
from evtchn.store.paths import default_path, resolve_path
from evtchn.store.sqlite import Store, Txn

__all__ = [
    "CorruptHost",
    "HostBusy",
    "HostExists",
    "NoHostFile",
    "NotAHostFile",
    "Store",
    "StoreError",
    "Txn",
    "UnknownSchema",
    "default_path",
    "resolve_path",
]
