"""The CLI answers at once: a command imports only what it prints (issue 14, "The CLI answers at once").

Timing is measured by bench/bench_cli.py; these tests check the cause, which does not depend on the
machine: which modules a fresh process has imported when the command has run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from evtchn.cli import COMMANDS
from evtchn.cli.app import load_command
from evtchn.cli.vm import VM_COMMANDS
from evtchn.store import create_store
from evtchn.toolstack import Host, seed_vm_spec

HEAVY = ("matplotlib", "numpy", "pydantic", "rich", "yaml", "evtchn.toolstack", "evtchn.plan", "evtchn.api")

# Runs the entry point in-process, then reports which heavy packages got imported.
PROBE = """
import json, sys
entry, argv = sys.argv[1], sys.argv[2:]
module, _, attr = entry.partition(":")
import importlib
main = getattr(importlib.import_module(module), attr)
try:
    rc = main(argv)  # lsevtchn's main takes a full argv, evtchn's the arguments
except SystemExit as e:
    rc = e.code
heavy = sorted({m.split(".")[0] if not m.startswith("evtchn.") else ".".join(m.split(".")[:2])
                for m in sys.modules} & set(json.loads(sys.stdin.readline())))
print(json.dumps({"rc": rc, "heavy": heavy}), file=sys.stderr)
"""


def _imported(
    entry: str, *argv: str, env_host: Path | None = None, heavy: tuple[str, ...] = HEAVY
) -> tuple[int, list[str]]:
    """(exit code, heavy packages imported) of `entry(argv)` run in a fresh interpreter."""
    env = dict(os.environ)
    if env_host is not None:
        env["EVTCHN_HOST"] = str(env_host)
    r = subprocess.run(
        [sys.executable, "-c", PROBE, entry, *argv],
        input=json.dumps(list(heavy)) + "\n", capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    last = json.loads(r.stderr.strip().splitlines()[-1])
    return last["rc"], last["heavy"]


@pytest.fixture(scope="module")
def hostfile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    host = Host.create("xenserver-8")
    for i in range(3):
        host.define_vm(seed_vm_spec(f"vm{i}"))
    host.start_vm("vm0")
    path = tmp_path_factory.mktemp("startup") / "h.db"
    create_store(host, path)
    return path


def test_version_imports_nothing_heavy() -> None:
    assert _imported("evtchn.cli:main", "--version") == (0, [])


def test_vm_list_reads_rows_without_building_the_host(hostfile: Path) -> None:
    assert _imported("evtchn.cli:main", "vm", "list", env_host=hostfile) == (0, [])
    assert _imported("evtchn.cli:main", "vm", "list", "--json", env_host=hostfile) == (0, [])


def test_lsevtchn_reads_its_domains_without_the_toolstack_or_click(hostfile: Path) -> None:
    assert _imported("evtchn.cli.lsevtchn:main", "lsevtchn", "0", env_host=hostfile) == (0, [])
    assert _imported("evtchn.cli.lsevtchn:main", "lsevtchn", "1", env_host=hostfile) == (0, [])
    assert _imported("evtchn.cli:main", "debug-keys", "e", env_host=hostfile) == (0, [])
    r = subprocess.run(
        [sys.executable, "-c", "import sys; import evtchn.cli.lsevtchn; print('click' in sys.modules)"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.stdout == "False\n"


def test_host_show_counts_ports_without_building_a_domain(hostfile: Path) -> None:
    # per-domain counts come from the records and the buckets' state column: not even evtchn.xen
    for argv in (["host", "show"], ["host", "show", "--json"], ["vm", "list"]):
        code, heavy = _imported("evtchn.cli:main", *argv, env_host=hostfile, heavy=(*HEAVY, "evtchn.xen"))
        assert (code, heavy) == (0, []), argv


@pytest.mark.parametrize(
    ("group", "table"), [("evtchn.cli.app:main", COMMANDS), ("evtchn.cli.vm:vm_group", VM_COMMANDS)]
)
def test_the_command_tables_name_every_command_once(group: str, table: dict[str, str]) -> None:
    for name, target in table.items():
        command = load_command(target)
        assert command.name == name, target
    listed = load_command(group)
    assert isinstance(listed, click.Group)
    assert listed.list_commands(click.Context(listed)) == sorted(table)


def test_a_wrong_table_entry_is_a_bug_not_a_silent_skip() -> None:
    with pytest.raises(TypeError, match="is not a click command"):
        load_command("evtchn.cli.exits:EXIT_NO")
    with pytest.raises(AttributeError):
        load_command("evtchn.cli.vm:no_such_command")
