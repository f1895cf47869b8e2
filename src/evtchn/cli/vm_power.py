"""`evtchn vm start|shutdown|destroy|reboot|remove VM…`: power operations, one transaction per VM.

    evtchn vm start web-1 web-2 ; evtchn vm start --all ; evtchn vm shutdown --all
    evtchn vm destroy VM… ; evtchn vm reboot VM… ; evtchn vm remove VM…

Every VM argument is a name or a uuid, resolved before anything changes. A refused start exits 3
(cli/exits.py); the first failure stops the run and names the VM.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from evtchn.cli.app import fail
from evtchn.cli.hostfile import errors, host_key, notice, open_host, resolve_rows, store_options

if TYPE_CHECKING:
    from evtchn.cli.bulk import Step
    from evtchn.store.rows import VmRow
    from evtchn.store.sqlite import Store
    from evtchn.toolstack.host import Host, Vm


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


def lifecycle(
    names: tuple[str, ...],
    all_: bool,
    all_states: tuple[str, ...] | None,
    host_file: str | None,
    wait: float | None,
    op: Callable[[Host, str], Vm],
    done: Callable[[Vm], list[str]],
    what: str,
) -> None:
    """Run `op(host, key)` on each VM (or with --all, each VM in `all_states`), one transaction each;
    print `done(vm)` after each commit. The shape of every `evtchn vm VERB VM…` command."""
    from evtchn.cli.bulk import Step, run_steps

    with errors():
        store = open_host(host_file, wait)
        targets = _targets(store, names, all_, all_states)

    def step(row: VmRow) -> Step:
        def run(host: Host) -> list[str]:
            return done(op(host, host_key(host.vms, row.uuid)))

        return Step(row.name, run)

    run_steps(store, [step(r) for r in targets], what)


def names_options(all_help: str | None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """VM… arguments, --all (when `all_help` says what it selects), --host and --wait."""

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
    if vm.last_error is not None:  # the guest's kernel died at boot; on_crash said what became of it
        notice(f"{vm.name}: {vm.last_error}")
        where = f"domid {vm.domid}, " if vm.domid is not None else ""
        state = vm.power_state.lower()
        return [f"started {vm.name}: crashed at boot, on_crash {vm.spec.on_crash}: {where}{state}"]
    return [f"started {vm.name}: domid {vm.domid}, {vm.power_state.lower()}"]


@click.command("start")
@click.option("--paused", is_flag=True, help="Leave the domain paused (VM.start's start_paused).")
@names_options("Start every halted VM.")
def vm_start(
    names: tuple[str, ...], all_: bool, paused: bool, host_file: str | None, wait: float | None
) -> None:
    """Start VMs: each all or nothing (a refused start leaves it Halted, frees what it took, exits 3)."""
    lifecycle(
        names, all_, ("Halted",), host_file, wait,
        lambda h, k: h.start_vm(k, paused=paused), _started, "starting VMs",
    )  # fmt: skip


@click.command("shutdown")
@names_options("Shut down every running or paused VM.")
def vm_shutdown(names: tuple[str, ...], all_: bool, host_file: str | None, wait: float | None) -> None:
    """Clean shutdown: the domain goes and every event channel it held is closed."""
    lifecycle(
        names, all_, ("Running", "Paused"), host_file, wait,
        lambda h, k: h.shutdown_vm(k), lambda vm: [f"shut down {vm.name}"], "shutting down VMs",
    )  # fmt: skip


@click.command("destroy")
@names_options("Destroy the domain of every running or paused VM.")
def vm_destroy(names: tuple[str, ...], all_: bool, host_file: str | None, wait: float | None) -> None:
    """Hard power-off (xl destroy / VM.hard_shutdown); the VMs stay defined, Halted."""
    lifecycle(
        names, all_, ("Running", "Paused"), host_file, wait, lambda h, k: h.destroy_vm(k),
        lambda vm: [f"destroyed domain of {vm.name}; it is {vm.power_state.lower()}"], "destroying VMs",
    )  # fmt: skip


@click.command("reboot")
@names_options(None)
def vm_reboot(names: tuple[str, ...], host_file: str | None, wait: float | None) -> None:
    """Reboot: a new domain, with every channel plumbed again (a refused start exits 3)."""
    lifecycle(
        names, False, None, host_file, wait, lambda h, k: h.reboot_vm(k),
        lambda vm: [f"rebooted {vm.name}: domid {vm.domid}"], "rebooting VMs",
    )  # fmt: skip


@click.command("remove")
@names_options(None)
def vm_remove(names: tuple[str, ...], host_file: str | None, wait: float | None) -> None:
    """Forget halted VMs (VM.destroy in XenAPI terms)."""

    def remove(host: Host, key: str) -> Vm:
        vm = host.vm(key)
        host.remove_vm(key)
        return vm

    lifecycle(names, False, None, host_file, wait, remove, lambda vm: [f"removed {vm.name}"], "removing VMs")
