"""XenAPI fields the toolstack has no notion of, persisted in the host file beside its rows.

One row per object: (ref, cls, fields as JSON). For a toolstack object (VM, VBD, VIF) the fields override
or extend what the rows say (name_label free text, other_config, tags, PV_args, a VIF's network, a VBD's
VDI); for an object only the API has (a VDI, a template the user changed) they are the object. A built-in
object the user destroyed keeps a row {"__deleted__": true}.

Writes happen inside the store's write transaction (one commit with the host change they belong to, and the
generation moves, so readers and event watchers see them). Each write also appends a row to the store's
events table (class, ref, add/mod/del, snapshot {"overlay": true}) in the same transaction, as the store does
for its own rows: event.from and the XenAPI view's record cache learn of an overlay change from that row
alone, without comparing views. Only this module knows the table.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from evtchn.store import writer

DELETED = "__deleted__"
_DDL = (
    "CREATE TABLE IF NOT EXISTS xapi_objects (ref TEXT PRIMARY KEY, cls TEXT NOT NULL, fields TEXT NOT NULL)"
)


def read_all(conn: sqlite3.Connection) -> dict[str, tuple[str, dict[str, Any]]]:
    """ref -> (class, fields); empty for a host file that never had one written."""
    try:
        rows = conn.execute("SELECT ref, cls, fields FROM xapi_objects").fetchall()
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return {}
        raise
    return {ref: (cls, json.loads(fields)) for ref, cls, fields in rows}


def read_refs(conn: sqlite3.Connection, refs: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
    """The rows of just these refs (a targeted read for one object's record)."""
    if not refs:
        return {}
    marks = ",".join("?" * len(refs))
    try:
        rows = conn.execute(f"SELECT ref, cls, fields FROM xapi_objects WHERE ref IN ({marks})", refs)
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return {}
        raise
    return {ref: (cls, json.loads(fields)) for ref, cls, fields in rows}


def get(conn: sqlite3.Connection, ref: str) -> dict[str, Any] | None:
    try:
        row = conn.execute("SELECT fields FROM xapi_objects WHERE ref = ?", (ref,)).fetchone()
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return None
        raise
    return None if row is None else dict(json.loads(row[0]))


def refs_named(conn: sqlite3.Connection, cls: str, label: str) -> list[str]:
    """Refs of this class whose overlay row sets name_label to `label` (a renamed object)."""
    try:
        rows = conn.execute("SELECT ref, fields FROM xapi_objects WHERE cls = ?", (cls,)).fetchall()
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return []
        raise
    return [str(ref) for ref, fields in rows if json.loads(fields).get("name_label") == label]


MARK = "overlay"  # the key that tells an overlay row of the events table from a store row


def _event(conn: sqlite3.Connection, cls: str, ref: str, op: str) -> None:
    writer.add_event(conn, cls, ref, op, {MARK: True})


def put(conn: sqlite3.Connection, ref: str, cls: str, fields: dict[str, Any]) -> None:
    conn.execute(_DDL)
    old = conn.execute("SELECT fields FROM xapi_objects WHERE ref = ?", (ref,)).fetchone()
    text = json.dumps(fields, separators=(",", ":"))
    if old is not None and old[0] == text:
        return
    # an object only the API has (a VDI) is added by its first row; a built-in one marked deleted is gone
    op = "del" if fields.get(DELETED) else ("add" if old is None and cls == "VDI" else "mod")
    _event(conn, cls, ref, op)
    conn.execute(
        "INSERT INTO xapi_objects (ref, cls, fields) VALUES (?, ?, ?) "
        "ON CONFLICT (ref) DO UPDATE SET cls = excluded.cls, fields = excluded.fields",
        (ref, cls, text),
    )


def update(conn: sqlite3.Connection, ref: str, cls: str, **changes: Any) -> dict[str, Any]:
    fields = get(conn, ref) or {}
    fields.update(changes)
    put(conn, ref, cls, fields)
    return fields


def delete(conn: sqlite3.Connection, ref: str) -> None:
    conn.execute(_DDL)
    old = conn.execute("SELECT cls FROM xapi_objects WHERE ref = ?", (ref,)).fetchone()
    if old is None:
        return
    conn.execute("DELETE FROM xapi_objects WHERE ref = ?", (ref,))
    # the row of an API-only object (a VDI) is the object; a toolstack object's row goes with the object,
    # whose own "del" comes from the store's row
    if old[0] == "VDI":
        _event(conn, "VDI", ref, "del")
