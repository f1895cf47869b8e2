"""`evtchn vm suspend|resume|pause|unpause|migrate|clone|plug-disk|plug-nic|unplug`: the rest of the VM
lifecycle, the toolstack's own calls (the same ones the XenAPI endpoint makes), one transaction per VM.

    evtchn vm suspend web-1 ; evtchn vm resume web-1 [--paused]
    evtchn vm pause web-1 ; evtchn vm unpause web-1
    evtchn vm migrate web-1                   # localhost migration: needs the VM's ports twice over
    evtchn vm clone web-1 "web 1 copy"        # a halted VM; names may repeat, as in xapi
    evtchn vm plug-disk web-1 --userdevice 3 [--ro] [--cdrom] ; evtchn vm plug-nic web-1 --devid 1
    evtchn vm unplug web-1 vbd 51728 ; evtchn vm unplug web-1 vif 1

Every VM argument is a name or a uuid (an ambiguous name lists the uuids). Exit codes (cli/exits.py): a
resume or migration the host refuses (dom0 short of ports, HOST_NOT_ENOUGH_FREE_MEMORY) exits 3 and
leaves the VM where it was; a hot-plug whose backend fails exits 3 too, and the device stays defined but
detached with the backend's message (as `evtchn vm show` and VBD.status_detail show), nothing leaked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from evtchn.cli.app import fail
from evtchn.cli.exits import EXIT_REFUSED
from evtchn.cli.hostfile import errors, host_key, open_host, resolve, store_options
from evtchn.cli.vm_power import lifecycle, names_options

if TYPE_CHECKING:
    from evtchn.toolstack.host import Vm
    from evtchn.toolstack.spec import DiskSpec, NicSpec


def _domid(vm: Vm) -> str:
    return f"domid {vm.domid}, {vm.power_state.lower()}"


@click.command("suspend")
@names_options("Suspend every running VM.")
def vm_suspend(names: tuple[str, ...], all_: bool, host_file: str | None, wait: float | None) -> None:
    """Suspend VMs: the domain is torn down and every port on both sides released; the VM is Suspended."""
    lifecycle(
        names, all_, ("Running",), host_file, wait, lambda h, k: h.suspend_vm(k),
        lambda vm: [f"suspended {vm.name}"], "suspending VMs",
    )  # fmt: skip


@click.command("resume")
@click.option("--paused", is_flag=True, help="Leave the new domain paused (VM.resume's start_paused).")
@names_options("Resume every suspended VM.")
def vm_resume(
    names: tuple[str, ...], all_: bool, paused: bool, host_file: str | None, wait: float | None
) -> None:
    """Resume VMs: a new domain binds everything again, so it fails like a start (exit 3, still Suspended)."""
    lifecycle(
        names, all_, ("Suspended",), host_file, wait, lambda h, k: h.resume_vm(k, paused=paused),
        lambda vm: [f"resumed {vm.name}: {_domid(vm)}"], "resuming VMs",
    )  # fmt: skip


@click.command("pause")
@names_options("Pause every running VM.")
def vm_pause(names: tuple[str, ...], all_: bool, host_file: str | None, wait: float | None) -> None:
    """Pause VMs: the domain stops being scheduled; every event channel stays bound."""
    lifecycle(
        names, all_, ("Running",), host_file, wait, lambda h, k: h.pause_vm(k),
        lambda vm: [f"paused {vm.name}"], "pausing VMs",
    )  # fmt: skip


@click.command("unpause")
@names_options("Unpause every paused VM.")
def vm_unpause(names: tuple[str, ...], all_: bool, host_file: str | None, wait: float | None) -> None:
    """Unpause VMs (a VM started --paused boots now, binding its guest's channels)."""
    lifecycle(
        names, all_, ("Paused",), host_file, wait, lambda h, k: h.unpause_vm(k),
        lambda vm: [f"unpaused {vm.name}: {_domid(vm)}"], "unpausing VMs",
    )  # fmt: skip


@click.command("migrate")
@names_options(None)
def vm_migrate(names: tuple[str, ...], host_file: str | None, wait: float | None) -> None:
    """Localhost migration (VM.pool_migrate to this host): the new domain is built and bound while the old
    one still holds its ports; a dom0 without room for both refuses it (exit 3) and the VM stays put."""
    lifecycle(
        names, False, None, host_file, wait, lambda h, k: h.migrate_vm(k),
        lambda vm: [f"migrated {vm.name}: {_domid(vm)}"], "migrating VMs",
    )  # fmt: skip


@click.command("clone")
@click.argument("name", metavar="VM")
@click.argument("new_name", metavar="NEW_NAME")
@store_options
def vm_clone(name: str, new_name: str, host_file: str | None, wait: float | None) -> None:
    """Clone a halted VM (VM.clone): the same devices and settings under a new uuid; binds nothing."""
    with errors():
        store = open_host(host_file, wait)
        with store.transaction() as host:
            key = host_key(host.vms, resolve(name, host.vms.values()).uuid)
            vm = host.clone_vm(key, new_name)
            line = f"cloned {host.vm(key).name} as {vm.name} ({vm.uuid})"
    click.echo(line)


def _plug(name: str, device: DiskSpec | NicSpec, host_file: str | None, wait: float | None) -> None:
    """Plug one device; a backend failure is committed as it ended (device detached, its message kept)."""
    from evtchn.toolstack.errors import DeviceError

    refused: str | None = None
    with errors():
        store = open_host(host_file, wait)
        with store.transaction() as host:
            key = host_key(host.vms, resolve(name, host.vms.values()).uuid)
            vm_name = host.vm(key).name
            try:
                dev = host.plug_device(key, device)
            except DeviceError as e:
                if e.xenapi_code != "INTERNAL_ERROR":  # already attached, bad device: nothing to keep
                    raise
                refused = f"{vm_name}: {dev_name(device)} not connected: {e.message}"
            else:
                line = f"plugged {dev.kind} {dev.devid} into {vm_name}: {dev.state}"
    if refused is not None:
        fail(refused, EXIT_REFUSED)
    click.echo(line)


def dev_name(device: DiskSpec | NicSpec) -> str:
    from evtchn.toolstack.spec import DiskSpec

    return f"vbd {device.vbd_devid}" if isinstance(device, DiskSpec) else f"vif {device.devid}"


@click.command("plug-disk")
@click.argument("name", metavar="VM")
@click.option("--userdevice", type=click.IntRange(0, 254), required=True, help="xapi's userdevice (0-254).")
@click.option("--ro", is_flag=True, help="Read-only.")
@click.option("--cdrom", is_flag=True, help="A CD drive rather than a disk.")
@store_options
def vm_plug_disk(
    name: str, userdevice: int, ro: bool, cdrom: bool, host_file: str | None, wait: float | None
) -> None:
    """Hot-plug a disk into a running VM (VBD.plug): its channels bind when frontend and backend connect."""
    from evtchn.toolstack.spec import DiskSpec

    disk = DiskSpec(userdevice=userdevice, mode="ro" if ro else "rw", kind="cdrom" if cdrom else "disk")
    _plug(name, disk, host_file, wait)


@click.command("plug-nic")
@click.argument("name", metavar="VM")
@click.option("--devid", type=click.IntRange(0, 255), required=True, help="The NIC's number (vif<domid>.N).")
@click.option("--mac", metavar="MAC", help="aa:bb:cc:dd:ee:ff (default: derived).")
@store_options
def vm_plug_nic(name: str, devid: int, mac: str | None, host_file: str | None, wait: float | None) -> None:
    """Hot-plug a NIC into a running VM (VIF.plug): its channels bind when frontend and backend connect."""
    from pydantic import ValidationError

    from evtchn.toolstack.spec import NicSpec

    try:
        nic = NicSpec(devid=devid, mac=mac)
    except ValidationError:
        fail(f"--mac {mac!r}: not a MAC address like aa:bb:cc:dd:ee:ff")
        return
    _plug(name, nic, host_file, wait)


@click.command("unplug")
@click.argument("name", metavar="VM")
@click.argument("kind", type=click.Choice(["vbd", "vif"]))
@click.argument("devid", type=click.IntRange(0, 1 << 28))
@store_options
def vm_unplug(name: str, kind: str, devid: int, host_file: str | None, wait: float | None) -> None:
    """Hot-unplug a device (VBD.unplug / VIF.unplug): backend and frontend close their ports; the device
    stays defined, detached. DEVID as `evtchn vm show` lists it (a disk's xenstore number, e.g. 51728)."""
    with errors():
        store = open_host(host_file, wait)
        with store.transaction() as host:
            key = host_key(host.vms, resolve(name, host.vms.values()).uuid)
            host.unplug_device(key, kind, devid)
            line = f"unplugged {kind} {devid} from {host.vm(key).name}"
    click.echo(line)
