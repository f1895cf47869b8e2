"""Each toolstack VM's on_crash as its spec says, for the XenAPI records (api/crash_action.py).

    read(conn)              # VM uuid -> on_crash, every VM
    read(conn, [uuid])      # just these

The rows the view is built from do not carry the spec; the store keeps each VM's record as a part
("vm", uuid): the toolstack's vm_to_state, a few hundred bytes of JSON (store/writer.py encode: b"j" + JSON,
or b"z" + deflated JSON past 2 KiB). SQLite's json_extract reads the plain ones in place, the deflated ones
are decoded here: 1 000 VMs cost ~1.7 ms, against ~17 ms for the whole view they are part of.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from evtchn.store import writer

_PLAIN = "substr(data, 1, 1) = X'6A'"  # b"j"
_SQL = (
    f"SELECT key, CASE WHEN {_PLAIN} THEN json_extract(CAST(substr(data, 2) AS TEXT), '$.spec.on_crash') "
    "END, "
    f"CASE WHEN {_PLAIN} THEN NULL ELSE data END FROM parts WHERE kind = 'vm'"
)
_SQL_NO_JSON1 = "SELECT key, NULL, data FROM parts WHERE kind = 'vm'"


def read(conn: sqlite3.Connection, uuids: Iterable[str] | None = None) -> dict[str, str]:
    """VM uuid -> its spec's on_crash ("destroy" when a record does not say). None: every VM."""
    where, args = "", []
    if uuids is not None:
        args = list(uuids)
        if not args:
            return {}
        where = f" AND key IN ({','.join('?' * len(args))})"
    try:
        got = conn.execute(_SQL + where, args).fetchall()
    except sqlite3.OperationalError as e:  # an SQLite built without JSON1
        if "json_extract" not in str(e):
            raise
        got = conn.execute(_SQL_NO_JSON1 + where, args).fetchall()
    return {str(key): str(value or _decoded(data)) for key, value, data in got}


def _decoded(data: Any) -> str:
    if data is None:
        return "destroy"
    try:
        spec = writer.decode(data).get("spec") or {}
    except (ValueError, AttributeError):  # the store's own reads report a damaged part
        return "destroy"
    return str(spec.get("on_crash", "destroy"))
