"""XenAPI events (xen-api: ocaml/xapi/xapi_event.ml): event.from with tokens, and the older
event.register / unregister / next.

    feed = EventFeed(source)                      # source: an EventSource
    feed.since(classes, token, timeout)           # {"events": [...], "valid_ref_counts": {}, "token": t}

An event is {id, timestamp, class, operation ("add" | "mod" | "del"), ref, obj_uuid, snapshot}: the record
as it is after the change (for "del", as it was last). `event.from` with token "" answers every current
object of the classes as "add" and a token; later calls answer what changed after that token, in order,
each change once, waiting up to `timeout` seconds when nothing has. Classes are names ("VM", "vm") or "*".

`EventSource` is the seam to the store: `events_since(token, classes) -> (events, new_token)` and
`wait_for_change(timeout)`. `HostEventSource` implements it from the store's `events` table: every commit,
by any process, appends one row per VM / VBD / VIF / generic object (message, ...) it created, modified or
deleted, and one per XenAPI overlay row it wrote (api/overlay.py; coalesced with the object's own row of the
same commit), and each row becomes one event here, in commit order, even when another process made several
changes to one object between two looks. The snapshot is the object's XenAPI record as of the look that
delivers it (xapi's event.from also sends the record as it is when the events are collected). Objects the
store has no rows for (tasks, which live in this server; derived ones: VM_metrics, consoles, guest
metrics; fields kept in the API overlay) still come from comparing the view before and after.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from evtchn.api.errors import ApiFailure
from evtchn.api.overlay import MARK
from evtchn.api.world import CLASSES, World

LOG_LIMIT = 100_000  # events kept; a token older than the oldest is EVENTS_LOST
POLL = 0.02  # seconds between looks at the host file while a caller waits (other processes' commits)
MAX_TIMEOUT = 600.0
_LOWER = {c.lower(): c for c in CLASSES}


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    cls: str
    ref: str
    operation: str
    snapshot: dict[str, Any]
    timestamp: str

    def wire(self) -> dict[str, Any]:
        return {
            "id": str(self.id), "timestamp": self.timestamp, "class": self.cls.lower(),
            "operation": self.operation, "ref": self.ref, "obj_uuid": self.snapshot.get("uuid", ""),
            "snapshot": self.snapshot,
        }  # fmt: skip


class EventSource(Protocol):
    def events_since(self, token: int, classes: frozenset[str]) -> tuple[list[Event], int]: ...

    def mark(self) -> Any: ...

    def wait_for_change(self, timeout: float, since: Any) -> bool: ...

    def current(self, classes: frozenset[str]) -> tuple[list[Event], int]: ...


Change = tuple[str, str, str, dict[str, Any]]  # (class, ref, operation, the store's row snapshot)
# The store's class names -> XenAPI's (a device row's class is its kind, upper-cased).
_STORE_CLASS = {c.lower(): c for c in CLASSES}


class HostEventSource:
    """Events from the store's events table (one per committed change), plus the difference between
    successive views for what the store does not log (tasks, derived objects)."""

    def __init__(
        self,
        read: Callable[[int | None], tuple[World, list[Change], int]],
        version: Callable[[], Any],
        changed: threading.Condition,
    ) -> None:
        self._read = read  # (store token or None) -> (view, store changes after it, new store token)
        self._version = version
        self._changed = changed
        self._lock = threading.Lock()
        self._log: list[Event] = []
        self._next_id = 1
        self._seen: World | None = None
        self._store_token: int | None = None

    def after_commit(self) -> None:
        """A commit of this server: looked at now only once a client has read events (the first look
        sets the baseline). Before that nobody can be told about the change, so a write on a large host
        does not pay for a view of every object (issue 14)."""
        if self._seen is not None:
            self.refresh()

    def refresh(self) -> None:
        """Look at the host now: what changed since the last look becomes events."""
        with self._lock:
            if self._seen is not None and self._version() == self._seen.key:
                return
            new, changes, self._store_token = self._read(self._store_token)
            old = self._seen
            self._seen = new
            if old is None or old.key == new.key:
                return
            stamp = _stamp()
            logged: set[tuple[str, str]] = set()
            final = {(c[0].lower(), c[1]): n for n, c in enumerate(changes)}  # each object's last row
            for n, (store_cls, ref, op, row) in enumerate(changes):
                cls = _STORE_CLASS.get(store_cls.lower())
                if cls is None:
                    continue
                logged.add((cls, ref))
                rec = new.objects[cls].get(ref)
                if row.get(MARK) and (rec is None or final[(store_cls.lower(), ref)] > n):
                    continue  # an overlay row its own object's row follows (same commit), or of a gone one
                if op == "del" or rec is None:
                    last = old.objects[cls].get(ref) or {"uuid": str(row.get("uuid", ""))}
                    self._append(cls, ref, "del" if op == "del" else op, last, stamp)
                else:
                    self._append(cls, ref, op, rec, stamp)
            for cls in CLASSES:
                before, after = old.objects[cls], new.objects[cls]
                for ref, rec in after.items():
                    if (cls, ref) in logged:
                        continue
                    prev = before.get(ref)
                    if prev is None:
                        self._append(cls, ref, "add", rec, stamp)
                    elif prev is not rec and prev != rec:  # a reused record (world.py) is unchanged
                        self._append(cls, ref, "mod", rec, stamp)
                for ref, rec in before.items():
                    if ref not in after and (cls, ref) not in logged:
                        self._append(cls, ref, "del", rec, stamp)
            if len(self._log) > LOG_LIMIT:
                del self._log[: len(self._log) - LOG_LIMIT]

    def _append(self, cls: str, ref: str, op: str, rec: dict[str, Any], stamp: str) -> None:
        self._log.append(Event(self._next_id, cls, ref, op, rec, stamp))
        self._next_id += 1

    def events_since(self, token: int, classes: frozenset[str]) -> tuple[list[Event], int]:
        self.refresh()
        with self._lock:
            if self._log and token < self._log[0].id - 1:
                raise ApiFailure("EVENTS_LOST")
            out = [e for e in self._log if e.id > token and ("*" in classes or e.cls in classes)]
            return out, self._next_id - 1

    def current(self, classes: frozenset[str]) -> tuple[list[Event], int]:
        self.refresh()
        with self._lock:
            w, last = self._seen, self._next_id - 1
        assert w is not None
        stamp = _stamp()
        out = [
            Event(last, cls, ref, "add", rec, stamp)
            for cls in CLASSES
            if "*" in classes or cls in classes
            for ref, rec in w.objects[cls].items()
        ]
        return out, last

    def mark(self) -> Any:
        """Where the host file and the task table are now: taken by a waiter BEFORE it looks for events."""
        return self._version()

    def wait_for_change(self, timeout: float, since: Any) -> bool:
        """Wait until the host file or the task table is past `since` (a mark), or timeout; True if it is.
        A change that lands between a caller's look and its wait is past the mark taken before the look,
        so the wait returns at once instead of sleeping the whole timeout with the event already logged."""
        start = since
        deadline = time.monotonic() + timeout
        while True:
            if self._version() != start:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with self._changed:
                self._changed.wait(min(POLL, left))


def _stamp() -> str:
    return time.strftime("%Y%m%dT%H:%M:%SZ", time.gmtime())


def parse_classes(value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise ApiFailure("FIELD_TYPE_ERROR", "classes")
    out = set()
    for c in value:
        if c == "*":
            out.add("*")
            continue
        name = c.split("/", 1)[0]  # "VM/OpaqueRef:…" subscribes to one object: served as its class
        if name.lower() not in _LOWER:
            raise ApiFailure("EVENT_SUBSCRIPTION_PARSE_FAILURE", c)
        out.add(_LOWER[name.lower()])
    return frozenset(out)


def _timeout(value: Any) -> float:
    try:
        t = float(value)
    except (TypeError, ValueError):
        raise ApiFailure("FIELD_TYPE_ERROR", "timeout") from None
    if t != t:  # NaN
        raise ApiFailure("FIELD_TYPE_ERROR", "timeout")
    return max(0.0, min(t, MAX_TIMEOUT))


class EventFeed:
    def __init__(self, source: EventSource) -> None:
        self.source = source
        self._subs: dict[str, tuple[frozenset[str], int]] = {}
        self._lock = threading.Lock()

    def event_from(self, classes: Any, token: Any, timeout: Any) -> dict[str, Any]:
        wanted = parse_classes(classes)
        wait = _timeout(timeout)
        if not isinstance(token, str):
            raise ApiFailure("FIELD_TYPE_ERROR", "token")
        if token == "":
            events, last = self.source.current(wanted)
            return _answer(events, last)
        try:
            since = int(token)
        except ValueError:
            raise ApiFailure("EVENT_FROM_TOKEN_PARSE_FAILURE", token) from None
        deadline = time.monotonic() + wait
        while True:
            mark = self.source.mark()  # before the look: a commit after it ends the wait below at once
            events, last = self.source.events_since(since, wanted)
            left = deadline - time.monotonic()
            if events or left <= 0:
                return _answer(events, max(last, since))
            self.source.wait_for_change(left, mark)

    def register(self, session: str, classes: Any) -> str:
        wanted = parse_classes(classes)
        _, last = self.source.events_since(1 << 62, frozenset())
        with self._lock:
            old = self._subs.get(session)
            self._subs[session] = (wanted | (old[0] if old else frozenset()), old[1] if old else last)
        return ""

    def unregister(self, session: str, classes: Any) -> str:
        gone = parse_classes(classes)
        with self._lock:
            old = self._subs.get(session)
            if old is not None:
                self._subs[session] = (old[0] - gone, old[1])
        return ""

    def next(self, session: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The registered classes' events since the last call; waits for one (xapi blocks until one)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                sub = self._subs.get(session)
            if sub is None:
                raise ApiFailure("SESSION_NOT_REGISTERED", session)
            mark = self.source.mark()
            events, last = self.source.events_since(sub[1], sub[0])
            if events or time.monotonic() >= deadline:
                with self._lock:
                    if session in self._subs:
                        self._subs[session] = (self._subs[session][0], last)
                return [e.wire() for e in events]
            self.source.wait_for_change(deadline - time.monotonic(), mark)

    def forget(self, sessions: Iterable[str]) -> None:
        with self._lock:
            for s in sessions:
                self._subs.pop(s, None)


def _answer(events: list[Event], token: int) -> dict[str, Any]:
    return {"events": [e.wire() for e in events], "valid_ref_counts": {}, "token": f"{token:020d}"}
