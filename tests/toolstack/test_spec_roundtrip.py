"""Specs survive YAML, TOML and xl.cfg round trips (property test)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from evtchn.toolstack import DiskSpec, NicSpec, VmSpec, load_spec
from evtchn.toolstack.spec import parse_xl_cfg, to_xl_cfg, vdev_to_devid, xvd_devid

macs = st.one_of(
    st.none(),
    st.lists(st.integers(0, 255), min_size=3, max_size=3).map(
        lambda b: "00:16:3e:" + ":".join(f"{x:02x}" for x in b)
    ),
)
specs = st.builds(
    lambda name, t, v, extra, mem, disks, nics, pvd, cap: VmSpec(
        name=name,
        type=t,
        vcpus=v,
        max_vcpus=None if extra is None else v + extra,
        memory_mib=mem,
        disks=[DiskSpec(userdevice=i, mode=m, kind=k) for i, (m, k) in enumerate(disks)],
        nics=[NicSpec(devid=i * 2, mac=mac) for i, mac in enumerate(nics)],
        pv_drivers=pvd or t != "hvm",
        max_event_channels=cap,
    ),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True),
    st.sampled_from(["pv", "hvm", "pvh"]),
    st.integers(1, 64),
    st.one_of(st.none(), st.integers(0, 8)),
    st.integers(16, 1 << 20),
    st.lists(st.tuples(st.sampled_from(["rw", "ro"]), st.sampled_from(["disk", "cdrom"])), max_size=30),
    st.lists(macs, max_size=4),
    st.booleans(),
    st.one_of(st.none(), st.integers(1, 131071)),
)


@settings(max_examples=60, deadline=None)
@given(specs)
def test_xl_cfg_round_trip(spec: VmSpec) -> None:
    text = to_xl_cfg(spec)
    back, notes = parse_xl_cfg(text)
    assert notes == []
    # Disks in the positional form xl accepts: target, format, vdev, access (xl-disk-configuration(5)).
    disk_lines = [line for line in text.splitlines() if line.startswith("disk = ")]
    entries = re.findall(r"'([^']*)'", disk_lines[0]) if disk_lines else []
    assert len(entries) == len(spec.disks) and all(e.startswith("/dev/null,raw,") for e in entries)
    assert back.model_dump(exclude={"disks"}) == spec.model_dump(exclude={"disks"})
    assert [(d.vbd_devid, d.mode, d.kind) for d in back.disks] == [
        (d.vbd_devid, d.mode, d.kind) for d in spec.disks
    ]


@settings(max_examples=40, deadline=None)
@given(specs)
def test_yaml_and_toml_round_trip(spec: VmSpec) -> None:
    import tempfile

    data = spec.model_dump(exclude_none=True)
    with tempfile.TemporaryDirectory() as d:
        y = Path(d) / "s.yaml"
        y.write_text(yaml.safe_dump(data))
        assert load_spec(y) == spec
        t = Path(d) / "s.toml"
        t.write_text(_toml(data))
        assert load_spec(t) == spec


def _toml(data: dict[str, object]) -> str:
    def val(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v + '"'
        return str(v)

    lines = [f"{k} = {val(v)}" for k, v in data.items() if not isinstance(v, list)]
    for key in ("disks", "nics"):
        for item in data.get(key, []):  # type: ignore[attr-defined]
            lines.append(f"[[{key}]]")
            lines.extend(f"{k} = {val(v)}" for k, v in item.items())
    return "\n".join(lines) + "\n"


def test_vdev_names_round_trip() -> None:
    from evtchn.toolstack.spec import vdev_name as _vdev_name

    for i in range(40):
        assert vdev_to_devid(_vdev_name(xvd_devid(i))) == xvd_devid(i)
    assert _vdev_name(5632) == "hdc" and _vdev_name(51712) == "xvda"
