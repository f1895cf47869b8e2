"""`evtchn plan` (the density planner) and `evtchn can-start` (admission against the persisted host).

evtchn plan --profile xenserver-6.1 --vm seed
evtchn plan --profile xenserver-6.2 --vm web.yaml:3 --vm db.toml --simulate --json
evtchn plan --compare xenserver-6.1 xenserver-6.2 xenserver-8 --vm seed --plot density.png
evtchn can-start web.yaml --host lab.db        # exit 0 yes, 1 no, 2 bad input
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from evtchn.cli.app import fail
from evtchn.plan.density import LIMIT_ORDER, Plan, PlanError, plan_mix
from evtchn.plan.limits import PlanSettings, resolve_hardware
from evtchn.plan.mix import Mix, MixError, Shape, parse_mix, parse_vm_arg
from evtchn.plan.simulate import Simulation, simulate
from evtchn.toolstack.errors import ToolstackError
from evtchn.toolstack.hardware import Hardware
from evtchn.toolstack.profiles import BUILTIN_PROFILES, DEFAULT_PROFILE, Profile, get_profile

SHORT = {
    "host_memory": "memory",
    "domids": "domids",
    "dom0_evtchn": "dom0 evtchn",
    "consoled_fds": "consoled fds",
    "guest_evtchn": "guest evtchn",
}


COMPARE_HEAD = {
    "host_memory": "memory",
    "domids": "domids",
    "dom0_evtchn": "dom0 ch",
    "consoled_fds": "fds",
    "guest_evtchn": "guest",
}


def _fmt_fit(n: int | None) -> str:
    return "∞" if n is None else str(n)


def _shape_cost(plan: Plan) -> str:
    return " / ".join(str(s.cost.total) for s in plan.shapes)


def make_console(stderr: bool = False) -> Console:
    """rich Console; 120 columns when not on a terminal so piped tables stay readable."""
    c = Console(stderr=stderr)
    return c if c.is_terminal else Console(stderr=stderr, width=120)


def render_plan(console: Console, plan: Plan) -> None:
    """The single-profile report: shapes, the answer, every limit's headroom, then the sources."""
    base = ", ".join(f"{k} {v}" for k, v in plan.dom0_baseline.items())
    console.print(
        f"[bold]{plan.profile}[/] on hardware [bold]{plan.hardware}[/]: dom0 has {plan.dom0_limit} usable "
        f"event channels; its own baseline uses {plan.baseline_total} ({base})"
    )
    t = Table(title="VM shapes (dom0 ports: xs xenstore, con console, vbd disks, vif NICs, dm device model)")
    for col in ("shape", "type", "vCPUs", "disks", "NICs", "dom0 ports", "guest ports", "max alone", "binds"):
        t.add_column(col, justify="left" if col in ("shape", "type", "dom0 ports", "binds") else "right")
    if len(plan.shapes) > 1:
        t.add_column("in mix", justify="right")
    abbrev = {"xenstore": "xs", "console": "con", "vbd": "vbd", "vif": "vif", "device_model": "dm"}
    for s in plan.shapes:
        kinds = " ".join(f"{abbrev.get(k, k)} {v}" for k, v in s.cost.by_kind.items() if v)
        row = [
            s.label + (f" ×{s.count}" if len(plan.shapes) > 1 else ""),
            s.spec.type,
            str(s.spec.vcpus),
            str(len(s.spec.disks)),
            str(len(s.spec.nics)),
            f"{s.cost.total} ({kinds})",
            f"{s.cost.guest_ports}/{s.guest_limit}",
            str(s.alone_max),
            ", ".join(SHORT[b] for b in s.alone_binding),
        ]
        if len(plan.shapes) > 1:
            row.append(str(s.in_mix))
        t.add_row(*row)
    console.print(t)
    nxt = plan.shapes[plan.next_shape].label
    what = "the mix in its proportions" if len(plan.shapes) > 1 else plan.shapes[0].label
    console.print(
        f"Maximum for {what}: [bold green]{plan.max_vms}[/] VMs with every device connected; "
        f"VM {plan.max_vms + 1} ({escape(nxt)}) meets [bold red]{', '.join(plan_titles(plan))}[/]"
    )
    lt = Table(title="Limits at the maximum")
    for col in ("", "limit", "total", "baseline", "used", "headroom", "VMs it alone allows"):
        lt.add_column(col, justify="left" if col in ("", "limit") else "right")
    tight = min(plan.shapes, key=lambda s: s.guest_limit - s.cost.guest_ports)
    for i, lim in enumerate(plan.limits, 1):
        guest = lim.key == "guest_evtchn"
        lt.add_row(
            f"[{i}]",
            ("[bold red]binding:[/] " if lim.key in plan.binding else "") + lim.title,
            f"{tight.guest_limit} per VM" if guest else str(lim.total),
            "—" if guest else str(lim.baseline),
            f"{tight.cost.guest_ports} ({escape(tight.label)})" if guest else str(lim.used_at_max),
            f"{lim.headroom} {lim.unit}",
            _fmt_fit(lim.fit),
        )
    console.print(lt)
    for i, lim in enumerate(plan.limits, 1):
        console.print(f"  [{i}] {lim.source}", markup=False, highlight=False)


