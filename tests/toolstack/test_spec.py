"""VM specs from YAML, TOML and real xl.cfg files; every bad input names the file and the line or field."""

from __future__ import annotations

from pathlib import Path

import pytest

from evtchn.toolstack import SpecError, load_spec, read_spec
from evtchn.toolstack.spec import parse_xl_cfg, vdev_to_devid, xvd_devid


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_yaml_spec(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "web.yaml",
        "name: web01\ntype: hvm\nvcpus: 2\nmemory_mib: 2048\n"
        "disks:\n  - userdevice: 0\n  - userdevice: 1\n    mode: ro\n    kind: cdrom\n"
        "nics:\n  - devid: 0\n    mac: '00:16:3e:00:00:01'\n    queues: 2\n"
        "pv_drivers: false\nmax_event_channels: 255\n",
    )
    spec = load_spec(p)
    assert (spec.name, spec.type, spec.vcpus, spec.memory_mib) == ("web01", "hvm", 2, 2048)
    assert [d.vbd_devid for d in spec.disks] == [51712, 51728]
    assert spec.disks[1].kind == "cdrom" and spec.disks[1].mode == "ro"
    assert spec.nics[0].queues == 2 and not spec.pv_drivers and spec.max_event_channels == 255


def test_toml_spec(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "db.toml",
        'name = "db"\ntype = "pv"\nvcpus = 4\n[[disks]]\nuserdevice = 0\nqueues = 2\n[[nics]]\ndevid = 0\n',
    )
    spec = load_spec(p)
    assert spec.type == "pv" and spec.disks[0].queues == 2 and spec.nics[0].devid == 0


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("a.yaml", "name: a\nvcpus: 2\ncolour: blue\n", "a.yaml:3: field colour: unknown field"),
        ("b.yaml", "name: b\ndisks:\n  - userdevice: 0\n  - mode: rx\n", "b.yaml:4: field disks[1].mode: "),
        ("c.yaml", "vcpus: 1\n", "c.yaml:1: field name: field required"),
        ("d.yaml", "name: d\nvcpus: [1\n", "d.yaml:3: not valid YAML"),
        ("e.yaml", "- just\n- a list\n", "e.yaml: expected a mapping"),
        ("f.toml", 'name = "f"\nvcpus = "two"\n', "f.toml: field vcpus: "),
        ("g.toml", 'name = "g"\nvcpus = \n', "g.toml:2: not valid TOML"),
        ("k.toml", 'name = "k"\nvcpus = [\n', "k.toml:2: not valid TOML: Invalid value"),  # at end of file
        ("h.yaml", "name: h\nvcpus: 2\nmax_vcpus: 1\n", "h.yaml:1: field (top level): "),
        ("i.json", "{}", "i.json: unknown spec format '.json'"),
        ("j.yaml", 'name: "bad\\tname"\n', "j.yaml:1: field name: "),  # control characters; spaces are fine
    ],
)
def test_bad_files_name_file_and_line(tmp_path: Path, name: str, text: str, expected: str) -> None:
    p = _write(tmp_path, name, text)
    with pytest.raises(SpecError) as info:
        load_spec(p)
    msg = info.value.message
    assert msg.startswith(str(tmp_path / expected.split(":")[0]))
    assert expected in msg
    assert "\n" not in msg


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"nope\.yaml: cannot read"):
        load_spec(tmp_path / "nope.yaml")


XL_CFG = """\
# a real-looking xl.cfg
name = "guest1"
type = "hvm"
vcpus = 2
maxvcpus = 4
memory = 2048
disk = [ 'phy:/dev/vg/guest1,xvda,w',
         'format=raw, vdev=xvdb, access=ro, target=/srv/data.img',
         '/srv/install.iso,hdc:cdrom,r' ]
vif = [ 'mac=00:16:3e:11:22:33,bridge=xenbr0', 'bridge=xenbr1,devid=5' ]
max_event_channels = 2047
on_crash = "destroy"
serial = "pty"
"""


