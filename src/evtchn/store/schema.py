"""The host file's schema and the read-only check that a file is one (reference: sqlite.org/fileformat.html).

    check_host_file(path)   # raises NoHostFile / NotAHostFile / UnknownSchema, never writes to the file

The check reads the 100-byte SQLite header directly (magic string, `user_version` at offset 60,
`application_id` at offset 68), so a foreign file is rejected before SQLite ever opens it.
"""

from __future__ import annotations

import struct
from pathlib import Path

from evtchn.store.errors import NoHostFile, NotAHostFile, UnknownSchema

APPLICATION_ID = 0x45764368  # "EvCh" — PRAGMA application_id marks the file as ours
SCHEMA_VERSION = 2  # PRAGMA user_version; 1: one JSON snapshot of the whole host (upgraded in place)
OLD_SCHEMAS = (1,)
SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_SIZE = 100
EVENTS_KEPT = 10_000  # the events table keeps the newest this many; an older token gets EVENTS_LOST

DDL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE generation (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
CREATE TABLE parts (kind TEXT NOT NULL, key TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (kind, key));
CREATE TABLE refs (
    cls TEXT NOT NULL,
    key TEXT NOT NULL,
    ref TEXT NOT NULL UNIQUE,
    uuid TEXT NOT NULL UNIQUE,
    PRIMARY KEY (cls, key)
);
CREATE TABLE vms (
    ref TEXT PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    power_state TEXT NOT NULL,
    domid INTEGER,
    vm_type TEXT NOT NULL,
    vcpus INTEGER NOT NULL,
    memory_mib INTEGER NOT NULL,
    dom0_ports INTEGER NOT NULL,
    messages TEXT NOT NULL
);
CREATE INDEX vms_by_name ON vms (name);
CREATE INDEX vms_by_domid ON vms (domid);
CREATE TABLE devices (
    ref TEXT PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    vm_ref TEXT NOT NULL REFERENCES vms (ref),
    kind TEXT NOT NULL,
    devid INTEGER NOT NULL,
    detail TEXT NOT NULL,
    attached INTEGER NOT NULL,
    status_code INTEGER NOT NULL,
    status_detail TEXT NOT NULL,
    dom0_ports INTEGER NOT NULL,
    UNIQUE (vm_ref, kind, devid)
);
CREATE INDEX devices_by_kind ON devices (kind);
CREATE TABLE objects (
    ref TEXT PRIMARY KEY,
    cls TEXT NOT NULL,
    uuid TEXT NOT NULL UNIQUE,
    name_label TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX objects_by_cls ON objects (cls);
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    cls TEXT NOT NULL,
    ref TEXT NOT NULL,
    operation TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    ts REAL NOT NULL
);
"""


def check_host_file(path: Path) -> int:
    """The schema version of the evtchn host file at `path` (this one or an older one that can be
    upgraded); raise otherwise. Opens the file read-only."""
    try:
        with open(path, "rb") as f:
            header = f.read(HEADER_SIZE)
    except FileNotFoundError:
        raise NoHostFile(
            f"{path}: no host file here; create one with `evtchn host create --profile P`"
        ) from None
    except IsADirectoryError:
        raise NotAHostFile(f"{path}: is a directory, expected an evtchn host file") from None
    except OSError as e:
        raise NotAHostFile(f"{path}: cannot read: {e.strerror}") from None
    if len(header) < HEADER_SIZE or not header.startswith(SQLITE_MAGIC):
        raise NotAHostFile(f"{path}: not an evtchn host file (not an SQLite database); left unchanged")
    (user_version,) = struct.unpack(">I", header[60:64])
    (application_id,) = struct.unpack(">I", header[68:72])
    if application_id != APPLICATION_ID:
        raise NotAHostFile(
            f"{path}: an SQLite database but not an evtchn host file "
            f"(application_id {application_id:#010x}, expected {APPLICATION_ID:#010x}); left unchanged"
        )
    if user_version != SCHEMA_VERSION and user_version not in OLD_SCHEMAS:
        raise UnknownSchema(
            f"{path}: host file schema version {user_version}, this evtchn reads version {SCHEMA_VERSION}; "
            "left unchanged"
        )
    return int(user_version)
