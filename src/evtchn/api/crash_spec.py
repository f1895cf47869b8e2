"""Each toolstack VM's on_crash as its spec says, for the XenAPI records (api/crash_action.py).

    read(conn)              # VM uuid -> on_crash, every VM
    read(conn, [uuid])      # just these

The rows the view is built from do not carry the spec; the store keeps each VM's record as a part
("vm", uuid): the toolstack's vm_to_state, a few hundred bytes of JSON. Reading them all is about as quick
as reading the rows (300 VMs: ~1 ms).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from evtchn.store import writer


def read(conn: sqlite3.Connection, uuids: Iterable[str] | None = None) -> dict[str, str]:
    """VM uuid -> its spec's on_crash, from the VM records the store keeps (parts ("vm", uuid), the
    toolstack's vm_to_state: a small JSON record each). None: every VM."""
    if uuids is None:
        got = conn.execute("SELECT key, data FROM parts WHERE kind = 'vm'").fetchall()
    else:
        keys = list(uuids)
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        sql = f"SELECT key, data FROM parts WHERE kind = 'vm' AND key IN ({marks})"
        got = conn.execute(sql, keys).fetchall()
    out: dict[str, str] = {}
    for key, data in got:
        try:
            spec = writer.decode(data).get("spec") or {}
        except (ValueError, AttributeError):
            continue  # the store's own reads report a damaged part; the record keeps the default
        out[str(key)] = str(spec.get("on_crash", "destroy"))
    return out
