"""Corrupted host files: every command ends with one line "F: corrupt host file: …" (or works, where the
damage misses what it reads), never a traceback, and a command that fails never modifies the file."""

from __future__ import annotations

import hashlib
import random
import re
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from evtchn.cli import main
from evtchn.store import create_store
from evtchn.toolstack import Host, seed_vm_spec

COMMANDS = (
    ["vm", "list"],
    ["host", "show"],
    ["vm", "show", "g1"],
    ["lsevtchn", "0"],
    ["lsevtchn", "1"],
    ["debug-keys", "e"],
    ["vm", "start", "g2"],
    ["vm", "shutdown", "g1"],
)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pristine") / "host.db"
    host = Host.create("xenserver-6.2")
    for i in range(4):
        host.define_vm(seed_vm_spec(f"g{i}"))
    host.start_vm("g1")
    create_store(host, path)
    return path


def _sql(*statements: str) -> Callable[[Path], None]:
    def damage(p: Path) -> None:
        conn = sqlite3.connect(p)
        conn.execute("PRAGMA journal_mode = DELETE")
        for s in statements:
            conn.execute(s)
        conn.commit()
        conn.close()

    return damage


def _truncate(p: Path) -> None:
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


def _flip(seed: int) -> Callable[[Path], None]:
    def damage(p: Path) -> None:
        data = bytearray(p.read_bytes())
        rng = random.Random(seed)
        for _ in range(64):
            i = rng.randrange(100, len(data))  # keep the header: that is the not-a-host-file check
            data[i] ^= 1 << rng.randrange(8)
        p.write_bytes(bytes(data))

    return damage


DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated": _truncate,
    "bit-flips-1": _flip(1),
    "bit-flips-2": _flip(2),
    "bit-flips-3": _flip(3),
    "swapped-tables": _sql(
        "ALTER TABLE vms RENAME TO tmp",
        "ALTER TABLE devices RENAME TO vms",
        "ALTER TABLE tmp RENAME TO devices",
    ),
    "undecodable-part": _sql("UPDATE parts SET data = X'7a00ff' WHERE kind = 'dom'"),
    "part-not-json": _sql("UPDATE parts SET data = CAST('j{nope' AS BLOB) WHERE kind = 'vm'"),
    "part-wrong-shape": _sql("UPDATE parts SET data = CAST('j[1,2]' AS BLOB) WHERE kind = 'host'"),
    "no-parts": _sql("DELETE FROM parts"),
    "row-without-record": _sql(
        "DELETE FROM parts WHERE kind = 'vm' AND key = (SELECT uuid FROM vms LIMIT 1)"
    ),
    "record-without-row": _sql("DELETE FROM devices", "DELETE FROM vms WHERE name = 'g0'"),
    "messages-not-json": _sql("UPDATE vms SET messages = '{' WHERE name = 'g1'"),
    "no-generation": _sql("DELETE FROM generation"),
    "dropped-table": _sql("DROP TABLE parts"),
}


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_corrupt_host_file_gives_one_line_never_a_traceback(
    pristine: Path, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "host.db"
    shutil.copyfile(pristine, path)
    DAMAGE[kind](path)
    failures = 0
    for args in COMMANDS:
        before = _digest(path)
        r = CliRunner().invoke(main, [*args, "--host", str(path)])
        assert r.exception is None or isinstance(r.exception, SystemExit), (args, r.exc_info)
        if r.exit_code != 0:
            failures += 1
            assert r.stderr.count("\n") == 1 and re.match(r"^(evtchn|lsevtchn): ", r.stderr), (args, r.stderr)
            assert _digest(path) == before, args
    assert failures > 0  # every kind of damage here is found by some command