def plan_titles(plan: Plan) -> list[str]:
    return [plan.limit(k).title for k in plan.binding]


def memory_hint(console: Console, plans: Sequence[Plan]) -> None:
    """When memory binds first, say where the event-channel story shows."""
    if any("host_memory" in p.binding for p in plans) and plans[0].hardware != "default":
        console.print(
            f"note: host memory binds first on hardware {plans[0].hardware}; the default hardware (1 TiB) "
            "lets dom0's event channels bind, as in the blog's story"
        )


def render_compare(console: Console, plans: Sequence[Plan], sims: Sequence[Simulation] | None) -> None:
    t = Table(
        title=f"One mix across profiles ({', '.join(s.label for s in plans[0].shapes)}): "
        "dom0 limit and baseline, dom0 ports per VM, the VMs each limit allows (memory, dom0 channels, "
        "xenconsoled fds, guest's own channels), the maximum and what binds"
    )
    cols = ["profile", "dom0 limit", "base", "ports/VM", *[COMPARE_HEAD[k] for k in LIMIT_ORDER]]
    cols += ["max VMs", "binding"]
    if sims is not None:
        cols.append("sim")
    for c in cols:
        t.add_column(
            c, justify="left" if c in ("profile", "binding") else "right", no_wrap=c in ("profile", "binding")
        )
    for i, plan in enumerate(plans):
        fits = {lim.key: lim.fit for lim in plan.limits}
        row = [
            plan.profile,
            str(plan.dom0_limit),
            str(plan.baseline_total),
            _shape_cost(plan),
            *[_fmt_fit(fits[k]) for k in LIMIT_ORDER],
            f"[bold]{plan.max_vms}[/]",
            ", ".join(SHORT[b] for b in plan.binding),
        ]
        if sims is not None:
            row.append(_sim_cell(plan, sims[i]))
        t.add_row(*row)
    console.print(t)


def _sim_cell(plan: Plan, sim: Simulation) -> str:
    return f"{sim.ok_vms} ✓" if sim.ok_vms == plan.max_vms else f"[bold red]{sim.ok_vms} ≠[/]"


