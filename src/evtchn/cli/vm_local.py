"""`evtchn vm-local`: start VMs from spec files on a throwaway in-memory host and show what happened.

    evtchn vm-local web.yaml --profile xenserver-6.1 --count 160
    evtchn vm-local guest.cfg --profile xen-xl --xenstore

A debugging aid for the toolstack: nothing is persisted (the `host`/`vm` commands keep a host file).
"""

from __future__ import annotations

import click

from evtchn.cli.app import fail


@click.command("vm-local")
@click.argument("specs", nargs=-1, required=True)
@click.option(
    "--profile", "profile", default="xenserver-6.2", show_default=True, help="built-in name or file"
)
@click.option("--hardware", "hardware", default=None, help="hardware file (default: the built-in server)")
@click.option(
    "--count", type=click.IntRange(1, 100_000), default=1, show_default=True, help="start each N times"
)
@click.option("--no-boot", is_flag=True, help="start only; the guests do not boot (frontends never connect)")
@click.option("--xenstore", "show_xenstore", is_flag=True, help="dump the last VM's xenstore subtree")
def vm_local(
    specs: tuple[str, ...], profile: str, hardware: str | None, count: int, no_boot: bool, show_xenstore: bool
) -> None:
    """Start VMs from SPECS (.yaml/.toml/.cfg) on a fresh simulated host; one line per start."""
    from evtchn.toolstack import Host, StartError, ToolstackError, read_spec

    try:
        host = Host.create(profile, hardware)
        loaded = []
        for path in specs:
            spec, notes = read_spec(path)
            for note in notes:
                click.echo(f"note: {note}", err=True)
            loaded.append(spec)
    except ToolstackError as e:
        fail(e.message)
        return
    click.echo(
        f"host: {host.profile.name}, dom0 baseline {host.dom0_ports_used()} of "
        f"{host.dom0_ports_usable()} usable ports"
    )
    last = None
    for spec in loaded:
        for i in range(count):
            name = spec.name if count == 1 else f"{spec.name}-{i + 1}"
            try:
                host.define_vm(spec.model_copy(update={"name": name}))
            except ToolstackError as e:
                fail(e.message)
                return
            before = host.dom0_ports_used()
            try:
                vm = host.start_vm(name, boot=not no_boot)
            except StartError as e:
                click.echo(f"{name}: start failed: {e.xenapi_code} {e.xenapi_params}")
                continue
            devs = ", ".join(
                f"{d.kind} {d.devid} {d.state}" + (f" ({d.error})" if d.error else "") for d in vm.devices
            )
            # A guest that died at boot (kernel BUG) is halted again and has no domid.
            where = f"domid {vm.domid} " if vm.domid is not None else ""
            click.echo(
                f"{name}: {where}{vm.power_state.lower()}, dom0 +{host.dom0_ports_used() - before} "
                f"({host.dom0_ports_free()} free); {devs or 'no devices'}"
            )
            for msg in vm.messages:
                click.echo(f"  {msg}")
            last = vm
    if show_xenstore and last is not None and last.domid is not None:
        click.echo(host.xenstore.dump(f"/local/domain/{last.domid}"), nl=False)
    host.check_invariants()
