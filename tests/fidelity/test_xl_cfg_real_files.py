"""xl.cfg files as people really write them: upstream's xlexample style (xen: tools/examples/xlexample.*,
xl.cfg(5)) and what Debian's xen-tools generates (xm-era `file:`/`phy:` disks, `root`, `on_*`). The reader
takes the keys it models and names every other one, by line, without refusing the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from evtchn.toolstack import Host, read_spec
from evtchn.toolstack.errors import SpecError
from evtchn.toolstack.xl_cfg import parse_xl_cfg, to_xl_cfg

# Upstream-style PV guest: direct kernel boot with kernel/ramdisk/extra (xl.cfg(5) "Direct Kernel Boot").
UPSTREAM_PV = """\
# =====================================================================
# Example PV Linux guest configuration
# =====================================================================
name = "debian-pv"
type = "pv"
kernel = "/boot/vmlinuz-6.1.0-28-amd64"
ramdisk = "/boot/initrd.img-6.1.0-28-amd64"
extra = "root=/dev/xvda1 console=hvc0 earlyprintk=xen"
memory = 2048
maxmem = 4096
vcpus = 2
maxvcpus = 4
vif = [ '' ]
disk = [ '/dev/vg/debian-pv,raw,xvda,rw' ]
on_crash = "preserve"
max_event_channels = 2047
"""

# Debian xen-tools style: xm-era disk syntax with a deprecated prefix and no format, `root` and `on_*`.
XEN_TOOLS = """\
#
# Configuration file for the Xen instance web01, created
# by xen-tools on Sun Dec  6 10:00:00 2026.
#

#
#  Kernel + memory size
#
kernel      = '/boot/vmlinuz-6.1.0-28-amd64'
extra       = 'elevator=noop'
ramdisk     = '/boot/initrd.img-6.1.0-28-amd64'

vcpus       = '2'
memory      = '512'

#
#  Disk device(s).
#
root        = '/dev/xvda2 ro'
disk        = [
                  'file:/home/xen/domains/web01/disk.img,xvda2,w',
                  'file:/home/xen/domains/web01/swap.img,xvda1,w',
              ]

#
#  Physical volumes
#

#
#  Hostname
#
name        = 'web01'

#
#  Networking
#
dhcp        = 'dhcp'
vif         = [ 'mac=00:16:3E:2A:4B:01,bridge=xenbr0' ]

#
#  Behaviour
#
on_poweroff = 'destroy'
on_reboot   = 'restart'
on_crash    = 'restart'
"""

# Upstream-style HVM guest with an emulated CD-ROM and old `builder`.
UPSTREAM_HVM = """\
builder = "hvm"
name = "win-hvm"
memory = 4096
vcpus = 4
disk = [ 'phy:/dev/vg/win,hda,w', 'file:/srv/iso/install.iso,hdc:cdrom,r' ]
vif = [ 'mac=00:16:3e:00:00:11,bridge=xenbr0,model=e1000' ]
boot = "dc"
vnc = 1
serial = "pty"
on_crash = "coredump-restart"
"""


def _ignored(notes: list[str]) -> list[str]:
    return [n.split(": ")[1] for n in notes]


def test_upstream_pv_direct_kernel_boot() -> None:
    spec, notes = parse_xl_cfg(UPSTREAM_PV, source="debian-pv.cfg")
    assert (spec.name, spec.type, spec.vcpus, spec.max_vcpus, spec.memory_mib) == (
        "debian-pv",
        "pv",
        2,
        4,
        2048,
    )
    assert [d.vbd_devid for d in spec.disks] == [51712]  # xvda = 202<<8 (xen: docs/misc/vbd-interface.txt)
    assert [n.devid for n in spec.nics] == [0]  # vif = [ '' ]: one NIC with every default
    assert spec.max_event_channels == 2047
    # kernel/ramdisk/extra/maxmem do not change an event-channel count: named, by line, not refused.
    assert notes[0] == "debian-pv.cfg:6: kernel: not modelled, ignored"
    assert _ignored(notes) == ["kernel", "ramdisk", "extra", "maxmem"]
    assert spec.on_crash == "preserve"  # read: a guest that dies at boot stays crashed (crash.py)


def test_xen_tools_generated_file() -> None:
    spec, notes = parse_xl_cfg(XEN_TOOLS, source="web01.cfg")
    assert (spec.name, spec.type, spec.vcpus, spec.memory_mib) == ("web01", "pv", 2, 512)  # quoted numbers
    assert [(d.vbd_devid, d.mode) for d in spec.disks] == [(51714, "rw"), (51713, "rw")]  # xvda2, xvda1
    assert [n.mac for n in spec.nics] == ["00:16:3E:2A:4B:01"]
    assert _ignored(notes) == [
        "kernel",
        "extra",
        "ramdisk",
        "root",
        "dhcp",
        "on_poweroff",
        "on_reboot",
    ]
    assert spec.on_crash == "restart"


def test_upstream_hvm_with_emulated_cdrom() -> None:
    spec, notes = parse_xl_cfg(UPSTREAM_HVM, source="win.cfg")
    assert spec.type == "hvm" and spec.vcpus == 4
    assert [(d.vbd_devid, d.kind, d.mode) for d in spec.disks] == [(768, "disk", "rw"), (5632, "cdrom", "ro")]
    assert not any("on_crash" in n for n in notes) and spec.on_crash == "coredump-restart"


@pytest.mark.parametrize("text", [UPSTREAM_PV, XEN_TOOLS, UPSTREAM_HVM])
def test_real_files_start_on_xen_417(text: str, tmp_path: Path) -> None:
    """Each file starts on the Debian 12 profile and reads back through to_xl_cfg unchanged."""
    f = tmp_path / "guest.cfg"
    f.write_text(text)
    spec, _ = read_spec(f)
    again, _ = parse_xl_cfg(to_xl_cfg(spec), source="again.cfg")
    assert again == spec.model_copy(update={"nics": again.nics}) and len(again.nics) == len(spec.nics)
    host = Host.create("xen-4.17")
    host.define_vm(spec)
    vm = host.start_vm(spec.name)
    assert vm.domid == 1
    host.check_invariants()


def test_a_broken_real_file_names_its_line() -> None:
    broken = XEN_TOOLS.replace("memory      = '512'", "memory      = '512")
    with pytest.raises(SpecError, match=r"^web01\.cfg:14: cannot read the value of memory"):
        parse_xl_cfg(broken, source="web01.cfg")
