"""What a booted Linux guest sees of its PV devices, as its own tools show them.

    guest_view(vm).partitions     # ["xvda", "xvdb"]: /proc/partitions, connected disks only
    guest_view(vm).interfaces     # ["eth0"]: `ip link`

Sources (linux 6.1.166): blkfront adds a disk's gendisk only in blkfront_connect(), on the backend's
Connected (drivers/block/xen-blkfront.c blkback_changed -> blkfront_connect -> device_add_disk), so a disk
whose backend failed or whose frontend got no port never appears in /proc/partitions. netfront registers
its net_device in xennet_connect() once talk_to_netback() succeeded (drivers/net/xen-netfront.c, on the
backend's InitWait), turns the carrier on there and goes Connected without waiting for netback; a later
Closing only closes the xenbus device (xenbus_frontend_closed), so a NIC whose backend failed is still
listed (with carrier, passing no traffic), and only a NIC whose frontend got no port is absent.
Interfaces are named eth<N> in frontend order, as the kernel names them before udev renames.
"""

from __future__ import annotations

from dataclasses import dataclass

from evtchn.toolstack.records import Vm
from evtchn.toolstack.spec_model import xvd_name


@dataclass(frozen=True, slots=True)
class GuestView:
    partitions: list[str]
    interfaces: list[str]


def disk_name(devid: int) -> str:
    """blkfront's name for a virtual-device number (xen-blkfront.c xlbd_* / blkif_ioctl naming: major 202
    is xvd, 16 minors per disk; the extended 1<<28 form numbers the disk directly)."""
    if devid & (1 << 28):
        n = (devid >> 8) & 0xFFFFF
    elif devid >> 8 == 202:
        n = (devid >> 4) & 0xF
    else:
        return str(devid)
    return xvd_name(n)


def guest_view(vm: Vm) -> GuestView:
    """The guest's block devices and network interfaces once it booted (empty before, or without PV
    drivers: emulated devices are not blkfront's or netfront's)."""
    if not vm.booted:
        return GuestView([], [])
    disks = [disk_name(d.devid) for d in vm.devices if d.kind == "vbd" and d.state == "connected"]
    # a NIC whose frontend holds its ports; a detached one (unplugged, or a hot-plug the toolstack took
    # back) was removed, and netfront_remove unregistered its interface
    nics = [d for d in vm.devices if d.kind == "vif" and d.guest_ports and d.state in ("connected", "failed")]
    return GuestView(disks, [f"eth{i}" for i in range(len(nics))])
