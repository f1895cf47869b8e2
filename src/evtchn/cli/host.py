"""`evtchn host …`: the persisted host, one transaction per command.

    evtchn host create --profile xenserver-6.2 [--hardware H] [--force]
    evtchn host show [--json]

Every command takes `--host FILE` (else $EVTCHN_HOST, else ~/.local/share/evtchn/host.db) and
`--wait SECONDS` (else $EVTCHN_LOCK_TIMEOUT, else 30) for when another process is using the file.
"""

from __future__ import annotations

from typing import Any

import click

from evtchn.cli.hostfile import errors, notice, open_host, store_options
from evtchn.cli.table import render

VM_COLUMNS = [
    ("name", False), ("state", False), ("domid", True), ("type", False), ("vcpus", True),
    ("dom0 ports", True), ("devices", False),
]  # fmt: skip
DOMAIN_COLUMNS = [("domid", True), ("name", False), ("used", True), ("free", True), ("limit", True)]


@click.group("host")
def host_group() -> None:
    """The simulated host kept in a host file."""


@host_group.command("create")
@click.option(
    "--profile", "profile", required=True, metavar="P", help="Host profile name or file, e.g. xenserver-6.2."
)
@click.option("--hardware", "hardware", metavar="H", help="Hardware name or file (default: the profile's).")
@click.option("--force", is_flag=True, help="Replace an existing host file (only ever a host file).")
@store_options
def host_create(
    profile: str, hardware: str | None, force: bool, host_file: str | None, wait: float | None
) -> None:
    """Create a fresh host (dom0 booted, no VMs) in the host file."""
    from evtchn.store import create_store, resolve_path
    from evtchn.toolstack.host import Host

    with errors():
        host = Host.create(profile=profile, hardware=hardware)
        store = create_store(host, resolve_path(host_file), replace=force, timeout=wait, on_wait=notice)
        click.echo(
            f"created host {store.path}: profile {host.profile.name}, dom0 uses {host.dom0_ports_used()} "
            f"event channels, {host.dom0_ports_free()} free"
        )


@host_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (fields in docs/cli.md).")
@store_options
def host_show(as_json: bool, host_file: str | None, wait: float | None) -> None:
    """Profile, event channels used and free per domain, and the VMs."""
    from evtchn.cli.hostread import domain_listing, vm_listing

    with errors():
        store = open_host(host_file, wait)
        with store.snapshot():  # the meta, VM rows and domains of one committed state
            meta = store.host_meta()
            vms = vm_listing(store)
            names = {vm["domid"]: vm["name"] for vm in vms if vm["domid"] is not None}
            domains = domain_listing(store, names)
        # ports `evtchn fault consume` holds (cli/fault.py), from the meta every write refreshes
        fault = int(meta.get("fault_ports", "0"))
    if as_json:
        import json

        doc = {
            "host_file": str(store.path),
            "profile": meta.get("profile", ""),
            "hardware": meta.get("hardware", ""),
            "domains": domains,
            "fault_ports": fault,
            "vms": vms,
        }
        click.echo(json.dumps(doc, indent=2))
        return
    rows = [[str(d["domid"]), d["name"], str(d["used"]), str(d["free"]), str(d["limit"])] for d in domains]
    click.echo(
        f"host file: {store.path}\n"
        f"profile:   {meta.get('profile', '')}\n"
        f"hardware:  {meta.get('hardware', '')}\n"
        + render("event channels per domain", DOMAIN_COLUMNS, rows)
        + (f"fault injection holds {fault} dom0 ports (evtchn fault release frees them)\n" if fault else "")
        + vm_table(vms),
        nl=False,
    )


def vm_table(vms: list[dict[str, Any]]) -> str:
    """The VMs as `vm list` and `host show` print them ("VMs: none" when there are none)."""
    if not vms:
        return "VMs: none\n"
    rows = []
    for vm in vms:
        failed = vm["failed_devices"]
        rows.append(
            [
                vm["name"], vm["power_state"], "-" if vm["domid"] is None else str(vm["domid"]), vm["type"],
                str(vm["vcpus"]), str(vm["dom0_ports"]),
                str(vm["devices"]) + (f" ({failed} failed)" if failed else ""),
            ]
        )  # fmt: skip
    return render("VMs", VM_COLUMNS, rows)


def _register_import() -> None:
    """`host import` lives in cli/host_import.py (the twin); it imports only click at load."""
    from evtchn.cli.host_import import host_import

    host_group.add_command(host_import)


_register_import()
