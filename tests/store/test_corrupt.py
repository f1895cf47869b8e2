"""Corrupted host files: every command ends with one line "F: corrupt host file: …" (or works, where the
damage misses what it reads), never a traceback, and a command that fails never modifies the file."""

from __future__ import annotations

import base64
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
from evtchn.store.writer import decode, encode
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


def _zero_root_page(table: str) -> Callable[[Path], None]:
    """The first page of a table's b-tree overwritten with zeros (a lost write)."""

    def damage(p: Path) -> None:
        conn = sqlite3.connect(p)
        (page,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
        (size,) = conn.execute("PRAGMA page_size").fetchone()
        conn.close()
        data = bytearray(p.read_bytes())
        data[(page - 1) * size : page * size] = bytes(size)
        p.write_bytes(bytes(data))

    return damage


def _bucket_state(domid: int, port: int, state: int) -> Callable[[Path], None]:
    """A port's state byte changed inside a bucket that still decodes (a flipped bit in its base64)."""

    def damage(p: Path) -> None:
        conn = sqlite3.connect(p)
        conn.execute("PRAGMA journal_mode = DELETE")
        key = f"{domid}/{port >> 6}"
        (data,) = conn.execute("SELECT data FROM parts WHERE kind = 'bkt' AND key = ?", (key,)).fetchone()
        bucket = decode(data)
        states = bytearray(base64.b64decode(bucket["state"]))
        states[port & 63] = state
        bucket["state"] = base64.b64encode(bytes(states)).decode()
        conn.execute("UPDATE parts SET data = ? WHERE kind = 'bkt' AND key = ?", (encode(bucket), key))
        conn.commit()
        conn.close()

    return damage


# What the fuzzer's host-file surface found (issue 15), each reduced to the one damage that causes it, with
# what the commands must say instead of the traceback they gave.
REGRESSIONS: dict[str, tuple[Callable[[Path], None], str]] = {
    # the read transaction's COMMIT raised DatabaseError over the CorruptHost it was reporting
    "zeroed-generation-page": (_zero_root_page("generation"), "database disk image is malformed"),
    "zeroed-vms-page": (_zero_root_page("vms"), "database disk image is malformed"),
    # a page of another table: int() of a uuid
    "generation-not-a-number": (
        _sql("UPDATE generation SET n = 'e0b2c3a4-not-a-number'"),
        "the generation counter is 'e0b2c3a4-not-a-number', not an integer",
    ),
    # SQLite's message quoted the undecodable value, newline included: lsevtchn printed two lines
    "detail-not-utf8": (
        _sql("UPDATE devices SET detail = CAST(X'7b0a22ff' AS TEXT)"),
        "column 'detail' holds text that is not valid UTF-8",
    ),
    # a schema entry whose name is not UTF-8: UnicodeDecodeError decoding SQLite's own error message
    "schema-name-not-utf8": (
        _sql(
            "PRAGMA writable_schema = ON",
            "UPDATE sqlite_master SET name = CAST(X'6f626aff' AS TEXT), sql = 'CREATE TABLE nope(' "
            "WHERE name = 'objects_by_cls'",
        ),
        "it holds text that is not valid UTF-8",
    ),
    # a bucket that decodes but holds state 68: ValueError from ECS(68) in lsevtchn and debug-keys, and a
    # `vm start` that went on to write the damaged host back
    "bucket-state-68": (_bucket_state(1, 3, 68), "domain 1 port 3: state 68 is not a channel state"),
}


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
    **{kind: damage for kind, (damage, _) in REGRESSIONS.items()},
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


@pytest.mark.parametrize("kind", sorted(REGRESSIONS))
def test_what_the_fuzzer_found_is_one_line_saying_what_is_wrong(
    pristine: Path, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "host.db"
    shutil.copyfile(pristine, path)
    damage, reason = REGRESSIONS[kind]
    damage(path)
    before = _digest(path)
    said = set()
    for args in COMMANDS:
        r = CliRunner().invoke(main, [*args, "--host", str(path)])
        assert r.exception is None or isinstance(r.exception, SystemExit), (args, r.exc_info)
        if r.exit_code:
            assert r.stderr.count("\n") == 1, (args, r.stderr)
            said.add(r.stderr.split(f"{path}: corrupt host file: ", 1)[-1].strip())
    assert any(reason in line for line in said), said
    assert _digest(path) == before  # not even `vm start` wrote to it
