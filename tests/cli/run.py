"""Running `evtchn` in-process against a host file, as the CLI tests do."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from evtchn.cli import main


def run_cli(path: Path, *args: str) -> tuple[int, str, str]:
    """`evtchn ARGS --host PATH`: (exit code, stdout, stderr)."""
    r = CliRunner().invoke(main, [*args, "--host", str(path)])
    return r.exit_code, r.stdout, r.stderr
