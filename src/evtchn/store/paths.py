"""Where the host file lives: `--host FILE`, else `$EVTCHN_HOST`, else the default under XDG_DATA_HOME.

resolve_path(None)            # -> Path("~/.local/share/evtchn/host.db") unless EVTCHN_HOST is set
resolve_path("lab.db")        # -> Path("lab.db")
"""

from __future__ import annotations

import math
import os
from pathlib import Path

ENV_HOST = "EVTCHN_HOST"
ENV_LOCK_TIMEOUT = "EVTCHN_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 30.0


def default_path() -> Path:
    """`$XDG_DATA_HOME/evtchn/host.db`, with XDG's fallback `~/.local/share` when it is unset or relative."""
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base / "evtchn" / "host.db"


def resolve_path(path: str | os.PathLike[str] | None) -> Path:
    """The explicit path if given, else `$EVTCHN_HOST` if set and non-empty, else `default_path()`."""
    if path is not None and str(path) != "":
        return Path(path)
    env = os.environ.get(ENV_HOST, "")
    return Path(env) if env else default_path()


def lock_timeout(value: float | None = None) -> float:
    """Seconds to wait for another process's transaction: the argument, `$EVTCHN_LOCK_TIMEOUT`, or 30."""
    from evtchn.store.errors import StoreError

    if value is not None:
        # SQLite's busy_timeout is whole milliseconds: inf and nan cannot be waited for, a negative wait
        # would block forever on the in-process lock
        if not (math.isfinite(value) and value >= 0):
            raise StoreError(f"--wait {value}: expected a number of seconds >= 0")
        return value
    env = os.environ.get(ENV_LOCK_TIMEOUT, "")
    if not env:
        return DEFAULT_LOCK_TIMEOUT
    try:
        seconds = float(env)
    except ValueError:
        seconds = -1.0
    if not (math.isfinite(seconds) and seconds >= 0):
        raise StoreError(f"${ENV_LOCK_TIMEOUT}={env!r}: expected a number of seconds >= 0")
    return seconds
