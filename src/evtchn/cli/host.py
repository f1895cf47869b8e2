"""`evtchn host …` and `evtchn vm …`: the persisted host, one transaction per command.

    evtchn host create --profile xenserver-6.2 [--hardware H] [--force]
    evtchn vm create web1.yaml
    evtchn vm start web1 ; evtchn vm list ; evtchn vm show web1 ; evtchn host show
    evtchn vm shutdown web1 ; evtchn vm destroy web1 ; evtchn vm remove web1

Every command takes `--host FILE` (else $EVTCHN_HOST, else ~/.local/share/evtchn/host.db) and
`--wait SECONDS` (else $EVTCHN_LOCK_TIMEOUT, else 30) for when another process is using the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich import box
from rich.console import Console
from rich.table import Table

from evtchn.cli import fail

if TYPE_CHECKING:
    from evtchn.store.sqlite import Store
    from evtchn.toolstack.host import Host, Vm

F = TypeVar("F", bound=Callable[..., Any])


def register(main: click.Group) -> None:
    main.add_command(host_group)
    main.add_command(vm_group)


def _store_options(f: F) -> F:
    f = click.option(
        "--wait", "wait", type=click.FloatRange(min=0), metavar="SECONDS",
        help="How long to wait for another process using the host file (default 30, $EVTCHN_LOCK_TIMEOUT).",
    )(f)  # fmt: skip
    return click.option(
        "--host", "host_file", metavar="FILE",
        help="Host file (default: $EVTCHN_HOST, else $XDG_DATA_HOME/evtchn/host.db).",
    )(f)  # fmt: skip


def _notice(message: str) -> None:
    click.echo(f"evtchn: {message}", err=True)


@contextmanager
def _errors() -> Iterator[None]:
    """Store and toolstack errors leave as one line on stderr and exit status 2."""
    from evtchn.store import StoreError
    from evtchn.toolstack.errors import ToolstackError

    try:
        yield
    except StoreError as e:
        fail(e.message)
    except ToolstackError as e:
        fail(e.message)


def _open(host_file: str | None, wait: float | None) -> Store[Host]:
    from evtchn.store import open_store

    return open_store(host_file, timeout=wait, on_wait=_notice)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


# ---------------------------------------------------------------------- host


@click.group("host")
def host_group() -> None:
    """The simulated host kept in a host file."""


@host_group.command("create")
@click.option(
    "--profile", "profile", required=True, metavar="P", help="Host profile name or file, e.g. xenserver-6.2."
)
@click.option("--hardware", "hardware", metavar="H", help="Hardware name or file (default: the profile's).")
@click.option("--force", is_flag=True, help="Replace an existing host file (only ever a host file).")
@_store_options
def host_create(
    profile: str, hardware: str | None, force: bool, host_file: str | None, wait: float | None
) -> None:
    """Create a fresh host (dom0 booted, no VMs) in the host file."""
    from evtchn.store import create_store, resolve_path
    from evtchn.toolstack.host import Host

    with _errors():
        host = Host.create(profile=profile, hardware=hardware)
        store = create_store(host, resolve_path(host_file), replace=force, timeout=wait, on_wait=_notice)
        click.echo(
            f"created host {store.path}: profile {host.profile.name}, dom0 uses {host.dom0_ports_used()} "
            f"event channels, {host.dom0_ports_free()} free"
        )


@host_group.command("show")
@_store_options
def host_show(host_file: str | None, wait: float | None) -> None:
    """Profile, event channels used and free per domain, and the VMs."""
    with _errors():
        store = _open(host_file, wait)
        host = store.read()
        meta = store.host_meta()
    names = {0: "Domain-0"} | {vm.domid: vm.name for vm in host.vms.values() if vm.domid is not None}
    out = _console()
    out.print(f"host file: {store.path}")
    out.print(f"profile:   {meta.get('profile', '')}")
    out.print(f"hardware:  {meta.get('hardware', '')}")
    t = Table(box=box.SIMPLE, title="event channels per domain", title_justify="left")
    for col in ("domid", "name", "used", "free", "limit"):
        t.add_column(col, justify="right" if col != "name" else "left")
    for domid in sorted(host.hv.domains):
        d = host.hv.domains[domid]
        used = d.active_evtchns
        t.add_row(str(domid), names.get(domid, "?"), str(used), str(d.limit_port - used), str(d.limit_port))
    out.print(t)
    _vm_table(out, store)


def _vm_table(out: Console, store: Store[Host]) -> None:
    t = Table(box=box.SIMPLE, title="VMs", title_justify="left")
    for col in ("name", "state", "domid", "type", "vcpus", "dom0 ports", "devices"):
        t.add_column(col, justify="right" if col in ("domid", "vcpus", "dom0 ports") else "left")
    devices = store.devices()
    for row in store.vms():
        mine = [d for d in devices if d.vm_ref == row.ref]
        failed = [d for d in mine if d.status_code]
        dev = f"{len(mine)}" + (f" ({len(failed)} failed)" if failed else "")
        t.add_row(
            row.name, row.power_state, "-" if row.domid is None else str(row.domid), row.vm_type,
            str(row.vcpus), str(row.dom0_ports), dev,
        )  # fmt: skip
    if not t.row_count:
        out.print("VMs: none")
    else:
        out.print(t)


# ------------------------------------------------------------------------ vm


@click.group("vm")
def vm_group() -> None:
    """VMs on the host kept in the host file."""


@vm_group.command("create")
@click.argument("spec_file", metavar="SPEC")
@_store_options
def vm_create(spec_file: str, host_file: str | None, wait: float | None) -> None:
    """Define a VM from a spec file (.yaml, .toml or xl.cfg); it starts Halted."""
    from evtchn.toolstack.spec import read_spec

    with _errors():
        spec, notes = read_spec(spec_file)
        for note in notes:
            _notice(note)
        store = _open(host_file, wait)
        with store.transaction() as host:
            vm = host.define_vm(spec)
        click.echo(f"created VM {vm.name} ({vm.uuid})")


def _lifecycle(name: str, host_file: str | None, wait: float | None, op: Callable[[Host, str], object]) -> Vm:
    """Run one lifecycle operation in one transaction; the VM as saved."""
    with _errors():
        store = _open(host_file, wait)
        with store.transaction() as host:
            op(host, name)
            return host.vms[name]
    raise AssertionError("unreachable: fail() exits")


@vm_group.command("start")
@click.argument("name")
@click.option("--paused", is_flag=True, help="Leave the domain paused (VM.start's start_paused).")
@_store_options
def vm_start(name: str, paused: bool, host_file: str | None, wait: float | None) -> None:
    """Start a VM: all of it happens, or nothing (a failure leaves it Halted and frees what it took)."""
    vm = _lifecycle(name, host_file, wait, lambda h, n: h.start_vm(n, paused=paused))
    click.echo(f"started {vm.name}: domid {vm.domid}, {vm.power_state.lower()}")
    for d in vm.devices:
        if not d.connected and d.error:
            _notice(f"{vm.name}: {d.kind} {d.devid} not connected: {d.error}")


@vm_group.command("shutdown")
@click.argument("name")
@_store_options
def vm_shutdown(name: str, host_file: str | None, wait: float | None) -> None:
    """Clean shutdown: the domain goes and every event channel it held is closed."""
    vm = _lifecycle(name, host_file, wait, lambda h, n: h.shutdown_vm(n))
    click.echo(f"shut down {vm.name}")


@vm_group.command("destroy")
@click.argument("name")
@_store_options
def vm_destroy(name: str, host_file: str | None, wait: float | None) -> None:
    """Hard power-off (xl destroy / VM.hard_shutdown); the VM stays defined, Halted."""
    vm = _lifecycle(name, host_file, wait, lambda h, n: h.destroy_vm(n))
    click.echo(f"destroyed domain of {vm.name}; it is {vm.power_state.lower()}")


@vm_group.command("reboot")
@click.argument("name")
@_store_options
def vm_reboot(name: str, host_file: str | None, wait: float | None) -> None:
    """Reboot: a new domain, with every channel plumbed again."""
    vm = _lifecycle(name, host_file, wait, lambda h, n: h.reboot_vm(n))
    click.echo(f"rebooted {vm.name}: domid {vm.domid}")


@vm_group.command("remove")
@click.argument("name")
@_store_options
def vm_remove(name: str, host_file: str | None, wait: float | None) -> None:
    """Forget a halted VM (VM.destroy in XenAPI terms)."""
    with _errors():
        store = _open(host_file, wait)
        with store.transaction() as host:
            host.remove_vm(name)
    click.echo(f"removed {name}")


@vm_group.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_store_options
def vm_show(name: str, as_json: bool, host_file: str | None, wait: float | None) -> None:
    """One VM: state, the dom0 ports it holds by kind, and each device's state and backend error."""
    import json

    with _errors():
        host = _open(host_file, wait).read()
        vm = host.vm(name)
        held = host.vm_dom0_ports(name)
    devices = [
        {
            "kind": d.kind,
            "devid": d.devid,
            "state": d.state,
            "connected": d.connected,
            "error": d.error,
            "frontend_error": d.frontend_error,
            "queues": d.queues,
            "split": d.split,
            "dom0_ports": d.dom0_ports,
            "guest_ports": d.guest_ports,
        }
        for d in vm.devices
    ]
    info = {
        "name": vm.name,
        "uuid": vm.uuid,
        "type": vm.spec.type,
        "power_state": vm.power_state,
        "domid": vm.domid,
        "vcpus": vm.spec.vcpus,
        "memory_mib": vm.spec.memory_mib,
        "dom0_ports": {kind: ports for kind, ports in held.items() if ports},
        "devices": devices,
        "messages": vm.messages,
        "last_error": vm.last_error,
    }
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    out = _console()
    domid = "-" if vm.domid is None else str(vm.domid)
    out.print(f"{vm.name} ({vm.uuid}): {vm.spec.type}, {vm.power_state}, domid {domid}")
    out.print(f"  {vm.spec.vcpus} vCPU(s), {vm.spec.memory_mib} MiB")
    total = sum(len(p) for p in held.values())
    by_kind = ", ".join(f"{k} {len(p)}" for k, p in held.items() if p)
    out.print(f"  dom0 ports held: {total}" + (f" ({by_kind})" if by_kind else ""))
    if vm.devices:
        t = Table(box=box.SIMPLE, title="devices", title_justify="left")
        for col in ("kind", "devid", "state", "dom0 ports", "guest ports"):
            t.add_column(col)
        for d in vm.devices:
            t.add_row(
                d.kind, str(d.devid), d.state, " ".join(map(str, d.dom0_ports)) or "-",
                " ".join(map(str, d.guest_ports)) or "-",
            )  # fmt: skip
        out.print(t)
        for d in vm.devices:  # one line each, never wrapped, so scripts can grep them
            if d.error or d.frontend_error:
                out.print(f"  {d.kind} {d.devid}: {d.error or d.frontend_error}")
    if vm.last_error:
        out.print(f"  last error: {vm.last_error}")
    for m in vm.messages:
        out.print(f"  log: {m}")


@vm_group.command("list")
@_store_options
def vm_list(host_file: str | None, wait: float | None) -> None:
    """VMs with their state, domid and dom0 event channels."""
    with _errors():
        store = _open(host_file, wait)
        _vm_table(_console(), store)
