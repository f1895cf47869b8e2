"""Writing one operation into an open transaction: the changed parts, the changed rows, their events.

    write_changes(conn, codec, host)    # only what codec.changes() reports (all of it when it cannot tell)
    put_object(conn, "VDI", ref, uuid, name, record) / delete_object(conn, ref)

Every VM, device or object row that is created, modified or deleted appends one event in the same
transaction, so a reader sees an operation's rows and its events together or not at all.
"""

from __future__ import annotations

import json
import sqlite3
import time
import zlib
from collections.abc import Iterable
from typing import Any, TypeVar

from evtchn.store.rows import HostCodec, VmFacts
from evtchn.store.schema import EVENTS_KEPT

H = TypeVar("H")

VM_COLS = "ref, uuid, name, power_state, domid, vm_type, vcpus, memory_mib, dom0_ports, messages"
DEV_COLS = "ref, uuid, vm_ref, kind, devid, detail, attached, status_code, status_detail, dom0_ports"
_COMPRESS_OVER = 2048
_TEN = ", ".join("?" * 10)


def _uuid4() -> str:
    import uuid  # here, not at start-up: uuid pulls in platform, and readers never make one (issue 14)

    return str(uuid.uuid4())


def new_ref() -> str:
    return f"OpaqueRef:{_uuid4()}"


_ENCODER = json.JSONEncoder(separators=(",", ":"))  # json.dumps makes a new one per call with separators
_quote = json.encoder.encode_basestring_ascii  # what the encoder writes for a str (ensure_ascii)
_BOOL = {True: ",true]", False: ",false]"}


def encode(value: Any) -> bytes:
    """A part's bytes: b"j" + JSON, or b"z" + deflated JSON past a couple of KiB."""
    if type(value) is list and len(value) == 2 and type(value[0]) is str and type(value[1]) is bool:
        # a xenstore node, [value, is_dir]: a VM start writes ~100 of them; the same bytes as the encoder
        raw = ("[" + _quote(value[0]) + _BOOL[value[1]]).encode()
    else:
        raw = _ENCODER.encode(value).encode()
    return b"z" + zlib.compress(raw, 1) if len(raw) > _COMPRESS_OVER else b"j" + raw


def decode(data: bytes) -> Any:
    """Inverse of encode(); ValueError (zlib.error is one) if the bytes are not a part."""
    if not isinstance(data, bytes) or not data:
        raise ValueError("empty or non-blob part")
    tag, body = data[:1], data[1:]
    if tag == b"z":
        body = zlib.decompress(body)
    elif tag != b"j":
        raise ValueError(f"unknown part encoding {tag!r}")
    # what json.loads(body) does, less its per-call encoding sniffing (a 1 000-VM host is ~110 000 parts)
    return _JSON.decode(body.decode())


_JSON = json.JSONDecoder()


def ensure_ref(conn: sqlite3.Connection, cls: str, key: str, uuid: str | None = None) -> tuple[str, str]:
    row = conn.execute("SELECT ref, uuid FROM refs WHERE cls = ? AND key = ?", (cls, key)).fetchone()
    if row is not None:
        return row[0], row[1]
    ref, u = new_ref(), uuid or _uuid4()
    conn.execute("INSERT INTO refs (cls, key, ref, uuid) VALUES (?, ?, ?, ?)", (cls, key, ref, u))
    return ref, u


def add_event(conn: sqlite3.Connection, cls: str, ref: str, op: str, snapshot: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO events (cls, ref, operation, snapshot, ts) VALUES (?, ?, ?, ?, ?)",
        (cls, ref, op, json.dumps(snapshot, sort_keys=True), time.time()),
    )


_UPSERT_PART = (
    "INSERT INTO parts (kind, key, data) VALUES (?, ?, ?) "
    "ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data"
)


def write_all(conn: sqlite3.Connection, codec: HostCodec[H], host: H) -> None:
    """Rewrite every part and every row (a new file, an upgrade, or a codec that cannot tell)."""
    conn.execute("DELETE FROM parts")
    conn.executemany(_UPSERT_PART, ((k, key, encode(v)) for k, key, v in codec.parts(host)))
    known = {r[0] for r in conn.execute("SELECT uuid FROM vms")}
    sync_vms(conn, codec, host, known | codec.vm_uuids(host))
    _meta(conn, codec, host)


def write_changes(conn: sqlite3.Connection, codec: HostCodec[H], host: H) -> bool:
    """Write what changed; False (after writing everything) when the codec could not tell."""
    changes = codec.changes(host)
    if changes is None:
        write_all(conn, codec, host)
        return False
    for kind, key in changes.drop_trees:
        if key == "/":
            conn.execute("DELETE FROM parts WHERE kind = ?", (kind,))
        else:
            # two statements, so each is one range of the (kind, key) index ("0" sorts right after "/")
            conn.execute("DELETE FROM parts WHERE kind = ? AND key = ?", (kind, key))
            below = (kind, key + "/", key + "0")
            conn.execute("DELETE FROM parts WHERE kind = ? AND key >= ? AND key < ?", below)
    conn.executemany("DELETE FROM parts WHERE kind = ? AND key = ?", changes.drop)
    conn.executemany(_UPSERT_PART, ((k, key, encode(v)) for (k, key), v in changes.put.items()))
    sync_vms(conn, codec, host, changes.vms)
    _meta(conn, codec, host)
    return True


def _meta(conn: sqlite3.Connection, codec: HostCodec[H], host: H) -> None:
    conn.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE value != excluded.value",
        codec.meta(host).items(),
    )


