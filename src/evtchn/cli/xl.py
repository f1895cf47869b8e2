"""`evtchn xl-list`: the host's domains as `xl list` prints them (xen: tools/xl/xl_list.c).

    evtchn xl-list --host h.db
    Name                                        ID   Mem VCPUs	State
    Domain-0                                     0  4096     4     r-----
    (null)                                       1     0     1     --p--d

A failed creation's dying domain shows as `(null)` with `--p--d`; a crashed guest kept by on_crash=preserve
as `---sc-` (xl) or `--psc-` (xenopsd pauses it). See toolstack/xl_list.py.
"""

from __future__ import annotations

import click

from evtchn.cli.hostfile import errors, open_host, store_options


@click.command("xl-list")
@store_options
def xl_list_cmd(host_file: str | None, wait: float | None) -> None:
    """List the domains as `xl list` does: name, domid, memory, vCPUs, state."""
    from evtchn.toolstack.xl_list import format_xl_list, xl_list

    with errors():
        host = open_host(host_file, wait).read()
        click.echo(format_xl_list(xl_list(host.plumbing)))
