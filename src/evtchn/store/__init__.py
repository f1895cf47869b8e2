"""The persisted host (SQLite): one file per simulated host, one transaction per host operation.

store = open_store(None)          # --host FILE, else $EVTCHN_HOST, else default_path()
host = store.read()               # read-only snapshot (lsevtchn, can-start)
with store.transaction() as host: # saved on success, rolled back on exception
    host.start_vm("web1")
store.vms(); store.domain(3)      # reads from rows, no host built (docs/store.md)
store.events_since(token, ["VM"]) # what changed since a token (event.from)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from evtchn.store.errors import (
    CorruptHost,
    EventsLost,
    HostBusy,
    HostExists,
    NoHostFile,
    NoSpace,
    NotAHostFile,
    ReadOnlyHost,
    StoreError,
    UnknownSchema,
)
from evtchn.store.paths import default_path, resolve_path
from evtchn.store.sqlite import Store, Txn

if TYPE_CHECKING:
    from evtchn.toolstack.host import Host


def open_store(
    path: str | os.PathLike[str] | None = None,
    *,
    timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Store[Host]:
    """The host file at `path` (None: $EVTCHN_HOST or default_path()); StoreError if it is not one."""
    from evtchn.store.codec import HOST_CODEC

    return Store(resolve_path(path), HOST_CODEC, timeout=timeout, on_wait=on_wait)


def create_store(
    host: Host,
    path: str | os.PathLike[str] | None = None,
    *,
    replace: bool = False,
    timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Store[Host]:
    """A new host file holding `host`; HostExists unless `replace` (which only replaces host files)."""
    from evtchn.store.codec import HOST_CODEC

    return Store.create(
        resolve_path(path), HOST_CODEC, host, replace=replace, timeout=timeout, on_wait=on_wait
    )


__all__ = [
    "CorruptHost",
    "EventsLost",
    "HostBusy",
    "HostExists",
    "NoHostFile",
    "NoSpace",
    "NotAHostFile",
    "ReadOnlyHost",
    "Store",
    "StoreError",
    "Txn",
    "UnknownSchema",
    "create_store",
    "default_path",
    "open_store",
    "resolve_path",
]
