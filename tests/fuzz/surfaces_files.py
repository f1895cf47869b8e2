"""Fuzz surfaces over files a user hands in: specs (YAML, TOML, xl.cfg), profiles, hardware, dumps,
host files, and the CLI's own arguments."""

from __future__ import annotations

import json
import os
import random
from functools import cache
from pathlib import Path

import yaml
from click.testing import CliRunner

from evtchn.inspect.analyze import analyze
from evtchn.inspect.detect import parse_text
from evtchn.inspect.model import ParseError
from evtchn.toolstack import Host, seed_vm_spec
from evtchn.toolstack.errors import SpecError, ToolstackError
from evtchn.toolstack.hardware import BUILTIN_HARDWARE, get_hardware
from evtchn.toolstack.profiles import BUILTIN_PROFILES, get_profile
from evtchn.toolstack.spec import read_spec, to_xl_cfg
from tests.fuzz.surface import Surface, Uncaught, workdir

FIXTURES = Path(__file__).resolve().parent.parent / "inspect" / "fixtures"


def _file(suffix: str, data: bytes) -> Path:
    p = workdir() / f"in-{os.getpid()}{suffix}"
    p.write_bytes(data)
    return p


def _one_line(text: str) -> None:
    if "\n" in text.strip() or "Traceback" in text:
        raise Uncaught(f"error is not one line: {text[:300]!r}")


# ---------------------------------------------------------------- specs
def _spec_seeds(kind: str) -> list[bytes]:
    spec = seed_vm_spec("web01")
    data = spec.model_dump(exclude_none=True)
    full = {**data, "max_vcpus": 4, "max_event_channels": 1023}
    if kind == "yaml":
        return [yaml.safe_dump(d).encode() for d in (data, full)] + [b"name: a\nmemory_mib: 512\n"]
    if kind == "toml":
        return [
            b'name = "a"\ntype = "pv"\nvcpus = 2\nmemory_mib = 512\n[[disks]]\nuserdevice = 1\n'
            b'queues = 2\n[[nics]]\ndevid = 0\nmac = "00:16:3e:00:00:01"\n',
            json.dumps(data).encode(),
        ]
    return [
        to_xl_cfg(spec).encode(),
        b'name = "b"\ntype = "pv"\nvcpus = 2\nmaxvcpus = 4\nmemory = 512\n'
        b"disk = [ 'phy:/dev/vg/b,xvda,w', 'file:/x.iso,hdc:cdrom,r' ]\nvif = [ 'mac=00:16:3e:00:00:02' ]\n"
        b"max_event_channels = 2047\n",
    ]


def _start(spec_path: Path) -> str:
    try:
        spec, _notes = read_spec(spec_path)
    except SpecError as e:
        _one_line(e.message)
        return "clean"
    host = Host.create("xenserver-8")
    try:
        host.define_vm(spec)
        host.start_vm(spec.name)
    except ToolstackError as e:
        _one_line(e.message)
        return "clean"
    host.hv.check_invariants()
    return "ok"


def _spec_surface(kind: str, suffix: str) -> Surface:
    return Surface(f"spec {kind}", lambda: _spec_seeds(kind), lambda d: _start(_file(suffix, d)))


# ---------------------------------------------------------------- profiles and hardware
def _dumps(obj: dict[str, object]) -> list[bytes]:
    flat = {k: v for k, v in obj.items() if isinstance(v, int | str | bool)}
    toml = "".join(f"{k} = {json.dumps(v)}\n" for k, v in flat.items()).encode()
    return [yaml.safe_dump(obj).encode(), json.dumps(obj).encode(), toml]


@cache
def _profile_seeds() -> list[bytes]:
    full = BUILTIN_PROFILES["xenserver-8"].model_dump(exclude={"sources"})
    full["name"] = "fz"
    small = {"base": "xenserver-6.2", "blkback_max_queues": 4, "guest_max_evtchn_port": 1023}
    return _dumps(full) + _dumps(small)


