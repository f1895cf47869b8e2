"""The command line: `evtchn` (the group in `evtchn.cli.app`) and `lsevtchn` (`evtchn.cli.lsevtchn`).

    from evtchn.cli import main, fail

This package imports nothing at start-up: `lsevtchn` does not pay for click, and `main` / `fail` are
loaded from `evtchn.cli.app` on first use (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evtchn.cli.app import COMMANDS, fail, main

__all__ = ["COMMANDS", "fail", "main"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from evtchn.cli import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
