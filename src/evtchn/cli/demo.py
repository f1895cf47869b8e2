"""`evtchn demo`: the seed's story on a fresh clone, in well under a minute.

    evtchn demo                      # writes ./evtchn-demo/density.png
    evtchn demo --out /tmp/d --hardware default

The XenServer 6.2 blog's example VM (HVM, 3 disks, 1 NIC, 1 vCPU) is started again and again on
xenserver-6.1 and xenserver-6.2 until dom0 runs out of event channels; the last VMs' messages and one
degraded VM's lsevtchn are shown; then the planner's comparison across every built-in profile (each
answer checked by simulation) and the plot (reference §10).
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from evtchn.cli.app import fail
from evtchn.cli.plan import make_console, render_compare
from evtchn.inspect import format_lsevtchn
from evtchn.plan.density import plan_mix
from evtchn.plan.limits import PlanSettings, resolve_hardware, vm_footprint_mib
from evtchn.plan.mix import Mix, Shape
from evtchn.plan.simulate import degraded, simulate
from evtchn.toolstack.costs import vm_cost
from evtchn.toolstack.errors import StartError, ToolstackError
from evtchn.toolstack.hardware import Hardware
from evtchn.toolstack.host import Host, Vm
from evtchn.toolstack.profiles import BUILTIN_PROFILES, get_profile
from evtchn.toolstack.spec import seed_vm_spec

STORY_PROFILES = ("xenserver-6.1", "xenserver-6.2")
EXTRA_ATTEMPTS = 2  # starts tried after the first failure, to show what the last VMs got


def _start_until_exhausted(
    console: Console, host: Host, cap: int
) -> tuple[int, list[tuple[str, list[str]]], Vm | None]:
    """Start the seed VM until the first failure plus EXTRA_ATTEMPTS more; (fully up, last messages, a
    degraded VM if any)."""
    spec = seed_vm_spec()
    ok = 0
    tail: list[tuple[str, list[str]]] = []
    degraded_vm: Vm | None = None
    # xapi's memory admission before VM.start, as --simulate applies it (the toolstack does not model it)
    settings = PlanSettings()
    hw = host.hardware
    mem_free = hw.host_memory_mib - hw.dom0_memory_mib - settings.xen_reserved_mib
    foot = vm_footprint_mib(spec, settings)
    with Progress(
        TextColumn(f"starting the example VM on {host.profile.name}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("start", total=cap)
        for i in range(cap):
            name = f"seed-{i + 1}"
            if foot > mem_free:
                needed, available = foot * 2**20, max(mem_free, 0) * 2**20
                tail.append((f"VM {i + 1} refused", [f"HOST_NOT_ENOUGH_FREE_MEMORY [{needed}; {available}]"]))
                progress.update(task, completed=i + 1, total=i + 1)
                break
            mem_free -= foot
            host.define_vm(spec.model_copy(update={"name": name}))
            try:
                vm = host.start_vm(name)
            except StartError as e:
                mem_free += foot  # a failed start holds no memory
                tail.append((f"VM {i + 1} failed to start", [e.message]))
            else:
                why = degraded(vm)
                if why:
                    tail.append((f"VM {i + 1} runs degraded", why))
                    degraded_vm = degraded_vm or vm
                elif not tail:
                    ok += 1
            progress.advance(task)
            if len(tail) > EXTRA_ATTEMPTS:
                progress.update(task, total=i + 1)
                break
    return ok, tail, degraded_vm


def _story(console: Console, profile_name: str, hardware: Hardware) -> None:
    profile = get_profile(profile_name)
    host = Host.create(profile, hardware)
    cost = vm_cost(profile, hardware, seed_vm_spec())
    kinds = ", ".join(f"{k} {v}" for k, v in cost.by_kind.items() if v)
    console.rule(f"[bold]{profile.name}[/]: {escape(profile.description)}")
    console.print(
        f"dom0: {host.dom0_ports_usable()} usable event channels, {host.dom0_ports_used()} used by dom0 "
        f"itself; the example VM needs {cost.total} ({kinds})"
    )
    ok, tail, dvm = _start_until_exhausted(console, host, cap=host.dom0_ports_free() // cost.total + 10)
    console.print(f"[bold green]{ok}[/] VMs started with every device connected; then:")
    for what, messages in tail:
        console.print(f"  [bold red]{what}[/]:")
        for m in messages:
            console.print(f"      {m}", markup=False, highlight=False)
    lines = format_lsevtchn(host.hv, 0, tool_version=profile.xen_version).stdout.count("\n")
    console.print(f"  lsevtchn 0 | wc -l  →  {lines} (of {host.dom0_ports_usable()} usable)")
    if dvm is not None and dvm.domid is not None:
        _show_lsevtchn(console, host, dvm)
    _recover(console, host)


def _recover(console: Console, host: Host) -> None:
    """Shut two VMs down: their dom0 ports come back and a new VM starts with every device connected."""
    for old in ("seed-1", "seed-2"):
        host.shutdown_vm(old)
    name = f"seed-{len(host.vms) + 1}"
    host.define_vm(seed_vm_spec(name))
    vm = host.start_vm(name)
    state = "with every device connected" if not degraded(vm) else f"degraded: {degraded(vm)}"
    console.print(
        f"  after shutting down seed-1 and seed-2: {name} starts {state}; "
        f"dom0 has {host.dom0_ports_free()} free"
    )


def _show_lsevtchn(console: Console, host: Host, dvm: Vm) -> None:
    """One VM's table as /usr/lib/xen/bin/lsevtchn prints it (reference §9.1)."""
    assert dvm.domid is not None
    res = format_lsevtchn(host.hv, dvm.domid, tool_version=host.profile.xen_version)
    console.print(f"  /usr/lib/xen/bin/lsevtchn {dvm.domid}   ({dvm.name}, degraded: frontends left waiting)")
    for line in res.stdout.splitlines():
        console.print(f"  {line}", markup=False, highlight=False)