def test_xl_cfg(tmp_path: Path) -> None:
    spec, notes = read_spec(_write(tmp_path, "guest1.cfg", XL_CFG))
    assert (spec.name, spec.type, spec.vcpus, spec.maxvcpus, spec.memory_mib) == ("guest1", "hvm", 2, 4, 2048)
    assert [(d.vbd_devid, d.mode, d.kind) for d in spec.disks] == [
        (51712, "rw", "disk"),
        (51728, "ro", "disk"),
        (5632, "ro", "cdrom"),
    ]
    assert [(n.devid, n.mac) for n in spec.nics] == [(0, "00:16:3e:11:22:33"), (5, None)]
    assert spec.max_event_channels == 2047 and spec.pv_drivers
    # Unknown keys are reported with their line, not fatal.
    assert notes == [f"{tmp_path / 'guest1.cfg'}:13: serial: not modelled, ignored"]
    assert spec.on_crash == "destroy"  # on_crash is read (xl.cfg(5); toolstack/crash.py)


def test_xl_cfg_defaults_and_builder() -> None:
    spec, _ = parse_xl_cfg('name="p"\n')
    assert spec.type == "pv" and spec.vcpus == 1
    spec, _ = parse_xl_cfg('name="q"\nvcpus="4"\n')
    assert spec.vcpus == 4
    spec, _ = parse_xl_cfg('name="h"\nbuilder="hvm"\nxen_platform_pci=0\nmax_event_channels=0\n')
    assert spec.type == "hvm" and not spec.pv_drivers and spec.max_event_channels is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('name = "x"\nvcpus = "two"\n', "x.cfg:2: vcpus must be a number"),
        ('name = "x"\nvcpus = 2.5\n', "x.cfg:2: vcpus must be a number"),
        ('name = "x"\nthis is not a line\n', "x.cfg:2: expected 'key = value'"),
        ('name = "x"\ndisk = [ "phy:/d,xvd9,w" ]\n', "x.cfg:2: disk[0] 'phy:/d,xvd9,w': unknown virtual"),
        ('name = "x"\ndisk = [ "phy:/d,xvda01,w" ]\n', "x.cfg:2: disk[0] 'phy:/d,xvda01,w': unknown virtual"),
        ('name = "x"\ndisk = [ "/d,qcow3,xvda,w" ]\n', "disk[0] '/d,qcow3,xvda,w': unknown value for format"),
        ('name = "x"\ndisk = [ "/d,raw,xvda,w,x" ]\n', "disk[0] '/d,raw,xvda,w,x': too many positional"),
        ('name = "x"\nvif = [ "bridge" ]\n', "x.cfg:2: vif[0] 'bridge': expected key=value"),
        ('name = "x"\ndisk = [ "a,xvda,w",\n', "x.cfg:2: unclosed '['"),
        ('name = "x"\ntype = "kvm"\n', "x.cfg:2: type must be pv, hvm or pvh"),
        ("vcpus = 1\n", "x.cfg: xl.cfg has no name"),
        ('name = "x"\nvcpus = 0\n', "x.cfg:2: field vcpus: "),
        ('name = "x"\nmemory = 1 +\n', "x.cfg:2: cannot read the value of memory"),
    ],
)
def test_bad_xl_cfg(text: str, expected: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_xl_cfg(text, source="x.cfg")
    assert expected in info.value.message


def test_xl_cfg_statements_end_at_a_newline_or_a_semicolon() -> None:
    """libxlu's grammar: `endstmt: NEWLINE | ';'` (xen: tools/libs/util/libxlu_cfg_y.y)."""
    spec, notes = parse_xl_cfg(
        'name = "a"; vcpus = 2;memory=512\ndisk = [ "phy:/d;x,xvda,w" ]; vif = [ "" ];\nboot = "c";;\n'
    )
    assert (spec.name, spec.vcpus, spec.memory_mib) == ("a", 2, 512)
    assert [d.vbd_devid for d in spec.disks] == [51712] and len(spec.nics) == 1
    assert notes == ["<xl.cfg>:3: boot: not modelled, ignored"]


def test_xl_disk_syntax_of_the_man_page() -> None:
    """Every example of xl-disk-configuration(5), parsed as xl's lexer does (xen:
    tools/libs/util/libxlu_disk_l.l): positional target, format, vdev, access; a deprecated 'phy:'-style
    prefix on the target skips format; flags and key=value anywhere; target= takes the rest."""
    hda = [
        "/dev/vg/guest-volume,,hda",
        "/dev/vg/guest-volume,raw,hda,rw",
        "format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume",
        "raw:/dev/vg/guest-volume,hda,w",
    ]
    hdc = [
        "/root/image.iso,,hdc,cdrom",
        "/root/image.iso,,hdc,,cdrom",
        "/root/image.iso,raw,hdc,devtype=cdrom",
        "format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/root/image.iso",
        "raw:/root/image.iso,hdc:cdrom,ro",
    ]
    for entry in hda:
        spec, _ = parse_xl_cfg(f'name = "x"\ndisk = [ {entry!r} ]\n')
        assert [(d.vbd_devid, d.mode, d.kind) for d in spec.disks] == [(768, "rw", "disk")], entry
    for entry in hdc:
        spec, _ = parse_xl_cfg(f'name = "x"\ntype = "hvm"\ndisk = [ {entry!r} ]\n')
        assert [(d.vbd_devid, d.kind) for d in spec.disks] == [(5632, "cdrom")], entry
    # The target may contain commas after target=; tap:aio: stacks two deprecated prefixes.
    spec, _ = parse_xl_cfg(
        'name = "x"\ndisk = [ "vdev=xvdb, target=/srv/a,b.img", "tap:aio:/x.img,xvdc,r" ]\n'
    )
    assert [(d.vbd_devid, d.mode) for d in spec.disks] == [(51728, "rw"), (51744, "ro")]


def test_xl_disk_partitions() -> None:
    """PV guests often get partitions as disks (xen-tools writes 'phy:…,xvda2,w'); libxl numbers them
    (xen: tools/libs/light/libxl_device.c libxl__device_disk_dev_number)."""
    spec, _ = parse_xl_cfg(
        'name = "deb"\ndisk = [ "phy:/dev/vg/deb-disk,xvda2,w", "phy:/dev/vg/deb-swap,xvda1,w" ]\n'
    )
    assert [d.vbd_devid for d in spec.disks] == [51714, 51713]
    assert vdev_to_devid("xvdb15") == (202 << 8) | (1 << 4) | 15
    assert vdev_to_devid("xvda16") == (1 << 28) | 16  # partition > 15: the extended form
    assert vdev_to_devid("xvdzz9") == (1 << 28) | (701 << 8) | 9
    assert vdev_to_devid("hdc1") == (22 << 8) | 1 and vdev_to_devid("hdb63") == (3 << 8) | 64 | 63
    assert vdev_to_devid("sdb3") == (8 << 8) | 16 | 3
    for bad in ("hda64", "sda16", "xvda256", "xvda0", "xvda01"):
        with pytest.raises(ValueError):
            vdev_to_devid(bad)


def test_vdev_numbers() -> None:
    # xen: docs/misc/vbd-interface.txt
    assert vdev_to_devid("xvda") == 51712
    assert vdev_to_devid("xvdp") == 51712 + 15 * 16
    assert vdev_to_devid("xvdq") == (1 << 28) | (16 << 8)
    assert vdev_to_devid("hda") == 768 and vdev_to_devid("hdd") == 5696
    assert vdev_to_devid("sdb") == 2064 and vdev_to_devid("268439552") == 268439552
    assert xvd_devid(0) == 51712
    with pytest.raises(ValueError):
        vdev_to_devid("nvme0n1")