def _run_profile(data: bytes) -> str:
    suffix = ".json" if data[:1] == b"{" else (".toml" if b" = " in data[:200] else ".yaml")
    try:
        profile = get_profile(str(_file(suffix, data)))
        host = Host.create(profile)
        host.define_vm(seed_vm_spec("p"))
        host.start_vm("p")
    except ToolstackError as e:
        _one_line(e.message)
        return "clean"
    host.hv.check_invariants()
    return "ok"


@cache
def _hardware_seeds() -> list[bytes]:
    hw = BUILTIN_HARDWARE["rack-128g"].model_dump(exclude={"sources"})
    hw["name"] = "fzhw"
    return _dumps(hw) + _dumps(
        {
            "name": "h",
            "host_pcpus": 8,
            "host_memory_mib": 8192,
            "dom0_vcpus": 4,
            "dom0_memory_mib": 1024,
            "irq_sources": [{"kind": "msi", "count": 8}],
        }
    )


def _run_hardware(data: bytes) -> str:
    suffix = ".json" if data[:1] == b"{" else (".toml" if b" = " in data[:200] else ".yaml")
    try:
        hw = get_hardware(str(_file(suffix, data)))
        host = Host.create("xenserver-8", hw)
        host.define_vm(seed_vm_spec("h"))
        host.start_vm("h")
    except ToolstackError as e:
        _one_line(e.message)
        return "clean"
    host.hv.check_invariants()
    return "ok"


# ---------------------------------------------------------------- dumps
@cache
def _dump_seeds() -> list[bytes]:
    from evtchn.inspect.edump import format_edump

    host = Host.create("xenserver-6.2")
    host.define_vm(seed_vm_spec("d"))
    host.start_vm("d")
    seeds = [p.read_bytes() for p in sorted(FIXTURES.iterdir()) if p.is_file()]
    seeds.append(format_edump(host.hv, prefix=True).encode())
    seeds.append(format_edump(host.hv, layout="4.1").encode())
    return seeds


def _run_dump(data: bytes) -> str:
    try:
        dump = parse_text(data, name="fuzz")
    except ParseError as e:
        _one_line(str(e))
        return "clean"
    analyze(dump)
    return "ok"


# ---------------------------------------------------------------- host files
@cache
def _host_file() -> bytes:
    from evtchn.store import create_store

    p = workdir() / "seed-host.db"
    host = Host.create("xenserver-8")
    for i in range(3):
        host.define_vm(seed_vm_spec(f"v{i}"))
    host.start_vm("v0")
    create_store(host, p)
    return p.read_bytes()


