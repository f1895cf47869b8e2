"""Headless Chromium from the system (Debian's `chromium`), driven by Playwright; no browser download.

    with chromium(tmp_path) as ctx: page = ctx.new_page()

`CHROMIUM` is $EVTCHN_CHROMIUM, else /usr/bin/chromium, else `chromium` on PATH; `why_not()` says why a
browser test cannot run here (None when it can). `.ci/run` installs the package in CI.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def chromium_path() -> str | None:
    env = os.environ.get("EVTCHN_CHROMIUM")
    if env:
        return env if os.access(env, os.X_OK) else None
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def why_not() -> str | None:
    if chromium_path() is None:
        return "no chromium here (Debian package `chromium`; .ci/run installs it, or set $EVTCHN_CHROMIUM)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright for Python is not installed (pip install -e '.[test]')"
    return None


@contextmanager
def chromium(user_data_dir: Path, **context: Any) -> Iterator[Any]:
    """A fresh persistent context (its own user-data-dir) on the system browser."""
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    assert exe is not None, why_not()
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(user_data_dir), executable_path=exe, headless=True, args=FLAGS, **context
        )
        try:
            yield ctx
        finally:
            ctx.close()
