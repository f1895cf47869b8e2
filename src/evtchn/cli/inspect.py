"""The analyser command: `evtchn analyze FILE...` (reference §9); `evtchn lsevtchn` and `evtchn debug-keys`
read the host file and live in cli/hostdump.py (they need neither numpy nor the analyser).

evtchn analyze lsevtchn-0.txt xl-dmesg.txt --vm-cost 7 --min-free 20 --json
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from evtchn.cli import fail
from evtchn.inspect.analyze import ABI_LIMITS, analyze
from evtchn.inspect.detect import parse_file, parse_text
from evtchn.inspect.model import Dump, ParseError

DEFAULT_SPEC_PROFILE = "xenserver-6.2"


def _spec_cost(spec: str, profile: str, hardware: str | None) -> tuple[int, str]:
    """dom0 ports per VM of the shape in `spec` under a toolstack profile (evtchn.toolstack, §7.3)."""
    try:
        from evtchn.toolstack.costs import vm_cost
        from evtchn.toolstack.errors import ToolstackError
        from evtchn.toolstack.hardware import get_hardware
        from evtchn.toolstack.profiles import get_profile
        from evtchn.toolstack.spec import load_spec
    except Exception as e:  # the toolstack is optional for the analyser
        fail(f"--spec needs the toolstack (evtchn.toolstack), which cannot be loaded: {e}")
        raise
    try:
        cost = vm_cost(get_profile(profile), get_hardware(hardware), load_spec(spec))
    except ToolstackError as e:
        fail(str(e))
    return cost.total, f"spec {spec} on profile {profile}"


def _profile_abi(profile: str) -> tuple[str, str]:
    """dom0's ABI under a toolstack profile (its Xen version and dom0 kernel, reference §12)."""
    from evtchn.inspect.abi import abi_for_max_evtchns
    from evtchn.toolstack.errors import ToolstackError
    from evtchn.toolstack.profiles import get_profile

    try:
        return abi_for_max_evtchns(get_profile(profile).dom0_abi_limit), profile
    except ToolstackError as e:
        fail(str(e))
        raise


class _FilePath(click.Path):
    """click.Path that refuses a NUL byte itself: os.stat() raises ValueError, not OSError, for one."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and "\x00" in value:
            self.fail("the file name holds a NUL byte", param, ctx)
        return super().convert(value, param, ctx)


@click.command("analyze")
@click.argument("files", nargs=-1, required=True, type=_FilePath(dir_okay=False))
@click.option(
    "--abi", type=click.Choice(sorted(ABI_LIMITS)), help="dom0's ABI (default: from --profile or the input)."
)
@click.option("--vm-cost", type=click.IntRange(min=1), help="dom0 ports per VM of the shape to fit.")
@click.option("--spec", type=_FilePath(dir_okay=False), help="VM spec file giving the shape to fit.")
@click.option(
    "--profile",
    default=None,
    help="Toolstack profile: dom0's ABI, and the costs for --spec (default for --spec: xenserver-6.2).",
)
@click.option("--hardware", default=None, help="Hardware for --spec (default: the toolstack's).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option(
    "--min-free", type=click.IntRange(min=0), help="Exit 1 when fewer VMs than this still fit (monitoring)."
)
def analyze_cmd(
    files: tuple[str, ...],
    abi: str | None,
    vm_cost: int | None,
    spec: str | None,
    profile: str | None,
    hardware: str | None,
    as_json: bool,
    min_free: int | None,
) -> None:
    """Analyse what an admin captured on a host (FILE "-" reads stdin): lsevtchn output, 'e' dumps,
    /proc/interrupts, xenstore-ls and error messages. Shows dom0's ports by kind and remote domain, the
    ABI with its evidence (every plausible ABI when unknown), exhaustion, and how many more VMs fit."""
    if vm_cost is not None and spec is not None:
        fail("give either --vm-cost or --spec, not both")
    try:
        dump = Dump()
        for name in files:
            if name == "-":  # `lsevtchn 0 | evtchn analyze -`
                dump = dump.merge(parse_text(sys.stdin.buffer.read(), name="<stdin>"))
            else:
                dump = dump.merge(parse_file(name))
    except ParseError as e:
        fail(str(e))
    source = "--vm-cost" if vm_cost is not None else ""
    if spec is not None:
        vm_cost, source = _spec_cost(spec, profile or DEFAULT_SPEC_PROFILE, hardware)
    profile_abi = _profile_abi(profile) if profile is not None and abi is None else None
    a = analyze(dump, abi=abi, vm_cost=vm_cost, vm_cost_source=source, profile_abi=profile_abi)
    worst = a.worst_headroom()
    if min_free is not None and worst is None:
        fail(
            "cannot check --min-free: "
            + ("no dom0 table in the input" if a.dom0_total is None else "no per-VM cost")
        )
    from evtchn.inspect.report import print_tables, to_json

    if as_json:
        click.echo(json.dumps(to_json(dump, a), indent=2, sort_keys=False))
    else:
        print_tables(dump, a)
    if min_free is not None and a.below(min_free):
        if not as_json:
            which = "" if a.abi is not None else " (the least over every plausible ABI; the ABI is unknown)"
            click.echo(f"evtchn: headroom {worst} VMs{which} is below --min-free {min_free}", err=True)
        sys.exit(1)


def register(main: click.Group) -> None:
    from evtchn.cli.hostdump import debug_keys, lsevtchn_cmd

    main.add_command(lsevtchn_cmd)
    main.add_command(debug_keys)
    main.add_command(analyze_cmd)