@click.command("demo")
@click.option(
    "--out", "out_dir", default="evtchn-demo", show_default=True, help="Directory for the plot."
)
@click.option(
    "--hardware",
    "hardware_name",
    default="default",
    show_default=True,
    help="Hardware to tell the story on (built-in name or a hardware file).",
)
def demo_cmd(out_dir: str, hardware_name: str) -> None:
    """The seed's story: dom0 event channels exhausted on XenServer 6.1 and 6.2, and the planner."""
    console = make_console()
    try:
        hardware = resolve_hardware(hardware_name)
    except ToolstackError as e:
        fail(e.message)
        return
    console.print(
        "[bold]How dom0's event channels capped VM density[/] (XenServer 6.2 blog, reference §10) — "
        f"hardware [bold]{hardware.name}[/]: {escape(hardware.description)}"
    )
    try:  # e.g. a hardware file whose dom0 cannot bind its own baseline
        for name in STORY_PROFILES:
            _story(console, name, hardware)
        console.rule("[bold]The planner: the same VM on every profile[/]")
        mix = Mix((Shape("seed", seed_vm_spec()),))
        settings = PlanSettings()
        profiles = list(BUILTIN_PROFILES.values())
        plans = [plan_mix(p, hardware, mix, settings) for p in profiles]
        sims = [simulate(p, hardware, mix, settings) for p in profiles]
    except ToolstackError as e:
        fail(e.message)
        return
    render_compare(console, plans, sims)
    console.print(
        "sim: the toolstack run on a throwaway host until the first VM fails or runs degraded "
        "(✓ = equals the analytic answer)"
    )
    from evtchn.plan.plot import PlotError, write_plot  # matplotlib: only when plotting

    try:
        path = write_plot(
            plans, Path(out_dir) / "density.png", title=f"the example VM on hardware {hardware.name}"
        )
    except PlotError as e:
        fail(str(e))
        return
    console.print(f"plot written to [bold]{path}[/]")
    console.print(
        "next: evtchn plan --profile xenserver-6.2 --vm seed --simulate   |   "
        "evtchn plan --compare --vm my-vm.yaml:3 --vm seed --plot mix.svg"
    )