def _corrupt(rnd: random.Random, seeds: list[bytes]) -> bytes:
    data = bytearray(seeds[0])
    page = 4096
    pages = max(1, len(data) // page)
    op = rnd.randrange(5)
    if op == 0:
        del data[rnd.randrange(len(data)) :]
    elif op == 1:
        for _ in range(rnd.randrange(1, 20)):
            data[rnd.randrange(len(data))] ^= 1 << rnd.randrange(8)
    elif op == 2:
        p = rnd.randrange(pages)
        data[p * page : (p + 1) * page] = bytes(page)
    elif op == 3 and pages > 1:
        a, b = rnd.sample(range(pages), 2)
        pa, pb = bytes(data[a * page : (a + 1) * page]), bytes(data[b * page : (b + 1) * page])
        data[a * page : (a + 1) * page], data[b * page : (b + 1) * page] = pb, pa
    else:
        p = rnd.randrange(pages)
        data[p * page : (p + 1) * page] = bytes(rnd.randrange(256) for _ in range(page))
    return bytes(data)


READ_COMMANDS = (["vm", "list"], ["host", "show"], ["lsevtchn", "0"], ["debug-keys", "e"])


def _run_host(data: bytes) -> str:
    from evtchn.cli import main

    p = workdir() / f"host-{os.getpid()}.db"
    p.write_bytes(data)
    worst = "ok"
    for cmd in READ_COMMANDS:
        r = CliRunner().invoke(
            main,
            [*cmd[:1], *cmd[1:], "--host", str(p)]
            if cmd[0] != "lsevtchn"
            else ["lsevtchn", "--host", str(p), "0"],
            catch_exceptions=True,
        )
        if r.exception is not None and not isinstance(r.exception, SystemExit):
            raise Uncaught(f"{' '.join(cmd)}: {type(r.exception).__name__}: {r.exception}") from r.exception
        if r.exit_code not in (0, 1, 2):
            raise Uncaught(f"{' '.join(cmd)}: exit {r.exit_code}")
        if r.exit_code:
            _one_line(r.stderr if r.stderr else r.output)
            worst = "clean"
        if p.read_bytes() != data:
            raise Uncaught(f"{' '.join(cmd)} modified a corrupt host file")
    return worst


# ---------------------------------------------------------------- CLI arguments
_WORDS = [
    "plan",
    "lsevtchn",
    "analyze",
    "vm-local",
    "can-start",
    "host",
    "vm",
    "list",
    "show",
    "create",
    "start",
    "--profile",
    "-p",
    "xenserver-8",
    "xen-xl",
    "nope",
    "--hardware",
    "rack-128g",
    "--vm",
    "seed:2",
    "seed:0",
    "seed:-1",
    "seed:99999999999999999999",
    "--json",
    "--count",
    "0",
    "1",
    "-1",
    "3",
    "65536",
    "--help",
    "--set",
    "fds_per_console=2",
    "fds_per_console=x",
    "=",
    "--host",
    "--compare",
    "--no-boot",
    "--abi",
    "2l",
    "fifo",
    "--xenstore",
    "0",
    "32752",
    "9" * 5000,
    "\x00",
    "\udcff",
    "",
    "-",
    "--",
    "e",
    "--wait",
]


def _cli_generate(rnd: random.Random, seeds: list[bytes]) -> bytes:
    argv = [rnd.choice(_WORDS) for _ in range(rnd.randrange(1, 7))]
    return "\x1f".join(argv).encode("utf-8", "surrogateescape")


def _run_cli(data: bytes) -> str:
    from evtchn.cli import main

    argv = data.decode("utf-8", "surrogateescape").split("\x1f")
    if "vm-local" in argv and any(a.isdigit() and int(a) > 50 for a in argv if len(a) < 10):
        return "clean"  # a legal but slow request (vm-local --count 65536): not what this surface tests
    if any(a == "--simulate" for a in argv):
        return "clean"
    env = {"EVTCHN_HOST": str(workdir() / f"cli-{os.getpid()}.db")}
    r = CliRunner().invoke(main, argv, env=env, catch_exceptions=True)
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise Uncaught(f"{argv!r}: {type(r.exception).__name__}: {r.exception}") from r.exception
    if r.exit_code not in (0, 1, 2, 3, 4):
        raise Uncaught(f"{argv!r}: exit {r.exit_code}")
    if r.exit_code:
        text = r.stderr or r.output
        if not text.startswith("Usage:"):  # a group without its subcommand shows its help: fine
            _one_line(text)
        return "clean"
    return "ok"


def _cli_seeds() -> list[bytes]:
    return [b"plan\x1f-p\x1fxenserver-8\x1f--vm\x1fseed:2", b"lsevtchn\x1f0", b"vm-local\x1f--count\x1f2"]


def file_surfaces() -> list[Surface]:
    return [
        _spec_surface("yaml", ".yaml"),
        _spec_surface("toml", ".toml"),
        _spec_surface("xl.cfg", ".cfg"),
        Surface("profile", _profile_seeds, _run_profile),
        Surface("hardware", _hardware_seeds, _run_hardware),
        Surface("dumps", _dump_seeds, _run_dump),
        Surface("host file", lambda: [_host_file()], _run_host, _corrupt),
        Surface("cli args", _cli_seeds, _run_cli, _cli_generate),
    ]
