"""What can go wrong opening or using a host file; every message is one line naming the file.

try:
    store = open_store(path)
except StoreError as e:
    fail(e.message)
"""

from __future__ import annotations


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
    """The file has the right header but its contents cannot be read back."""


class ReadOnlyHost(StoreError):
    """A write to a host file this process may read but not write (file mode, read-only mount)."""


class NoSpace(StoreError):
    """The disk filled during a write; the transaction was rolled back and the file holds the last host."""


class EventsLost(StoreError):
    """A token older than the events the file still keeps (xapi: EVENTS_LOST)."""
