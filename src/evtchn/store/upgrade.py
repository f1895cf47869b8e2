"""Schema 1 → 2: the whole-host JSON snapshot becomes parts and rows, in place, in one transaction.

    Store(path, codec)     # a schema-1 file: the user is told on stderr, then it is upgraded atomically

Refs and uuids are kept (a client's OpaqueRefs stay valid). A file this process cannot write is upgraded
in memory only, so every read-only command works on it and a write says the file is read-only.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from typing import TYPE_CHECKING, Any, TypeVar

from evtchn.store import writer
from evtchn.store.errors import CorruptHost, StoreError
from evtchn.store.schema import DDL, SCHEMA_VERSION

if TYPE_CHECKING:
    from evtchn.store.rows import HostCodec
    from evtchn.store.sqlite import Store

H = TypeVar("H")

_KEPT_V1 = ("meta", "refs")  # same columns in both schemas


def _new_tables() -> list[str]:
    out = []
    for s in (s.strip() for s in DDL.split(";")):
        if s and not any(s.startswith(f"CREATE TABLE {t} ") for t in _KEPT_V1):
            out.append(s)
    return out


def migrate(conn: sqlite3.Connection, codec: HostCodec[H], where: str) -> None:
    """Inside an open transaction on a schema-1 database: rewrite it as schema 2."""
    row = conn.execute("SELECT generation, state FROM snapshot WHERE id = 1").fetchone()
    if row is None:
        raise CorruptHost(f"{where}: corrupt host file: schema 1 without a host snapshot")
    try:
        state: Any = json.loads(zlib.decompress(row[1]))
        host = codec.load(state)
    except Exception as e:  # zlib, JSON, and the toolstack's own one-line checks
        text = getattr(e, "message", None) or f"{type(e).__name__}: {e}"
        raise CorruptHost(
            f"{where}: corrupt host file: the schema-1 snapshot cannot be read: {text}"
        ) from None
    for table in ("devices", "vms", "snapshot"):
        conn.execute(f"DROP TABLE {table}")
    conn.execute("DROP INDEX IF EXISTS devices_by_kind")
    for statement in _new_tables():
        conn.execute(statement)
    writer.init_meta(conn)
    conn.execute("UPDATE generation SET n = ? WHERE id = 1", (int(row[0]) + 1,))
    writer.write_all(conn, codec, host)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def upgrade(store: Store[Any], version: int) -> sqlite3.Connection | None:
    """Upgrade `store`'s file from `version`; for a read-only file, an upgraded copy in memory."""
    from evtchn.store.connect import BROKEN, open_read_only, write_error

    path = store.path
    if store.read_only:
        try:
            src = open_read_only(path, store.timeout)
            mem = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            src.backup(mem)
            src.close()
            mem.execute("BEGIN")
            migrate(mem, store.codec, str(path))
            mem.execute("COMMIT")
        except (*BROKEN, ValueError, TypeError) as e:
            raise CorruptHost(f"{path}: corrupt host file: {e}") from None
        return mem
    if store.on_wait is not None:
        store.on_wait(
            f"upgrading host file {path} from schema {version} to {SCHEMA_VERSION} in place "
            "(one transaction; older evtchn versions will refuse it afterwards)"
        )
    conn = sqlite3.connect(path, isolation_level=None, timeout=store.timeout)
    try:
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if current == version:  # another process may have upgraded it while we waited
                migrate(conn, store.codec, str(path))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    except sqlite3.DatabaseError as e:
        raise write_error(path, e) from None
    except StoreError:
        raise
    except (UnicodeDecodeError, ValueError, TypeError) as e:  # rolled back above: the file is as it was
        raise CorruptHost(f"{path}: corrupt host file: {e}") from None
    finally:
        conn.close()
    return None
