"""`evtchn host import`: a host file that is a twin of a real host, from what an admin captured on it.

    evtchn host import lsevtchn-0.txt --xl-list xl-list.json --xl-info xl-info.txt --host twin.db
    evtchn host import e-dump.txt --xe-vm-list vms.txt --profile xenserver-6.2 --host twin.db --json

Prints each domain's dom0 ports on the real host and in the twin, and every value it had to assume.
Then `evtchn can-start SPEC --max --host twin.db` answers how many more fit (docs/twin.md).
"""

from __future__ import annotations

import json
from typing import Any

import click

from evtchn.cli.hostfile import CliError, errors, notice, store_options
from evtchn.cli.table import render

COLUMNS = [
    ("domid", True), ("name", False), ("shape from", False), ("real ports", True), ("twin ports", True),
    ("state", False),
]  # fmt: skip


@click.command("import")
@click.argument("dumps", nargs=-1, required=True, metavar="DUMP...")
@click.option("--xl-list", "xl_list", metavar="FILE", help="`xl list -l` output (libxl's JSON).")
@click.option("--xe-vm-list", "xe_list", metavar="FILE", help="`xe vm-list params=all` output.")
@click.option("--xl-info", "xl_info", metavar="FILE", help="`xl info` output (host CPUs and memory).")
@click.option(
    "--xenstore-ls", "xenstore_ls", metavar="FILE", help="`xenstore-ls -f` output (each VM's devices)."
)
@click.option("--profile", "profile", metavar="P", help="Profile of the real host (default: from the dump).")
@click.option("--force", is_flag=True, help="Replace an existing host file (only ever a host file).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@store_options
def host_import(
    dumps: tuple[str, ...],
    xl_list: str | None,
    xe_list: str | None,
    xl_info: str | None,
    xenstore_ls: str | None,
    profile: str | None,
    force: bool,
    as_json: bool,
    host_file: str | None,
    wait: float | None,
) -> None:
    """Build a host file from `lsevtchn 0` or an 'e' dump (DUMP...) and, optionally, the toolstack's
    listings: dom0's baseline and each running VM's shape and ports, saying what it had to assume."""
    from evtchn.store import create_store, resolve_path
    from evtchn.twin.formats import CaptureError
    from evtchn.twin.importer import import_host

    with errors():
        try:
            result = import_host(
                list(dumps),
                xl_list=xl_list,
                xe_list=xe_list,
                xl_info=xl_info,
                xenstore_ls=xenstore_ls,
                profile=profile,
            )
        except CaptureError as e:
            raise CliError(str(e)) from None
        store = create_store(
            result.host, resolve_path(host_file), replace=force, timeout=wait, on_wait=notice
        )
    host = result.host
    doc: dict[str, Any] = {
        "host_file": str(store.path),
        "inputs": result.inputs,
        "profile": host.profile.name,
        "dom0": {
            "limit": host.dom0_ports_usable(),
            "real_used": result.dom0_real,
            "twin_used": result.dom0_twin,
            "twin_free": host.dom0_ports_free(),
        },
        "domains": [
            {
                "domid": d.domid,
                "name": d.name,
                "shape_from": d.shape_from,
                "real_dom0_ports": d.real_ports,
                "twin_dom0_ports": d.twin_ports,
                "state": d.state,
            }
            for d in result.domains
        ],
        "assumed": result.assumed,
    }
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    rows = [
        [str(d.domid), d.name, d.shape_from, str(d.real_ports), str(d.twin_ports), d.state]
        for d in result.domains
    ]
    click.echo(
        f"imported {store.path}: profile {host.profile.name}; dom0 uses {result.dom0_twin} of "
        f"{host.dom0_ports_usable()} ports in the twin (real host: {result.dom0_real}), "
        f"{host.dom0_ports_free()} free; {len(result.domains)} guest domains\n"
        + (render("domains (dom0 ports each holds)", COLUMNS, rows) if rows else "no guest domains\n")
        + "".join(f"assumed: {a}\n" for a in result.assumed),
        nl=False,
    )