def run_simulation(
    profile: Profile, hardware: Hardware, mix: Mix, settings: PlanSettings, expected: int, *, quiet: bool
) -> Simulation:
    """simulate() with a progress bar on stderr (none when quiet)."""
    err = Console(stderr=True)
    if quiet or not err.is_terminal:
        return simulate(profile, hardware, mix, settings)
    with Progress(
        TextColumn(f"simulating {profile.name}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("start", total=expected + 1)
        return simulate(profile, hardware, mix, settings, on_vm=lambda i, vm: progress.advance(task))


def sim_json(sim: Simulation) -> dict[str, Any]:
    f = sim.failure
    return {
        "ok_vms": sim.ok_vms,
        "failure": None
        if f is None
        else {
            "vm": f.vm,
            "index": f.index + 1,
            "limit": f.limit,
            "outcome": f.outcome,
            "messages": list(f.messages),
        },
    }


def render_sim(console: Console, plan: Plan, sim: Simulation) -> None:
    f = sim.failure
    if f is None:
        console.print(f"simulated: {sim.ok_vms} VMs started, no failure within the step limit")
    else:
        console.print(
            f"simulated on a throwaway host: {sim.ok_vms} VMs started fully; VM {f.index + 1} ({f.vm}) "
            f"{f.outcome} ({escape(plan.limit(f.limit).title)}):"
        )
        for m in f.messages[:6]:
            console.print(f"    {m}", markup=False, highlight=False)
    if sim.ok_vms == plan.max_vms:
        console.print(f"[bold green]analytic {plan.max_vms} = simulated {sim.ok_vms}[/]")
    else:
        console.print(f"[bold red]analytic {plan.max_vms} ≠ simulated {sim.ok_vms}[/]")


def _print_notes(shapes: Sequence[Shape]) -> None:
    """What the spec reader ignored (unknown xl.cfg keys), as `evtchn vm create` reports it."""
    for shape in shapes:
        for note in shape.notes:
            click.echo(f"evtchn: {note}", err=True)


def _profiles(names: Sequence[str]) -> list[Profile]:
    return [get_profile(n) for n in names]


@click.command("plan")
@click.option(
    "--profile",
    "-p",
    "profile_name",
    default=DEFAULT_PROFILE,
    show_default=True,
    help="Built-in profile name or a profile file.",
)
@click.option(
    "--hardware",
    "hardware_name",
    default=None,
    help="Built-in hardware (default, rack-128g) or a hardware file.",
)
@click.option(
    "--vm",
    "vms",
    multiple=True,
    metavar="SPEC[:COUNT]",
    help="A VM shape (spec file or 'seed') and its count in the mix; repeatable. Default: seed.",
)
@click.option("--compare", is_flag=True, help="Plan the mix on each PROFILE given (all built-ins if none).")
@click.option("--simulate", is_flag=True, help="Also start the mix on a throwaway host until it fails.")
@click.option("--plot", "plot_path", default=None, metavar="FILE.png|FILE.svg", help="Write the plots.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="Change a planner setting.")
@click.option(
    "--host", "host_path", default=None, metavar="FILE", help="Plan on this host file as it is now."
)
@click.argument("profiles", nargs=-1)
def plan_cmd(
    profile_name: str,
    hardware_name: str | None,
    vms: tuple[str, ...],
    compare: bool,
    simulate: bool,
    plot_path: str | None,
    as_json: bool,
    sets: tuple[str, ...],
    host_path: str | None,
    profiles: tuple[str, ...],
) -> None:
    """How many VMs of a mix fit on a host, which limit binds first, and the headroom on the rest.

    With --compare, PROFILES are planned side by side for the same mix. With --host, the mix is planned
    on that host file as it is now (its profile, hardware and running VMs) and checked on a copy of it.
    """
    if profiles and not compare:
        fail(f"unexpected argument {profiles[0]!r}: profiles as arguments need --compare")
    if host_path is not None:
        bad = [
            o for o, v in (("--compare", compare), ("--plot", plot_path), ("--hardware", hardware_name)) if v
        ]
        if bad:
            fail(f"--host plans on the host file's own profile and hardware; it does not take {bad[0]}")
        try:
            settings = PlanSettings.from_pairs(sets)
            mix = parse_mix(vms or ["seed"])
        except (ToolstackError, MixError, ValueError) as e:
            fail(getattr(e, "message", None) or str(e))
            return
        _print_notes(mix.shapes)
        from evtchn.cli.headroom import report

        raise SystemExit(report(host_path, mix, settings, as_json))
    try:
        settings = PlanSettings.from_pairs(sets)
        hardware = resolve_hardware(hardware_name)
        mix = parse_mix(vms or ["seed"])
        _print_notes(mix.shapes)
        chosen = _profiles(profiles or list(BUILTIN_PROFILES)) if compare else [get_profile(profile_name)]
        plans = [plan_mix(p, hardware, mix, settings) for p in chosen]
    except (ToolstackError, MixError, PlanError, ValueError) as e:
        fail(getattr(e, "message", None) or str(e))
        return
    console = make_console()
    sims: list[Simulation] | None = None
    if simulate:
        try:
            sims = [
                run_simulation(p, hardware, mix, settings, pl.max_vms, quiet=as_json)
                for p, pl in zip(chosen, plans, strict=True)
            ]
        except ToolstackError as e:  # e.g. a hardware file whose dom0 cannot bind its own baseline
            fail(f"--simulate: {e.message}")
    written = None
    if plot_path is not None:
        from evtchn.plan.plot import PlotError, write_plot  # matplotlib: only when plotting

        try:
            written = write_plot(plans, plot_path, title=f"hardware {hardware.name}")
        except PlotError as e:
            fail(str(e))
    if as_json:
        docs = []
        for i, pl in enumerate(plans):
            doc = pl.to_json()
            if sims is not None:
                doc["simulated"] = sim_json(sims[i])
                doc["simulated_equals_analytic"] = sims[i].ok_vms == pl.max_vms
            docs.append(doc)
        out: dict[str, Any] = {"plans": docs} if compare else docs[0]
        if written is not None:
            out["plot"] = str(written)
        click.echo(json.dumps(out, indent=2))
    elif compare:
        render_compare(console, plans, sims)
        memory_hint(console, plans)
    else:
        render_plan(console, plans[0])
        if sims is not None:
            render_sim(console, plans[0], sims[0])
        memory_hint(console, plans)
    if written is not None and not as_json:
        console.print(f"plot written to {written}")
    if sims is not None and any(s.ok_vms != p.max_vms for s, p in zip(sims, plans, strict=True)):
        raise SystemExit(1)


@click.command("can-start")
@click.argument("spec_path", metavar="SPEC")
@click.option(
    "--host", "host_path", default=None, help="Host file (default: $EVTCHN_HOST or the default path)."
)
@click.option("--json", "as_json", is_flag=True)
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="Change a planner setting.")
@click.option(
    "--max", "as_max", is_flag=True, help="How many more of this spec fit now, and what binds first."
)
def can_start_cmd(
    spec_path: str, host_path: str | None, as_json: bool, sets: tuple[str, ...], as_max: bool
) -> None:
    """Whether a VM of this spec can start fully on the current host: exit 0 yes, 1 no.

    With --max: how many more fit (checked by starting them on a copy of the host), exit 0 if at least one.
    """
    from evtchn.plan.admission import check_admission
    from evtchn.store import StoreError, open_store

    try:
        settings = PlanSettings.from_pairs(sets)
        shape = parse_vm_arg(spec_path, what="SPEC", allow_count=False)
        _print_notes([shape])
        spec = shape.spec
        if as_max:
            from evtchn.cli.headroom import report

            raise SystemExit(report(host_path, Mix((shape,)), settings, as_json))
        host = open_store(host_path).read()
    except (ToolstackError, MixError, StoreError, ValueError) as e:
        fail(getattr(e, "message", None) or str(e))
        return
    verdict = check_admission(host, spec, settings)
    if as_json:
        click.echo(json.dumps(verdict.to_json(), indent=2))
    else:
        click.echo(verdict.text())
    raise SystemExit(0 if verdict.ok else 1)
