"""`evtchn vm …`: VMs on the persisted host; every VM argument is a name or a uuid.

    evtchn vm create web.yaml db.cfg ; evtchn vm create web.yaml --count 20     # web-1 … web-20
    evtchn vm list [--json] ; evtchn vm show web-1 [--json]
    evtchn vm start|shutdown|destroy|reboot|remove VM…          # in vm_power.py

`VM_COMMANDS` registers every verb; each is imported only when it runs. Several VMs run in one process,
one transaction per VM: a failure stops there and says which VM. Exit codes: cli/exits.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from evtchn.cli.app import LazyGroup
from evtchn.cli.hostfile import errors, host_key, notice, open_host, resolve, store_options

if TYPE_CHECKING:
    from evtchn.toolstack.host import Host

MAX_COUNT = 10_000

# name -> "module:attribute": each verb is imported only when it runs (as evtchn's own COMMANDS).
VM_COMMANDS: dict[str, str] = {
    "clone": "evtchn.cli.vm_lifecycle:vm_clone",
    "create": "evtchn.cli.vm:vm_create",
    "destroy": "evtchn.cli.vm_power:vm_destroy",
    "list": "evtchn.cli.vm:vm_list",
    "migrate": "evtchn.cli.vm_lifecycle:vm_migrate",
    "pause": "evtchn.cli.vm_lifecycle:vm_pause",
    "plug-disk": "evtchn.cli.vm_lifecycle:vm_plug_disk",
    "plug-nic": "evtchn.cli.vm_lifecycle:vm_plug_nic",
    "reboot": "evtchn.cli.vm_power:vm_reboot",
    "remove": "evtchn.cli.vm_power:vm_remove",
    "resume": "evtchn.cli.vm_lifecycle:vm_resume",
    "show": "evtchn.cli.vm:vm_show",
    "shutdown": "evtchn.cli.vm_power:vm_shutdown",
    "start": "evtchn.cli.vm_power:vm_start",
    "suspend": "evtchn.cli.vm_lifecycle:vm_suspend",
    "unpause": "evtchn.cli.vm_lifecycle:vm_unpause",
    "unplug": "evtchn.cli.vm_lifecycle:vm_unplug",
}


@click.group("vm", cls=LazyGroup, lazy=VM_COMMANDS)
def vm_group() -> None:
    """VMs on the host kept in the host file."""


# ---------------------------------------------------------------- create


def _renamed(path: str, spec: Any, name: str) -> Any:
    """The spec under another name, validated as a spec file's name is (length, characters)."""
    from pydantic import ValidationError

    from evtchn.cli.hostfile import CliError

    try:
        return type(spec).model_validate({**spec.model_dump(), "name": name})
    except ValidationError as e:
        raise CliError(f"{path}: --count copy name {name!r}: {e.errors()[0]['msg']}") from None


@click.command("create")
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
        copies = []
        for path in spec_files:
            spec, notes = read_spec(path)
            for note in notes:
                notice(note)
            if count == 1:
                copies.append(spec)
            else:
                copies.extend(_renamed(path, spec, f"{spec.name}-{i}") for i in range(1, count + 1))
        store = open_host(host_file, wait)
    steps = []
    for copy in copies:

        def define(host: Host, copy: Any = copy) -> list[str]:
            vm = host.define_vm(copy)
            return [f"created VM {vm.name} ({vm.uuid})"]

        steps.append(Step(copy.name, define))
    run_steps(store, steps, "creating VMs")


# ------------------------------------------------------------- reading


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (fields in docs/cli.md).")
@store_options
def vm_list(as_json: bool, host_file: str | None, wait: float | None) -> None:
    """VMs with their state, domid and dom0 event channels."""
    from evtchn.cli.host import vm_table
    from evtchn.cli.hostread import vm_listing

    with errors():
        vms = vm_listing(open_host(host_file, wait))
    if as_json:
        import json

        click.echo(json.dumps(vms, indent=2))
    else:
        click.echo(vm_table(vms), nl=False)


@click.command("show")
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