def _vm_tuple(ref: str, vm: VmFacts) -> tuple[Any, ...]:
    return (ref, vm.uuid, vm.name, vm.power_state, vm.domid, vm.vm_type, vm.vcpus, vm.memory_mib,
            vm.dom0_ports, json.dumps(vm.messages))  # fmt: skip


def _snapshot(cols: str, row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip([c.strip() for c in cols.split(",")], row, strict=True))


def sync_vms(conn: sqlite3.Connection, codec: HostCodec[H], host: H, uuids: Iterable[str]) -> None:
    """Bring the rows of these VMs (and their devices) in line with the host; an event per changed row."""
    for uuid in sorted(uuids):
        facts = codec.vm_facts(host, uuid)
        old = conn.execute(f"SELECT {VM_COLS} FROM vms WHERE uuid = ?", (uuid,)).fetchone()
        vm_ref = old[0] if old is not None else ensure_ref(conn, "VM", uuid, uuid)[0]
        old_devs = {
            r[0]: tuple(r)
            for r in conn.execute(f"SELECT {DEV_COLS} FROM devices WHERE vm_ref = ?", (vm_ref,))
        }
        new_devs: dict[str, tuple[Any, ...]] = {}
        for d in facts.devices if facts is not None else []:
            ref, u = ensure_ref(conn, d.kind.upper(), f"{uuid}/{d.devid}")
            new_devs[ref] = (ref, u, vm_ref, d.kind, d.devid, json.dumps(dict(d.detail)), int(d.attached),
                             d.status_code, d.status_detail, d.dom0_ports)  # fmt: skip
        for ref, row in old_devs.items():
            if ref not in new_devs:
                conn.execute("DELETE FROM devices WHERE ref = ?", (ref,))
                conn.execute("DELETE FROM refs WHERE ref = ?", (ref,))
                add_event(conn, str(row[3]).upper(), ref, "del", _snapshot(DEV_COLS, row))
        if facts is None:
            if old is not None:
                conn.execute("DELETE FROM vms WHERE ref = ?", (vm_ref,))
                add_event(conn, "VM", vm_ref, "del", _snapshot(VM_COLS, old))
            conn.execute("DELETE FROM refs WHERE ref = ?", (vm_ref,))
            continue
        row = _vm_tuple(vm_ref, facts)
        if old is None or tuple(old) != row:
            conn.execute(f"INSERT OR REPLACE INTO vms ({VM_COLS}) VALUES ({_TEN})", row)
            add_event(conn, "VM", vm_ref, "add" if old is None else "mod", _snapshot(VM_COLS, row))
        for ref, drow in new_devs.items():
            if old_devs.get(ref) != drow:
                conn.execute(f"INSERT OR REPLACE INTO devices ({DEV_COLS}) VALUES ({_TEN})", drow)
                op = "add" if ref not in old_devs else "mod"
                add_event(conn, str(drow[3]).upper(), ref, op, _snapshot(DEV_COLS, drow))


def put_object(
    conn: sqlite3.Connection,
    cls: str,
    ref: str | None,
    uuid: str | None,
    name_label: str,
    record: dict[str, Any],
) -> str:
    """Create or replace a generic XenAPI object; its ref (made now if None)."""
    if ref is None:
        ref = new_ref()
    old = conn.execute("SELECT uuid, record FROM objects WHERE ref = ?", (ref,)).fetchone()
    u = uuid or (old[0] if old is not None else _uuid4())
    text = json.dumps(record, sort_keys=True)
    if old is not None and old[0] == u and old[1] == text:
        return ref
    conn.execute(
        "INSERT OR REPLACE INTO objects (ref, cls, uuid, name_label, record) VALUES (?, ?, ?, ?, ?)",
        (ref, cls, u, name_label, text),
    )
    add_event(
        conn, cls, ref, "add" if old is None else "mod", {**record, "uuid": u, "name_label": name_label}
    )
    return ref


def delete_object(conn: sqlite3.Connection, ref: str) -> bool:
    old = conn.execute("SELECT cls, uuid, name_label, record FROM objects WHERE ref = ?", (ref,)).fetchone()
    if old is None:
        return False
    conn.execute("DELETE FROM objects WHERE ref = ?", (ref,))
    add_event(conn, old[0], ref, "del", {**json.loads(old[3]), "uuid": old[1], "name_label": old[2]})
    return True


def bump_generation(conn: sqlite3.Connection) -> int:
    """The next generation, and the events table cut back to its newest EVENTS_KEPT."""
    conn.execute("UPDATE generation SET n = n + 1 WHERE id = 1")
    n = int(conn.execute("SELECT n FROM generation WHERE id = 1").fetchone()[0])
    last = conn.execute("SELECT max(id) FROM events").fetchone()[0]
    if last is not None and last > EVENTS_KEPT:
        conn.execute("DELETE FROM events WHERE id <= ?", (last - EVENTS_KEPT,))
    return n


def init_meta(conn: sqlite3.Connection) -> None:
    host_ref, host_uuid = ensure_ref(conn, "host", "host")
    dom0_ref, dom0_uuid = ensure_ref(conn, "VM", "dom0")  # the control domain's VM object
    conn.executemany(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
        [("format", "evtchn-host"), ("host_ref", host_ref), ("host_uuid", host_uuid),
         ("dom0_ref", dom0_ref), ("dom0_uuid", dom0_uuid)],
    )  # fmt: skip
    conn.execute("INSERT OR IGNORE INTO generation (id, n) VALUES (1, 0)")
