"""A simulated host persisted in one SQLite file; each host operation is one transaction.

    store = Store.create(path, codec, host)           # a new file, atomically (never overwrites)
    store = Store(path, codec)                        # an existing file: checked read-only first
    host = store.read()                               # a consistent snapshot, nothing locked
    with store.transaction() as host:                 # BEGIN IMMEDIATE … load, mutate, save … COMMIT
        host.start_vm("web1")                         # an exception rolls everything back

The host is loaded from a compressed JSON snapshot and saved back with the listable rows (VMs, VBDs,
VIFs with stable OpaqueRefs) in the same transaction, so a process killed at any point leaves the last
committed host. WAL mode lets readers (lsevtchn, XenAPI reads) go on while one writer works; writers
serialise on SQLite's write lock, with a "waiting …" notice and a "gave up after …" error.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid as uuidlib
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from evtchn.store.errors import CorruptHost, HostBusy, HostExists, StoreError
from evtchn.store.paths import lock_timeout
from evtchn.store.rows import DeviceRow, HostCodec, HostFacts, VmRow
from evtchn.store.schema import APPLICATION_ID, DDL, SCHEMA_VERSION, check_host_file

H = TypeVar("H")

_VM_COLS = "ref, uuid, name, power_state, domid, vm_type, vcpus, memory_mib, dom0_ports, messages"
_DEV_COLS = "ref, uuid, vm_ref, kind, devid, detail, attached, status_code, status_detail, dom0_ports"

# One lock per host file per process: threads of one server queue here instead of in SQLite's busy
# handler (which sleeps in steps of up to 100 ms).
_process_locks: dict[str, threading.Lock] = {}
_process_locks_guard = threading.Lock()


def _process_lock(path: Path) -> threading.Lock:
    key = os.path.realpath(path)
    with _process_locks_guard:
        return _process_locks.setdefault(key, threading.Lock())


def new_ref() -> str:
    return f"OpaqueRef:{uuidlib.uuid4()}"


def _vm_row(r: tuple[Any, ...]) -> VmRow:
    return VmRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], json.loads(r[9]))


def _dev_row(r: tuple[Any, ...]) -> DeviceRow:
    return DeviceRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), bool(r[6]), r[7], r[8], r[9])


class _Rows:
    """Queries on the listable rows, over whichever connection (inside or outside a transaction)."""

    def _db(self) -> sqlite3.Connection:
        raise NotImplementedError

    def host_meta(self) -> dict[str, str]:
        return dict(self._db().execute("SELECT key, value FROM meta").fetchall())

    def vms(self) -> list[VmRow]:
        return [_vm_row(r) for r in self._db().execute(f"SELECT {_VM_COLS} FROM vms ORDER BY name")]

    def vm(self, *, ref: str | None = None, uuid: str | None = None, name: str | None = None) -> VmRow | None:
        col, value = (
            ("ref", ref) if ref is not None else ("uuid", uuid) if uuid is not None else ("name", name)
        )
        r = self._db().execute(f"SELECT {_VM_COLS} FROM vms WHERE {col} = ?", (value,)).fetchone()
        return None if r is None else _vm_row(r)

    def devices(self, *, vm_ref: str | None = None, kind: str | None = None) -> list[DeviceRow]:
        conds = [c for c, v in (("vm_ref = :vm", vm_ref), ("kind = :kind", kind)) if v is not None]
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        sql = f"SELECT {_DEV_COLS} FROM devices {where} ORDER BY vm_ref, kind, devid"
        rows = self._db().execute(sql, {"vm": vm_ref, "kind": kind})
        return [_dev_row(r) for r in rows]

    def device(self, ref: str, kind: str | None = None) -> DeviceRow | None:
        r = (
            self._db()
            .execute(
                f"SELECT {_DEV_COLS} FROM devices WHERE ref = ? AND (?2 IS NULL OR kind = ?2)", (ref, kind)
            )
            .fetchone()
        )
        return None if r is None else _dev_row(r)


@dataclass
class Txn(_Rows, Generic[H]):
    """One open write transaction: the loaded host, the rows as of its start, and ref assignment."""

    host: H
    conn: sqlite3.Connection

    def _db(self) -> sqlite3.Connection:
        return self.conn

    def ref(self, cls: str, key: str, uuid: str | None = None) -> tuple[str, str]:
        """The (ref, uuid) of object `key` of class `cls`, assigned now if new; kept if it still exists at
        save time."""
        return _ensure_ref(self.conn, cls, key, uuid)


def _ensure_ref(conn: sqlite3.Connection, cls: str, key: str, uuid: str | None = None) -> tuple[str, str]:
    row = conn.execute("SELECT ref, uuid FROM refs WHERE cls = ? AND key = ?", (cls, key)).fetchone()
    if row is not None:
        return row[0], row[1]
    ref, u = new_ref(), uuid or str(uuidlib.uuid4())
    conn.execute("INSERT INTO refs (cls, key, ref, uuid) VALUES (?, ?, ?, ?)", (cls, key, ref, u))
    return ref, u


def _encode_state(state: dict[str, Any]) -> bytes:
    return zlib.compress(json.dumps(state, separators=(",", ":")).encode(), 1)


class Store(_Rows, Generic[H]):
    def __init__(
        self,
        path: str | os.PathLike[str],
        codec: HostCodec[H],
        *,
        timeout: float | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(path)
        check_host_file(self.path)
        self.codec = codec
        self.timeout = lock_timeout(timeout)
        self.on_wait = on_wait
        self._local = threading.local()
        self._lock = _process_lock(self.path)
        self._cache: tuple[int, H] | None = None

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
        then only an evtchn host file of this schema is replaced (inside one transaction)."""
        path = Path(path)
        if path.exists() or path.is_symlink():
            if not replace:
                raise HostExists(f"{path}: a file already exists here (use --force to replace a host file)")
            store = cls(path, codec, timeout=timeout, on_wait=on_wait)
            with store._write() as conn:
                # generations only grow, so no process mistakes the new host for its cached one
                gen = int(conn.execute("SELECT generation FROM snapshot WHERE id = 1").fetchone()[0])
                conn.execute("DELETE FROM devices")
                conn.execute("DELETE FROM vms")
                conn.execute("DELETE FROM refs")
                conn.execute("DELETE FROM meta")
                _init_meta(conn)
                _save(conn, codec, host, generation=gen + 1)
            return store
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"{path}: cannot create directory {path.parent}: {e.strerror}") from None
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            conn = sqlite3.connect(tmp, isolation_level=None)
            try:
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("BEGIN")
                for statement in _statements(DDL):
                    conn.execute(statement)
                _init_meta(conn)
                _save(conn, codec, host, generation=0)
                conn.execute("COMMIT")
            finally:
                conn.close()  # checkpoints and removes the temporary WAL before the file goes live
            os.link(tmp, path)  # atomic and never clobbers: two racing creators cannot both win
        except FileExistsError:
            raise HostExists(
                f"{path}: a file already exists here (use --force to replace a host file)"
            ) from None
        except OSError as e:
            raise StoreError(f"{path}: cannot create host file: {e.strerror}") from None
        finally:
            for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
                leftover.unlink(missing_ok=True)
        return cls(path, codec, timeout=timeout, on_wait=on_wait)

    # ------------------------------------------------------------- connections
    def _db(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, isolation_level=None, timeout=self.timeout)
                conn.execute("PRAGMA synchronous = FULL")
                conn.execute("PRAGMA foreign_keys = ON")
            except sqlite3.DatabaseError as e:
                raise CorruptHost(f"{self.path}: cannot open host file: {e}") from None
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
                    if not _is_busy(e):
                        raise
                    self._notify_wait()
                    remaining = max(0.0, deadline - time.monotonic())
                    conn.execute(f"PRAGMA busy_timeout = {int(remaining * 1000)}")
                    try:
                        conn.execute("BEGIN IMMEDIATE")
                    except sqlite3.OperationalError as e2:
                        if _is_busy(e2):
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
                if isinstance(e, sqlite3.OperationalError) and _is_busy(e):
                    raise self._gave_up() from None
                raise CorruptHost(f"{self.path}: {e}") from None
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
        row = conn.execute("SELECT state FROM snapshot WHERE id = 1").fetchone()
        if row is None:
            raise CorruptHost(f"{self.path}: host file has no host snapshot")
        try:
            state = json.loads(zlib.decompress(row[0]))
            return self.codec.load(state)
        except (zlib.error, ValueError, KeyError, TypeError) as e:
            raise CorruptHost(f"{self.path}: host snapshot cannot be read back: {e}") from None

    def read(self) -> H:
        """The host as last committed. Changes to it are not saved."""
        conn = self._db()
        try:
            conn.execute("BEGIN")
            try:
                return self._load(conn)
            finally:
                conn.execute("COMMIT")
        except sqlite3.DatabaseError as e:
            raise CorruptHost(f"{self.path}: {e}") from None

    @contextmanager
    def snapshot(self) -> Iterator[int]:
        """A consistent read of the rows (one read transaction on this thread); yields the generation."""
        conn = self._db()
        if conn.in_transaction:
            yield self.generation()
            return
        conn.execute("BEGIN")
        try:
            yield self.generation()
        finally:
            conn.execute("COMMIT")

    def generation(self) -> int:
        """How many transactions have committed: changes whenever the host does."""
        row = self._db().execute("SELECT generation FROM snapshot WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    @contextmanager
    def txn(self) -> Iterator[Txn[H]]:
        """One host operation: yields the loaded host and the rows; saves both on success.

        The host object is only valid inside the block. After a commit this process keeps it, and the next
        transaction reuses it if no other process has committed since (same generation): no reload.
        """
        with self._write() as conn:
            gen = int(conn.execute("SELECT generation FROM snapshot WHERE id = 1").fetchone()[0])
            cached, self._cache = self._cache, None
            host = cached[1] if cached is not None and cached[0] == gen else self._load(conn)
            tx: Txn[H] = Txn(host, conn)
            yield tx
            _save(conn, self.codec, tx.host, generation=gen + 1)
        self._cache = (gen + 1, tx.host)  # committed: this object is exactly what the file now holds

    @contextmanager
    def transaction(self) -> Iterator[H]:
        """`with store.transaction() as host:` — saved on success, rolled back on exception."""
        with self.txn() as tx:
            yield tx.host


def _statements(ddl: str) -> list[str]:
    return [s.strip() for s in ddl.split(";") if s.strip()]


def _is_busy(e: sqlite3.OperationalError) -> bool:
    text = str(e)
    return "locked" in text or "busy" in text


def _init_meta(conn: sqlite3.Connection) -> None:
    host_ref, host_uuid = _ensure_ref(conn, "host", "host")
    dom0_ref, dom0_uuid = _ensure_ref(conn, "VM", "dom0")  # the control domain's VM object
    conn.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?)",
        [("format", "evtchn-host"), ("host_ref", host_ref), ("host_uuid", host_uuid),
         ("dom0_ref", dom0_ref), ("dom0_uuid", dom0_uuid)],
    )  # fmt: skip


