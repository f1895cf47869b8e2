"""One progress bar for bulk work: on stderr, only when stderr is a terminal (issue 14, "Bulk work")."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from pathlib import Path

from evtchn.store import create_store
from evtchn.toolstack import Host

EVTCHN = str(Path(sys.executable).parent / "evtchn")
SPEC = "name: web\ntype: pv\nvcpus: 1\nmemory_mib: 256\n"


def _read_all(fd: int) -> bytes:
    out = b""
    while select.select([fd], [], [], 0.2)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the pty's other end closed
            break
        if not chunk:
            break
        out += chunk
    return out


def test_bar_on_a_terminal_stderr_and_plain_lines_on_stdout(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    create_store(Host.create("xenserver-6.2"), path)
    spec = tmp_path / "web.yaml"
    spec.write_text(SPEC)
    master, slave = os.openpty()
    try:
        proc = subprocess.run(
            [EVTCHN, "vm", "create", str(spec), "--count", "3", "--host", str(path)],
            stdout=subprocess.PIPE, stderr=slave, timeout=60,
            env=dict(os.environ, COLUMNS="100", TERM="xterm"),
        )  # fmt: skip
        drawn = _read_all(master).decode(errors="replace")
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 0
    assert [line.split()[2] for line in proc.stdout.decode().splitlines()] == ["web-1", "web-2", "web-3"]
    assert "creating VMs" in drawn and "3/3" in drawn  # rich's bar, drawn on the terminal

    piped = subprocess.run(
        [EVTCHN, "vm", "start", "--all", "--host", str(path)], capture_output=True, text=True, timeout=60
    )
    assert piped.returncode == 0 and piped.stderr == ""  # not a terminal: no bar, nothing but the lines
    assert piped.stdout.count("started web-") == 3
