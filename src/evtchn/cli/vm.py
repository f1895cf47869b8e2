"""`evtchn vm …`: VMs on the persisted host; every VM argument is a name or a uuid.

    evtchn vm create web.yaml db.cfg ; evtchn vm create web.yaml --count 20     # web-1 … web-20
    evtchn vm start web-1 web-2 ; evtchn vm start --all ; evtchn vm shutdown --all
    evtchn vm list [--json] ; evtchn vm show web-1 [--json]
    evtchn vm destroy NAME… ; evtchn vm reboot NAME… ; evtchn vm remove NAME…

Several VMs run in one process, one transaction per VM: a failure stops there and says which VM.
Exit codes (cli/exits.py): 2 usage and input errors, 3 a start the host refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from evtchn.cli.app import fail
from evtchn.cli.hostfile import (
    errors,
    host_key,
    notice,
    open_host,
    open_rows,
    resolve,
    resolve_rows,
    store_options,
)  # fmt: skip

if TYPE_CHECKING:
    from evtchn.cli.bulk import Step
    from evtchn.store.rows import VmRow
    from evtchn.store.sqlite import Store
    from evtchn.toolstack.host import Host, Vm

MAX_COUNT = 10_000


@click.group("vm")
def vm_group() -> None:
    """VMs on the host kept in the host file."""


# ---------------------------------------------------------------- create


@vm_group.command("create")
@click.argument("spec_files", metavar="SPEC...", nargs=-1, required=True)
@click.option(
    "--count", type=click.IntRange(1, MAX_COUNT), default=1, show_default=True, metavar="N",
    help="Define N copies of each SPEC, named NAME-1 … NAME-N.",
)  # fmt: skip
@store_options
def vm_create(spec_files: tuple[str, ...], count: int, host_file: str | None, wait: float | None) -> None:
    """Define VMs from spec files (.yaml, .toml or xl.cfg); they start Halted.

    Every file is read before anything is defined, so a bad file changes nothing.
    """
    from evtchn.cli.bulk import Step, run_steps
    from evtchn.toolstack.spec import read_spec

    with errors():
        specs = []
        for path in spec_files:
            spec, notes = read_spec(path)
            for note in notes:
                notice(note)
            specs.append(spec)
        store = open_host(host_file, wait)
    steps = []
    for spec in specs:
        for i in range(1, count + 1):
            copy = spec if count == 1 else spec.model_copy(update={"name": f"{spec.name}-{i}"})

            def define(host: Host, copy: Any = copy) -> list[str]:
                vm = host.define_vm(copy)
                return [f"created VM {vm.name} ({vm.uuid})"]

            steps.append(Step(copy.name, define))
    run_steps(store, steps, "creating VMs")


# ------------------------------------------------------------- lifecycle


def _targets(
    store: Store[Host], names: tuple[str, ...], all_: bool, all_states: tuple[str, ...] | None
) -> list[VmRow]:
    """The VMs named (each a name or uuid), or with --all every VM in `all_states`; resolved up front."""
    if all_ and names:
        fail("give VM names or --all, not both")
    if not all_ and not names:
        fail("give at least one VM name or uuid" + (" (or --all)" if all_states else ""))
    rows = store.vms()
    if all_:
        assert all_states is not None
        return [r for r in sorted(rows, key=lambda r: (r.name, r.uuid)) if r.power_state in all_states]
    return resolve_rows(names, rows)


def _lifecycle(
    names: tuple[str, ...],
    all_: bool,
    all_states: tuple[str, ...] | None,
    host_file: str | None,
    wait: float | None,
    op: Callable[[Host, str], Vm],
    done: Callable[[Vm], list[str]],
    what: str,
) -> None:
    from evtchn.cli.bulk import Step, run_steps

    with errors():
        store = open_host(host_file, wait)
        targets = _targets(store, names, all_, all_states)

    def step(row: VmRow) -> Step:
        def run(host: Host) -> list[str]:
            return done(op(host, host_key(host.vms, row.uuid)))

        return Step(row.name, run)

    run_steps(store, [step(r) for r in targets], what)


def _names_options(all_help: str | None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(f: Callable[..., Any]) -> Callable[..., Any]:
        f = click.argument("names", metavar="VM...", nargs=-1)(f)
        if all_help is not None:
            f = click.option("--all", "all_", is_flag=True, help=all_help)(f)
        return store_options(f)

    return wrap


def _started(vm: Vm) -> list[str]:
    for d in vm.devices:  # a degraded device is a note, not a failure (the VM runs)
        if not d.connected and d.error:
            notice(f"{vm.name}: {d.kind} {d.devid} not connected: {d.error}")
    return [f"started {vm.name}: domid {vm.domid}, {vm.power_state.lower()}"]


@vm_group.command("start")
@click.option("--paused", is_flag=True, help="Leave the domain paused (VM.start's start_paused).")
@_names_options("Start every halted VM.")
def vm_start(
    names: tuple[str, ...], all_: bool, paused: bool, host_file: str | None, wait: float | None
) -> None:
    """Start VMs: each all or nothing (a refused start leaves it Halted, frees what it took, exits 3)."""
    _lifecycle(
        names, all_, ("Halted",), host_file, wait,
        lambda h, k: h.start_vm(k, paused=paused), _started, "starting VMs",
    )  # fmt: skip


@vm_group.command("shutdown")
@_names_options("Shut down every running or paused VM.")
def vm_shutdown(names: tuple[str, ...], all_: bool, host_file: str | None, wait: float | None) -> None:
    """Clean shutdown: the domain goes and every event channel it held is closed."""
    _lifecycle(
        names, all_, ("Running", "Paused"), host_file, wait,
        lambda h, k: h.shutdown_vm(k), lambda vm: [f"shut down {vm.name}"], "shutting down VMs",
    )  # fmt: skip


@vm_group.command("destroy")
@_names_options("Destroy the domain of every running or paused VM.")
def vm_destroy(names: tuple[str, ...], all_: bool, host_file: str | None, wait: float | None) -> None:
    """Hard power-off (xl destroy / VM.hard_shutdown); the VMs stay defined, Halted."""
    _lifecycle(
        names, all_, ("Running", "Paused"), host_file, wait, lambda h, k: h.destroy_vm(k),
        lambda vm: [f"destroyed domain of {vm.name}; it is {vm.power_state.lower()}"], "destroying VMs",
    )  # fmt: skip


@vm_group.command("reboot")
@_names_options(None)
def vm_reboot(names: tuple[str, ...], host_file: str | None, wait: float | None) -> None:
    """Reboot: a new domain, with every channel plumbed again (a refused start exits 3)."""
    _lifecycle(
        names, False, None, host_file, wait, lambda h, k: h.reboot_vm(k),
        lambda vm: [f"rebooted {vm.name}: domid {vm.domid}"], "rebooting VMs",
    )  # fmt: skip


@vm_group.command("remove")
@_names_options(None)
def vm_remove(names: tuple[str, ...], host_file: str | None, wait: float | None) -> None:
    """Forget halted VMs (VM.destroy in XenAPI terms)."""

    def remove(host: Host, key: str) -> Vm:
        vm = host.vm(key)
        host.remove_vm(key)
        return vm

    _lifecycle(names, False, None, host_file, wait, remove, lambda vm: [f"removed {vm.name}"], "removing VMs")


# ------------------------------------------------------------- reading


@vm_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (fields in docs/cli.md).")
@store_options
def vm_list(as_json: bool, host_file: str | None, wait: float | None) -> None:
    """VMs with their state, domid and dom0 event channels."""
    from evtchn.cli.host import vm_table
    from evtchn.cli.hostread import vm_listing

    with errors():
        vms = vm_listing(open_rows(host_file, wait))
    if as_json:
        import json

        click.echo(json.dumps(vms, indent=2))
    else:
        click.echo(vm_table(vms), nl=False)


@vm_group.command("show")
@click.argument("name", metavar="VM")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (fields in docs/cli.md).")
@store_options
def vm_show(name: str, as_json: bool, host_file: str | None, wait: float | None) -> None:
    """One VM: state, the dom0 ports it holds by kind, and each device's state and backend error."""
    from evtchn.cli.vm_show import render_vm, vm_record

    with errors():
        host = open_host(host_file, wait).read()
        key = host_key(host.vms, resolve(name, host.vms.values()).uuid)
        info = vm_record(host, key)
    if as_json:
        import json

        click.echo(json.dumps(info, indent=2))
    else:
        click.echo(render_vm(info), nl=False)