def _save(conn: sqlite3.Connection, codec: HostCodec[H], host: H, *, generation: int) -> None:
    blob = _encode_state(codec.dump(host))
    conn.execute(
        "INSERT INTO snapshot (id, generation, state) VALUES (1, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET generation = excluded.generation, state = excluded.state",
        (generation, blob),
    )
    _save_rows(conn, codec.facts(host))


def _save_rows(conn: sqlite3.Connection, facts: HostFacts) -> None:
    """Rewrite the listable rows in bulk; refs are kept for objects that still exist, made for new ones."""
    refs = {(c, k): (r, u) for c, k, r, u in conn.execute("SELECT cls, key, ref, uuid FROM refs")}
    fresh: list[tuple[str, str, str, str]] = []

    def ref_of(cls: str, key: str, uuid: str | None = None) -> tuple[str, str]:
        got = refs.get((cls, key))
        if got is None:
            got = refs[(cls, key)] = (new_ref(), uuid or str(uuidlib.uuid4()))
            fresh.append((cls, key, *got))
        return got

    live: set[tuple[str, str]] = {("host", "host"), ("VM", "dom0")}
    vm_rows: list[tuple[Any, ...]] = []
    dev_rows: list[tuple[Any, ...]] = []
    for vm in facts.vms:
        vm_ref, _ = ref_of("VM", vm.uuid, vm.uuid)
        live.add(("VM", vm.uuid))
        vm_rows.append(
            (vm_ref, vm.uuid, vm.name, vm.power_state, vm.domid, vm.vm_type, vm.vcpus, vm.memory_mib,
             vm.dom0_ports, json.dumps(vm.messages))
        )  # fmt: skip
        for d in vm.devices:
            cls, key = d.kind.upper(), f"{vm.uuid}/{d.devid}"
            ref, u = ref_of(cls, key)
            live.add((cls, key))
            dev_rows.append(
                (ref, u, vm_ref, d.kind, d.devid, json.dumps(dict(d.detail)), int(d.attached),
                 d.status_code, d.status_detail, d.dom0_ports)
            )  # fmt: skip
    conn.executemany("INSERT INTO refs (cls, key, ref, uuid) VALUES (?, ?, ?, ?)", fresh)
    conn.executemany("DELETE FROM refs WHERE cls = ? AND key = ?", [k for k in refs if k not in live])
    conn.execute("DELETE FROM devices")
    conn.execute("DELETE FROM vms")
    conn.executemany(f"INSERT INTO vms ({_VM_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", vm_rows)
    conn.executemany(f"INSERT INTO devices ({_DEV_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", dev_rows)
    conn.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [("profile", facts.profile), ("hardware", facts.hardware)]
        + [(f"dom0_{k}", str(v)) for k, v in facts.dom0.items()],
    )
