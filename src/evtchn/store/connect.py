"""Opening and preparing host-file connections, and what SQLite's errors mean to a user.

init_file(conn)                 # a new file: application_id, user_version, WAL, the tables
open_read_only(path, timeout)   # never writes, even its WAL index (read-only directory or mount)
write_error(path, e)            # "no space left on device" / "read-only" / "corrupt host file"
"""

from __future__ import annotations

import gc
import sqlite3
import time
from pathlib import Path

from evtchn.store.errors import CorruptHost, NoSpace, ReadOnlyHost, StoreError
from evtchn.store.schema import APPLICATION_ID, DDL, SCHEMA_VERSION

# What reading a damaged file raises: SQLite's errors, and UnicodeDecodeError when SQLite's own message
# quotes bytes of the file that are not UTF-8 (a schema entry hit by a bit flip).
BROKEN = (sqlite3.DatabaseError, UnicodeDecodeError)


def is_busy(e: sqlite3.OperationalError) -> bool:
    text = str(e)
    return "locked" in text or "busy" in text


def statements(ddl: str) -> list[str]:
    return [s.strip() for s in ddl.split(";") if s.strip()]


def _malloc_trim() -> None:
    """glibc's malloc_trim(0): free pages of malloc's heap go back to the OS (nothing without glibc)."""
    try:
        import ctypes

        trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    except OSError:
        return
    if trim is not None:
        trim(0)


def give_back_memory() -> None:
    """After a full load, hand the decoded parts' memory back to the OS (glibc keeps freed heap pages
    otherwise): a server holding a large host stays near the size of the host itself."""
    gc.collect()
    _malloc_trim()


_TRIM_EVERY = 1.0  # seconds
_last_trim = [0.0]


def trim_now_and_then() -> None:
    """malloc_trim(0) after a commit, at most once a second (it costs ~0.1 ms): what a long-running
    server freed since, such as the XenAPI view of the previous generation (its large dicts and lists
    live in malloc's heap, not in pymalloc's arenas), goes back to the OS instead of staying resident.
    Measured on `evtchn serve` with a 1 000-VM host after bench_api_scale's runs: ~105 -> ~95 MB."""
    now = time.monotonic()
    if now - _last_trim[0] >= _TRIM_EVERY:
        _last_trim[0] = now
        _malloc_trim()


# SQLite's page cache per connection (SQLite's default is 2 000 KiB). Each thread of a server has its own
# connection, and a cache only helps until another connection commits (every transaction of `evtchn
# serve` then starts cold), so a small one loses nothing and a pool of 16 workers no longer keeps up to
# 32 MB of pages (docs/store.md, "Memory").
CACHE_KIB = 512

_M_ARENA_MAX = -8  # mallopt(3) parameter number (glibc malloc.h)


def one_malloc_arena() -> bool:
    """Make every thread of this process allocate from glibc's main malloc arena; call it before the
    threads start. glibc otherwise gives each thread that mallocs while another holds the arena lock an
    arena of its own (up to 8 per core), and memory freed in one is never reused by another: `evtchn
    serve`'s workers, each decoding rows and running SQLite, grew its RSS by ~20 MB on a 1 000-VM host
    (docs/store.md, "Memory"). The threads mostly hold the GIL, so they rarely contend for the one arena.
    False where there is no glibc (nothing to do)."""
    try:
        import ctypes

        mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    except OSError:
        return False
    if mallopt is None:
        return False
    return bool(mallopt(_M_ARENA_MAX, 1))


def init_file(conn: sqlite3.Connection) -> None:
    """Mark a new, empty database as a host file of this schema and create the tables."""
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("BEGIN")
    for statement in statements(DDL):
        conn.execute(statement)
    conn.execute("COMMIT")


def open_read_only(path: Path, timeout: float) -> sqlite3.Connection:
    """A connection that never writes: mode=ro, or immutable=1 where SQLite cannot even make its WAL index
    (a read-only directory or mount, where no other process can be writing either)."""
    uri = f"file:{path.resolve().as_posix()}"
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None, timeout=timeout)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
    return sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None, timeout=timeout)


def write_error(path: Path, e: sqlite3.DatabaseError) -> StoreError:
    text = str(e)
    if "full" in text:
        return NoSpace(f"{path}: no space left on device; the host file still holds the previous host")
    if "readonly" in text or "read-only" in text:
        return ReadOnlyHost(f"{path}: the host file is read-only here; this command changes the host")
    return CorruptHost(f"{path}: corrupt host file: {text}")
