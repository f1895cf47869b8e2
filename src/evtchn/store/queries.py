"""Reads straight from the rows, without building the host: what `vm list`, `host show`, `lsevtchn N`
and XenAPI reads need, in the time of a few index lookups whatever the host's size.

    store.host_meta()                    # profile, hardware, dom0_ports_used/free, host and dom0 refs
    store.vms(); store.vms_by_name(n)    # VmRow list (names may repeat: every match)
    store.vm(ref=… | uuid=… | name=…)    # one VmRow (by name: the first; use vms_by_name to see them all)
    store.devices(vm_ref=…, kind=…)      # DeviceRow list
    store.domain(domid)                  # one domain's hypervisor state (ports, ABI, vCPUs) or None
    store.objects(cls) / object(ref)     # generic XenAPI objects
    store.events_since(token, classes)   # (events after token, new token); EventsLost if token is too old
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from evtchn.store.connect import BROKEN
from evtchn.store.errors import CorruptHost, EventsLost
from evtchn.store.rows import DeviceRow, Event, ObjectRow, VmRow
from evtchn.store.writer import DEV_COLS, VM_COLS, decode

if TYPE_CHECKING:
    from evtchn.xen.domain import Domain


def _vm_row(r: tuple[Any, ...]) -> VmRow:
    return VmRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], json.loads(r[9]))


def _dev_row(r: tuple[Any, ...]) -> DeviceRow:
    return DeviceRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), bool(r[6]), r[7], r[8], r[9])


def _obj_row(r: tuple[Any, ...]) -> ObjectRow:
    return ObjectRow(r[0], r[1], r[2], r[3], json.loads(r[4]))


class Rows:
    """Queries on the rows, over whichever connection (inside or outside a transaction)."""

    path: Any

    def _db(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _q(self, sql: str, args: Iterable[Any] | dict[str, Any] = ()) -> list[Any]:
        try:
            return self._db().execute(sql, args).fetchall()  # type: ignore[arg-type]
        except BROKEN as e:
            raise CorruptHost(f"{self.path}: corrupt host file: {e}") from None
        except (ValueError, TypeError) as e:
            raise CorruptHost(f"{self.path}: corrupt host file: a row cannot be read: {e}") from None

    def _rows(self, make: Any, sql: str, args: Iterable[Any] | dict[str, Any] = ()) -> list[Any]:
        try:
            return [make(r) for r in self._q(sql, args)]
        except (ValueError, TypeError, IndexError) as e:
            raise CorruptHost(f"{self.path}: corrupt host file: a row cannot be read: {e}") from None

    def _int(self, value: Any, what: str) -> int:
        """A counter read from the file, which must be an integer (a damaged page can put text there)."""
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise CorruptHost(f"{self.path}: corrupt host file: {what} is {value!r:.60}, not an integer")

    def host_meta(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self._q("SELECT key, value FROM meta")}

    def vms(self) -> list[VmRow]:
        return self._rows(_vm_row, f"SELECT {VM_COLS} FROM vms ORDER BY name, uuid")

    def vms_by_name(self, name: str) -> list[VmRow]:
        """Every VM called `name` (names are free text and may repeat, as in xapi)."""
        return self._rows(_vm_row, f"SELECT {VM_COLS} FROM vms WHERE name = ? ORDER BY uuid", (name,))

    def vm(self, *, ref: str | None = None, uuid: str | None = None, name: str | None = None) -> VmRow | None:
        col, value = (
            ("ref", ref) if ref is not None else ("uuid", uuid) if uuid is not None else ("name", name)
        )
        got = self._rows(
            _vm_row, f"SELECT {VM_COLS} FROM vms WHERE {col} = ? ORDER BY uuid LIMIT 1", (value,)
        )
        return got[0] if got else None

    def devices(self, *, vm_ref: str | None = None, kind: str | None = None) -> list[DeviceRow]:
        conds = [c for c, v in (("vm_ref = :vm", vm_ref), ("kind = :kind", kind)) if v is not None]
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        sql = f"SELECT {DEV_COLS} FROM devices {where} ORDER BY vm_ref, kind, devid"
        return self._rows(_dev_row, sql, {"vm": vm_ref, "kind": kind})

    def device(self, ref: str, kind: str | None = None) -> DeviceRow | None:
        sql = f"SELECT {DEV_COLS} FROM devices WHERE ref = ? AND (?2 IS NULL OR kind = ?2)"
        got = self._rows(_dev_row, sql, (ref, kind))
        return got[0] if got else None

    def domain(self, domid: int) -> Domain | None:
        """One domain as the hypervisor holds it (what `lsevtchn N` prints), from its part alone."""
        from evtchn.store.verify import check_domain
        from evtchn.xen.snapshot import SnapshotError, _load_domain

        got = self._q("SELECT data FROM parts WHERE kind = 'dom' AND key = ?", (str(domid),))
        if not got:
            return None
        try:
            part = decode(got[0][0])
            if "domain" in part:
                domain = _load_domain(part["domain"])
            else:
                domain = self._domain_by_bucket(domid, part["record"])
            check_domain(domain, consumers=255)  # one domain alone: its peers are not loaded
            return domain
        except (SnapshotError, ValueError, KeyError, TypeError, IndexError) as e:
            raise CorruptHost(f"{self.path}: corrupt host file: domain {domid} cannot be read: {e}") from None

    def _domain_by_bucket(self, domid: int, record: dict[str, Any]) -> Domain:
        """Rebuild one domain from its record and its 64-port buckets (xen/delta.py's export)."""
        import importlib

        from evtchn.xen import Hypervisor, HypervisorSettings

        head = decode(self._q("SELECT data FROM parts WHERE kind = 'host' AND key = ''")[0][0])["hv"]
        st = head["settings"]
        hv: Any = Hypervisor(
            HypervisorSettings(
                xen_version=(int(st["xen_version"][0]), int(st["xen_version"][1])),
                fifo_compiled=bool(st["fifo_compiled"]),
            )
        )
        lo, hi = f"{domid}/", f"{domid}0"
        sql = "SELECT key, data FROM parts WHERE kind = 'bkt' AND key >= ? AND key < ?"
        buckets = {str(k).partition("/")[2]: decode(v) for k, v in self._q(sql, (lo, hi))}
        hv.apply_export({
            "version": importlib.import_module("evtchn.xen.delta").DELTA_VERSION,
            "globals": {k: v for k, v in head.items() if k != "version"},
            "destroyed": [],
            "domains": [{"domid": domid, "record": record, "buckets": buckets}],
        })  # fmt: skip
        domain: Domain = hv.domains[domid]
        return domain

    def objects(self, cls: str | None = None) -> list[ObjectRow]:
        sql = (
            "SELECT ref, cls, uuid, name_label, record FROM objects WHERE ?1 IS NULL OR cls = ?1 ORDER BY ref"
        )
        return self._rows(_obj_row, sql, (cls,))

    def object(self, ref: str) -> ObjectRow | None:
        got = self._rows(
            _obj_row, "SELECT ref, cls, uuid, name_label, record FROM objects WHERE ref = ?", (ref,)
        )
        return got[0] if got else None

    def last_event(self) -> int:
        """The newest event id: the token that means "from now on"."""
        got = self._q("SELECT seq FROM sqlite_sequence WHERE name = 'events'")
        return self._int(got[0][0], "the last event id") if got else 0

    def events_since(self, token: int, classes: Iterable[str] | None = None) -> tuple[list[Event], int]:
        """Events after `token` (oldest first) of these classes (None or "*": all) and the new token.
        EventsLost if events after `token` were already dropped (the table keeps the newest EVENTS_KEPT)."""
        wanted = None if classes is None else {c.lower() for c in classes}
        if wanted is not None and "*" in wanted:
            wanted = None
        first = self._q("SELECT min(id) FROM events")[0][0]
        last = self.last_event()
        if first is not None:
            first = self._int(first, "the first event id")
        if token < last and (first is None or token < first - 1):
            raise EventsLost(f"{self.path}: events after token {token} were dropped; start again from now")
        rows = self._q(
            "SELECT id, cls, ref, operation, snapshot, ts FROM events WHERE id > ? ORDER BY id", (token,)
        )
        out: list[Event] = []
        try:
            for r in rows:
                if wanted is None or str(r[1]).lower() in wanted:
                    out.append(Event(int(r[0]), r[1], r[2], r[3], json.loads(r[4]), float(r[5])))
        except (ValueError, TypeError) as e:
            raise CorruptHost(f"{self.path}: corrupt host file: an event cannot be read: {e}") from None
        return out, max(token, int(rows[-1][0]) if rows else last)


def part_rows(conn: sqlite3.Connection, load_order: tuple[str, ...] | None) -> Iterator[Any]:
    """(kind, key, data) of every part: in rowid order, or kind by kind in a codec's load order (each kind
    in rowid order, then any other kind): a table scan per kind costs less than sorting ~100 000 rows."""
    if load_order is None:
        yield from conn.execute("SELECT kind, key, data FROM parts ORDER BY rowid")
        return
    sql = "SELECT kind, key, data FROM parts NOT INDEXED WHERE kind = ? ORDER BY rowid"
    for kind in load_order:
        yield from conn.execute(sql, (kind,))
    marks = ", ".join("?" * len(load_order))
    sql = f"SELECT kind, key, data FROM parts WHERE kind NOT IN ({marks}) ORDER BY rowid"
    yield from conn.execute(sql, load_order)
