"""`evtchn fault …`: rehearse dom0 event-channel exhaustion on the persisted host, one transaction each.

    evtchn fault consume [--domain 0] --leave-free K     # bind unbound ports until K are left free
    evtchn fault release [--domain 0] [--count N | --all]
    evtchn fault show

The ports are held by a dom0 process named "evtchn-fault", as a process holding /dev/xen/evtchn holds
them (IOCTL_EVTCHN_BIND_UNBOUND_PORT, remote domain 0; toolstack/fault.py). Bad arguments exit 2.
"""

from __future__ import annotations

import click

from evtchn.cli.hostfile import CliError, errors, open_host, store_options


@click.group("fault")
def fault_group() -> None:
    """Fault injection: hold dom0 event channels the way a /dev/xen/evtchn user does."""


@fault_group.command("consume")
@click.option("--domain", "domid", type=int, default=0, show_default=True, help="Domain whose table to fill.")
@click.option("--leave-free", "leave_free", type=int, required=True, metavar="K", help="Ports to leave free.")
@store_options
def consume_cmd(domid: int, leave_free: int, host_file: str | None, wait: float | None) -> None:
    """Bind unbound ports (remote domain 0) until K are left free in the domain's table."""
    from evtchn.toolstack.fault import consume

    with errors():
        store = open_host(host_file, wait)
        with store.transaction() as host:
            got = consume(host.plumbing, leave_free, host.dom0_ports_free(), domid)
            held, free = host.plumbing.fault.count(), host.dom0_ports_free()
    click.echo(f"fault injection bound {len(got)} ports in domain {domid}: holds {held}, {free} left free")


@fault_group.command("release")
@click.option("--domain", "domid", type=int, default=0, show_default=True, help="Domain whose ports to free.")
@click.option("--count", "count", type=int, metavar="N", help="Close the N most recently bound ports.")
@click.option("--all", "all_", is_flag=True, help="Close every port fault injection holds (the default).")
@store_options
def release_cmd(domid: int, count: int | None, all_: bool, host_file: str | None, wait: float | None) -> None:
    """Close ports fault injection holds (all of them unless --count N)."""
    from evtchn.toolstack.fault import release

    with errors():
        if all_ and count is not None:
            raise CliError("give --count N or --all, not both")
        store = open_host(host_file, wait)
        with store.transaction() as host:
            gone = release(host.plumbing, count, domid)
            held, free = host.plumbing.fault.count(), host.dom0_ports_free()
    click.echo(f"fault injection closed {len(gone)} ports in domain {domid}: holds {held}, {free} free")


@fault_group.command("show")
@store_options
def show_cmd(host_file: str | None, wait: float | None) -> None:
    """How many ports fault injection holds, and dom0's free ports."""
    with errors():
        host = open_host(host_file, wait).read()
    click.echo(
        f"fault injection holds {host.plumbing.fault.count()} ports; dom0 has {host.dom0_ports_free()} free"
    )
