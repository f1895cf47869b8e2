"""Usage errors that click itself catches leave as one line on stderr with exit 2, like every other error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EVTCHN = str(Path(sys.executable).parent / "evtchn")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EVTCHN, *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["vm", "show"], "evtchn vm show: Missing argument 'VM'. (see 'evtchn vm show --help')\n"),
        (["bogus"], "evtchn: No such command 'bogus'. (see 'evtchn --help')\n"),
        (
            ["serve", "--port", "99999"],
            "evtchn serve: Invalid value for '--port': 99999 is not in the range 0<=x<=65535. "
            "(see 'evtchn serve --help')\n",
        ),
        (
            ["plan", "--hardwar"],
            "evtchn plan: No such option '--hardwar'. Did you mean '--hardware'? "
            "(see 'evtchn plan --help')\n",
        ),
    ],
)
def test_usage_errors_are_one_line(args: list[str], expected: str) -> None:
    r = _run(*args)
    assert (r.returncode, r.stdout, r.stderr) == (2, "", expected)


def test_help_and_version_still_work() -> None:
    r = _run("--help")
    assert r.returncode == 0 and r.stdout.startswith("Usage: evtchn [OPTIONS] COMMAND [ARGS]...")
    r = _run("--version")
    assert (r.returncode, r.stdout) == (0, "evtchn, version 0.1.0\n")
    r = _run("vm", "--help")
    assert r.returncode == 0 and "show" in r.stdout
