"""Inspection commands: `evtchn lsevtchn`, `evtchn debug-keys e`, `evtchn analyze FILE...` (reference §9).

evtchn lsevtchn 0 | wc -l
evtchn debug-keys e --layout 4.1 --prefix
evtchn analyze lsevtchn-0.txt xl-dmesg.txt --vm-cost 7 --min-free 20 --json
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from evtchn.cli import fail
from evtchn.inspect.analyze import ABI_LIMITS, Analysis, analyze
from evtchn.inspect.model import Dump, ParseError
from evtchn.inspect.parse import parse_file, parse_text

LAYOUT_CHOICES = ("4.4", "4.2", "4.1", "auto")


@click.command(
    "lsevtchn",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def lsevtchn_cmd(args: tuple[str, ...]) -> None:
    """lsevtchn [--host FILE] [domid]: list a domain's event channels like /usr/lib/xen/bin/lsevtchn."""
    from evtchn.inspect.lsevtchn_cli import run

    out, err, code = run(["lsevtchn", *args])
    click.echo(out, nl=False)
    click.echo(err, nl=False, err=True)
    sys.exit(code)


@click.command("debug-keys")
@click.argument("keys")
@click.option("--host", "host", metavar="FILE", help="Host file (default: $EVTCHN_HOST, else the store's).")
@click.option(
    "--layout",
    type=click.Choice(LAYOUT_CHOICES),
    default="4.4",
    show_default=True,
    help="'e' dump layout: Xen 4.4+, 4.2-4.3, 4.1, or the simulated Xen's own.",
)
@click.option("--prefix", is_flag=True, help='Prefix each line with "(XEN) " as `xl dmesg` shows it.')
def debug_keys(keys: str, host: str | None, layout: str, prefix: bool) -> None:
    """Press Xen debug KEYS and print what the console shows; only 'e' (event channels) is modelled."""
    from evtchn.inspect.edump import format_edump, layout_for_version
    from evtchn.inspect.lsevtchn_cli import HostUnavailable, _load_hypervisor

    unknown = sorted(set(keys) - {"e"})
    if not keys or unknown:
        fail(f"debug key {''.join(unknown) or keys!r} is not modelled; only 'e' (event-channel info) is")
    try:
        hv = _load_hypervisor(host)
    except HostUnavailable as e:
        fail(str(e))
    lay = layout_for_version(hv.settings.xen_version) if layout == "auto" else layout
    text = "".join(format_edump(hv, layout=lay, prefix=prefix) for _ in keys)  # type: ignore[arg-type]
    click.echo(text, nl=False)


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


def _print_table(a: Analysis, dump: Dump) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console(highlight=False, soft_wrap=True, markup=False)  # captured text is not rich markup
    t = Table(title="dom0 event channels", show_header=True)
    t.add_column("item")
    t.add_column("value", justify="right")
    t.add_row("source", a.dom0_source or "none")
    t.add_row("dom0 ports in use", "?" if a.dom0_total is None else str(a.dom0_total))
    for kind, n in a.by_kind.items():
        t.add_row(f"  {kind}", str(n))
    t.add_row(f"limit ({a.abi}{', inferred' if a.abi_inferred else ''})", str(a.limit))
    t.add_row("free", "?" if a.free is None else str(a.free))
    t.add_row("per-VM cost", "?" if a.vm_cost is None else f"{a.vm_cost} ({a.vm_cost_source})")
    t.add_row("headroom (VMs)", "?" if a.headroom is None else str(a.headroom))
    con.print(t)
    if a.held_by_domain:
        h = Table(title="dom0 ports held per remote domain")
        h.add_column("domid", justify="right")
        h.add_column("interdomain", justify="right")
        h.add_column("waiting", justify="right")
        h.add_column("total", justify="right")
        for dom, n in a.held_by_domain.items():
            h.add_row(
                str(dom),
                str(a.interdomain_by_domain.get(dom, 0)),
                str(a.unbound_by_domain.get(dom, 0)),
                str(n),
            )
        con.print(h)
    if a.by_consumer:
        c = Table(title="dom0 event-channel IRQs by consumer (/proc/interrupts)")
        c.add_column("consumer")
        c.add_column("IRQs", justify="right")
        for name, n in a.by_consumer.items():
            c.add_row(name, str(n))
        con.print(c)
    if a.guests:
        g = Table(title="other domains' tables")
        for col in ("domid", "source", "ports", "to dom0", "waiting for dom0", "dom0 ports"):
            g.add_column(col)
        for s in a.guests:
            g.add_row(
                "?" if s.domid is None else str(s.domid),
                s.source,
                str(s.ports),
                str(s.to_dom0),
                str(s.waiting_dom0),
                ",".join(map(str, s.dom0_ports[:12])) + (" …" if len(s.dom0_ports) > 12 else ""),
            )
        con.print(g)
    for note in a.notes:
        con.print(f"note: {note}")
    for b in dump.cut:
        con.print(f"cut: {b.describe()}")
    for b in dump.bad[:20]:
        con.print(f"unrecognised: {b.describe()}")
    if len(dump.bad) > 20:
        con.print(f"unrecognised: … and {len(dump.bad) - 20} more lines")


class _FilePath(click.Path):
    """click.Path that refuses a NUL byte itself: os.stat() raises ValueError, not OSError, for one."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and "\x00" in value:
            self.fail("the file name holds a NUL byte", param, ctx)
        return super().convert(value, param, ctx)


@click.command("analyze")
@click.argument("files", nargs=-1, required=True, type=_FilePath(dir_okay=False))
@click.option("--abi", type=click.Choice(sorted(ABI_LIMITS)), help="dom0's ABI (default: inferred).")
@click.option("--vm-cost", type=click.IntRange(min=1), help="dom0 ports per VM of the shape to fit.")
@click.option("--spec", type=_FilePath(dir_okay=False), help="VM spec file giving the shape to fit.")
@click.option("--profile", default="xenserver-6.2", show_default=True, help="Toolstack profile for --spec.")
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
    profile: str,
    hardware: str | None,
    as_json: bool,
    min_free: int | None,
) -> None:
    """Analyse captured lsevtchn output, 'e' dumps and /proc/interrupts (FILE "-" reads stdin): dom0
    ports by kind and by remote domain, the ABI limit, and how many more VMs fit."""
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
        vm_cost, source = _spec_cost(spec, profile, hardware)
    a = analyze(dump, abi=abi, vm_cost=vm_cost, vm_cost_source=source)
    if min_free is not None and a.headroom is None:
        fail(
            "cannot check --min-free: "
            + ("no dom0 table in the input" if a.free is None else "no per-VM cost")
        )
    if as_json:
        out = a.to_json()
        out["unrecognised"] = [
            {"file": b.file, "line": b.lineno, "reason": b.reason, "text": b.text} for b in dump.bad
        ]
        out["cut"] = [{"file": b.file, "line": b.lineno, "text": b.text} for b in dump.cut]
        click.echo(json.dumps(out, indent=2, sort_keys=False))
    else:
        _print_table(a, dump)
    if min_free is not None and a.below(min_free):
        if not as_json:
            click.echo(f"evtchn: headroom {a.headroom} VMs is below --min-free {min_free}", err=True)
        sys.exit(1)


def register(main: click.Group) -> None:
    main.add_command(lsevtchn_cmd)
    main.add_command(debug_keys)
    main.add_command(analyze_cmd)
