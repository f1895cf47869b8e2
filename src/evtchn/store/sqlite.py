"""A simulated host persisted in one SQLite file; each host operation is one transaction.

    store = Store.create(path, codec, host)           # a new file, atomically (never overwrites)
    store = Store(path, codec)                        # an existing file: checked read-only first
    host = store.read()                               # a consistent snapshot, nothing locked
    with store.transaction() as host:                 # BEGIN IMMEDIATE … load, mutate, save … COMMIT
        host.start_vm("web1")                         # an exception rolls everything back

The host is kept as parts (a domain, a VM record, a xenstore node each) beside the listable rows (VMs,
VBDs, VIFs with stable OpaqueRefs), the generic XenAPI objects and the events table. A transaction
reuses this process's host object while no other process has committed (same generation) and writes back
only the parts and rows the operation changed, all in one SQLite transaction, so a process killed at any
point leaves the last committed host. WAL mode lets readers (lsevtchn, XenAPI reads) go on while one
writer works; writers serialise on SQLite's write lock, with a "waiting …" notice and a "gave up after …"
error. See docs/store.md.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from evtchn.store import connect, writer
from evtchn.store.connect import BROKEN, give_back_memory, init_file, is_busy, open_read_only, write_error
from evtchn.store.errors import CorruptHost, HostBusy, HostExists, ReadOnlyHost, StoreError
from evtchn.store.paths import lock_timeout
from evtchn.store.queries import Rows, part_rows
from evtchn.store.rows import Event, HostCodec
from evtchn.store.schema import SCHEMA_VERSION, check_host_file
from evtchn.store.writer import new_ref

H = TypeVar("H")

__all__ = ["Store", "Txn", "new_ref"]

# One lock per host file per process: threads of one server queue here instead of in SQLite's busy
# handler (which sleeps in steps of up to 100 ms).
_process_locks: dict[str, threading.Lock] = {}
_process_locks_guard = threading.Lock()


def _process_lock(path: Path) -> threading.Lock:
    key = os.path.realpath(path)
    with _process_locks_guard:
        return _process_locks.setdefault(key, threading.Lock())


@dataclass
class Txn(Rows, Generic[H]):
    """One open write transaction: the loaded host, the rows as of its start, refs and generic objects."""

    host: H
    conn: sqlite3.Connection
    path: Any = None

    def _db(self) -> sqlite3.Connection:
        return self.conn

    def ref(self, cls: str, key: str, uuid: str | None = None) -> tuple[str, str]:
        """The (ref, uuid) of object `key` of class `cls`, assigned now if new."""
        return writer.ensure_ref(self.conn, cls, key, uuid)

    def put_object(
        self, cls: str, record: dict[str, Any], *, ref: str | None = None, uuid: str | None = None,
        name_label: str = "",
    ) -> str:  # fmt: skip
        """Create or replace a generic XenAPI object (an event "add"/"mod" in this transaction)."""
        return writer.put_object(self.conn, cls, ref, uuid, name_label, record)

    def delete_object(self, ref: str) -> bool:
        """Delete a generic object (an event "del"); False if there was none."""
        return writer.delete_object(self.conn, ref)


class _Bad(Exception):
    """A part that cannot be read while loading (becomes CorruptHost)."""


class Store(Rows, Generic[H]):
    def __init__(
        self,
        path: str | os.PathLike[str],
        codec: HostCodec[H],
        *,
        timeout: float | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(path)
        version = check_host_file(self.path)
        self.codec = codec
        self.timeout = lock_timeout(timeout)
        self.on_wait = on_wait
        self._local = threading.local()
        self._lock = _process_lock(self.path)
        self._cache: tuple[int, H] | None = None
        self.read_only = not os.access(self.path, os.W_OK) or not os.access(self.path.parent or ".", os.W_OK)
        self._memory: sqlite3.Connection | None = None
        if version != SCHEMA_VERSION:
            from evtchn.store.upgrade import upgrade

            self._memory = upgrade(self, version)

    # ----------------------------------------------------------------- creation
    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        codec: HostCodec[H],
        host: H,
        *,
        replace: bool = False,
        timeout: float | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> Store[H]:
        """Write a new host file holding `host`. An existing file is an error unless `replace`, and even
        then only an evtchn host file is replaced (inside one transaction)."""
        path = Path(path)
        if path.exists() or path.is_symlink():
            if not replace:
                raise HostExists(f"{path}: a file already exists here (use --force to replace a host file)")
            store = cls(path, codec, timeout=timeout, on_wait=on_wait)
            with store._write() as conn:
                # generations only grow, so no process mistakes the new host for its cached one
                for table in ("parts", "devices", "vms", "refs", "meta", "objects"):
                    conn.execute(f"DELETE FROM {table}")  # events stay: tokens keep meaning "after this"
                writer.init_meta(conn)
                writer.write_all(conn, codec, host)
                writer.bump_generation(conn)
            return store
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"{path}: cannot create directory {path.parent}: {e.strerror}") from None
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            conn = sqlite3.connect(tmp, isolation_level=None)
            try:
                init_file(conn)
                conn.execute("BEGIN")
                writer.init_meta(conn)
                writer.write_all(conn, codec, host)
                conn.execute("COMMIT")
            finally:
                conn.close()  # checkpoints and removes the temporary WAL before the file goes live
            os.link(tmp, path)  # atomic and never clobbers: two racing creators cannot both win
        except FileExistsError:
            raise HostExists(
                f"{path}: a file already exists here (use --force to replace a host file)"
            ) from None
        except sqlite3.DatabaseError as e:
            raise write_error(path, e) from None
        except OSError as e:
            raise StoreError(f"{path}: cannot create host file: {e.strerror}") from None
        finally:
            for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
                leftover.unlink(missing_ok=True)
        return cls(path, codec, timeout=timeout, on_wait=on_wait)

    # ------------------------------------------------------------- connections
    def _db(self) -> sqlite3.Connection:
        if self._memory is not None:
            return self._memory
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                if self.read_only:
                    conn = open_read_only(self.path, self.timeout)
                else:
                    conn = sqlite3.connect(self.path, isolation_level=None, timeout=self.timeout)
                    conn.execute("PRAGMA synchronous = FULL")
                    conn.execute("PRAGMA foreign_keys = ON")
                conn.execute(f"PRAGMA cache_size = -{connect.CACHE_KIB}")
            except BROKEN as e:
                raise CorruptHost(f"{self.path}: corrupt host file: cannot open host file: {e}") from None
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """Hold this process's lock for the file and SQLite's write lock (BEGIN IMMEDIATE)."""
        if self.read_only or self._memory is not None:
            raise ReadOnlyHost(f"{self.path}: the host file is read-only here; this command changes the host")
        deadline = time.monotonic() + self.timeout
        # another thread of this process: not worth a "waiting for another process" line (issue 14)
        if not self._lock.acquire(timeout=self.timeout):
            raise self._gave_up()
        try:
            conn = self._db()
            try:
                conn.execute("PRAGMA busy_timeout = 0")
                try:
                    conn.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as e:
                    if not is_busy(e):
                        raise
                    self._notify_wait()
                    remaining = max(0.0, deadline - time.monotonic())
                    conn.execute(f"PRAGMA busy_timeout = {int(remaining * 1000)}")
                    try:
                        conn.execute("BEGIN IMMEDIATE")
                    except sqlite3.OperationalError as e2:
                        if is_busy(e2):
                            raise self._gave_up() from None
                        raise
                finally:
                    conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.DatabaseError as e:
                if isinstance(e, sqlite3.OperationalError) and is_busy(e):
                    raise self._gave_up() from None
                raise write_error(self.path, e) from None
            except UnicodeDecodeError as e:  # SQLite's message quoting damaged bytes (connect.BROKEN)
                raise CorruptHost(f"{self.path}: corrupt host file: {e}") from None
            except OverflowError as e:  # an integer past SQLite's 64 bits (issue 15): rolled back above
                text = f"{self.path}: a value is too large for the host file ({e}); nothing changed"
                raise StoreError(text) from None
        finally:
            self._lock.release()

    def _notify_wait(self) -> None:
        if self.on_wait is not None:
            self.on_wait(f"waiting for another process using host file {self.path} (up to {self.timeout:g}s)")

    def _gave_up(self) -> HostBusy:
        return HostBusy(
            f"{self.path}: gave up after {self.timeout:g}s waiting for another process using this host file "
            "(set --wait or $EVTCHN_LOCK_TIMEOUT to wait longer)"
        )

    # ------------------------------------------------------------ host access
    def _load(self, conn: sqlite3.Connection) -> H:
        bad = f"{self.path}: corrupt host file"
        try:
            vm_rows = conn.execute("SELECT uuid, messages FROM vms").fetchall()
            dev_rows = conn.execute("SELECT ref, detail FROM devices").fetchall()
            listed = {str(r[0]) for r in vm_rows}
        except BROKEN as e:
            raise CorruptHost(f"{bad}: {e}") from None
        for what, rows_ in (("VM", vm_rows), ("device", dev_rows)):
            for key, text in rows_:  # the rows `vm list` prints must read back too
                try:
                    json.loads(text)
                except (ValueError, TypeError) as e:
                    raise CorruptHost(f"{bad}: the {what} row {key} cannot be read: {e}") from None
        del vm_rows, dev_rows
        seen = [0]

        def parts() -> Iterator[tuple[str, str, Any]]:
            """Decoded one at a time, so a large host is never held as bytes and objects at once."""
            try:
                for kind, key, data in part_rows(conn, getattr(self.codec, "load_order", None)):
                    seen[0] += 1
                    try:
                        yield str(kind), str(key), writer.decode(data)
                    except (ValueError, TypeError, zlib.error) as e:
                        raise _Bad(f"part {kind} {key} cannot be decoded: {e}") from None
            except BROKEN as e:
                raise _Bad(str(e)) from None

        try:
            host = self.codec.assemble(parts())
        except _Bad as e:
            raise CorruptHost(f"{bad}: {e}") from None
        except Exception as e:  # the toolstack's, the hypervisor's and the codec's own checks
            if not seen[0]:
                raise CorruptHost(f"{bad}: it holds no host") from None
            text = getattr(e, "message", None) or f"{type(e).__name__}: {e}"
            raise CorruptHost(f"{bad}: the host cannot be rebuilt: {text}") from None
        give_back_memory()
        held = self.codec.vm_uuids(host)
        if held != listed:
            odd = sorted(held ^ listed)[0]
            raise CorruptHost(f"{bad}: the VM rows disagree with the VM records (VM {odd})")
        return host

    def read(self) -> H:
        """The host as last committed. Changes to it are not saved."""
        conn = self._db()
        try:
            conn.execute("BEGIN")
            host = self._load(conn)
            conn.execute("COMMIT")
            return host
        except BROKEN as e:
            raise CorruptHost(f"{self.path}: corrupt host file: {e}") from None
        finally:
            self._end_read(conn)

    @contextmanager
    def snapshot(self) -> Iterator[int]:
        """A consistent read of the rows (one read transaction on this thread); yields the generation."""
        conn = self._db()
        if conn.in_transaction:
            yield self.generation()
            return
        try:
            conn.execute("BEGIN")
        except BROKEN as e:
            raise CorruptHost(f"{self.path}: corrupt host file: {e}") from None
        try:
            yield self.generation()
        except BaseException:
            self._end_read(conn)  # the body's error is the one to report, not a second one from here
            raise
        try:
            conn.execute("COMMIT")
        except BROKEN as e:  # a read transaction that SQLite cannot even end: damaged pages
            self._end_read(conn)
            raise CorruptHost(f"{self.path}: corrupt host file: {e}") from None

    @staticmethod
    def _end_read(conn: sqlite3.Connection) -> None:
        """End a read transaction after an error, whatever state the file is in."""
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except BROKEN:
            pass

    def generation(self) -> int:
        """How many transactions have committed: changes whenever the host does."""
        got = self._q("SELECT n FROM generation WHERE id = 1")
        if not got:
            raise CorruptHost(f"{self.path}: corrupt host file: no generation counter")
        return self._int(got[0][0], "the generation counter")

    def wait_events(
        self, token: int, classes: list[str] | None = None, timeout: float = 30.0
    ) -> tuple[list[Event], int]:
        """events_since(), waiting up to `timeout` seconds for one to arrive (from any process): polls
        the generation, 5 ms at first, backing off to 200 ms."""
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            events, new = self.events_since(token, classes)
            if events or time.monotonic() >= deadline:
                return events, new
            gen = self.generation()
            while self.generation() == gen and time.monotonic() < deadline:
                time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                delay = min(delay * 2, 0.2)
            token = new

    @contextmanager
    def txn(self) -> Iterator[Txn[H]]:
        """One host operation: yields the host and the rows; writes what changed on success.

        The host object is only valid inside the block. After a commit this process keeps it, and the next
        transaction reuses it if no other process has committed since (same generation): no reload.
        """
        with self._write() as conn:
            row = conn.execute("SELECT n FROM generation WHERE id = 1").fetchone()
            if row is None:
                raise CorruptHost(f"{self.path}: corrupt host file: no generation counter")
            gen = self._int(row[0], "the generation counter")
            cached, self._cache = self._cache, None
            host = cached[1] if cached is not None and cached[0] == gen else self._load(conn)
            tx: Txn[H] = Txn(host, conn, self.path)
            yield tx
            writer.write_changes(conn, self.codec, tx.host)
            new = writer.bump_generation(conn)
        self._cache = (new, tx.host)  # committed: this object is exactly what the file now holds
        connect.trim_now_and_then()

    @contextmanager
    def transaction(self) -> Iterator[H]:
        """`with store.transaction() as host:` — saved on success, rolled back on exception."""
        with self.txn() as tx:
            yield tx.host
