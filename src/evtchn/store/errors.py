"""What can go wrong opening or using a host file; every message is one line naming the file.

try:
    store = open_store(path)
except StoreError as e:
    fail(e.message)
"""

from __future__ import annotations

import re

# SQLite quotes the whole undecodable value (any length, any bytes) in this error: say what it means.
_NOT_UTF8 = re.compile(r"Could not decode to UTF-8 column '([^']*)' with text .*", re.DOTALL)
# ... and Python's, when an SQLite message itself quotes such bytes (a damaged schema entry's name)
_CODEC = re.compile(r"'utf-8' codec can't decode .*", re.DOTALL)
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(32), 127)} | {10: "\\n", 13: "\\r", 9: "\\t"}
MAX_REASON = 300  # characters of a corrupt file's own text kept in a message


class StoreError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NoHostFile(StoreError):
    """The path does not exist (yet): `evtchn host create` makes one."""


class NotAHostFile(StoreError):
    """The file exists but is not an evtchn host database; it is left untouched."""


class UnknownSchema(StoreError):
    """An evtchn host file written by a version with another schema; it is left untouched."""


class HostExists(StoreError):
    """`host create` would overwrite an existing file."""


class HostBusy(StoreError):
    """Another process held the host file for longer than the lock timeout."""


class CorruptHost(StoreError):
    """The file has the right header but its contents cannot be read back.

    The message is always one line: text quoted from the damaged file (a row, an SQLite error quoting a
    value) has its control characters escaped and is cut at MAX_REASON characters (issue 15).
    """

    def __init__(self, message: str) -> None:
        text = _NOT_UTF8.sub(r"column '\1' holds text that is not valid UTF-8", message)
        text = _CODEC.sub("it holds text that is not valid UTF-8", text)
        text = text.translate(_CONTROL)
        head, sep, reason = text.partition(": corrupt host file: ")
        if len(reason) > MAX_REASON:
            text = f"{head}{sep}{reason[:MAX_REASON]}…"
        super().__init__(text)


class ReadOnlyHost(StoreError):
    """A write to a host file this process may read but not write (file mode, read-only mount)."""


class NoSpace(StoreError):
    """The disk filled during a write; the transaction was rolled back and the file holds the last host."""


class EventsLost(StoreError):
    """A token older than the events the file still keeps (xapi: EVENTS_LOST)."""
