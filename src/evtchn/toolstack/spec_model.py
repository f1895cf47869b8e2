"""VM specs as pydantic models: what a VM is made of, as far as event channels care.

    spec = VmSpec(name="Windows Server 2019 (1)", disks=[DiskSpec(userdevice=i) for i in range(3)])
    xvd_devid(1), vdev_to_devid("xvdb"), vdev_name(51728)    # 51728, 51728, "xvdb"

Files are read by spec.py (YAML/TOML) and xl_cfg.py (xl.cfg(5)); validate_spec() turns pydantic's first
error into one line naming the file, line and field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evtchn.toolstack import bounds as B
from evtchn.toolstack.errors import SpecError
from evtchn.toolstack.safe_load import one_line

VmType = Literal["pv", "hvm", "pvh"]

# Linux/Xen virtual-device numbers (xen: docs/misc/vbd-interface.txt).
_XVD_MAJOR = 202
_IDE = ((3, 0), (3, 64), (22, 0), (22, 64))


def xvd_devid(index: int) -> int:
    """xvd<letter> number: 202<<8 | index<<4 for the first 16 disks, the extended form after."""
    if index < 16:
        return (_XVD_MAJOR << 8) | (index << 4)
    return (1 << 28) | (index << 8)


def vdev_to_devid(vdev: str) -> int:
    """'xvda' → 51712, 'xvda2' → 51714, 'hdc' → 5632, 'sdb' → 2064, '51712' → 51712; ValueError for anything
    else (xen: tools/libs/light/libxl_device.c libxl__device_disk_dev_number)."""
    vdev = vdev.strip()
    if vdev.isdigit():
        return int(vdev)
    m = re.fullmatch(r"(xvd|hd|sd)([a-z]+)([1-9]\d*)?", vdev)
    if not m:
        raise ValueError(f"unknown virtual device {vdev!r} (expected e.g. xvda, xvda2, hdc, sdb or a number)")
    index = 0
    for ch in m.group(2):
        index = index * 26 + (ord(ch) - ord("a") + 1)
    index -= 1
    part = int(m.group(3) or 0)
    prefix = m.group(1)
    if prefix == "xvd":
        if index >= 1 << 20 or part > 255:
            raise ValueError(f"{vdev!r}: xvd disks go up to 2^20, partitions up to 255")
        if index < 16 and part < 16:
            return xvd_devid(index) | part
        return (1 << 28) | (index << 8) | part
    if prefix == "hd":
        if index >= len(_IDE) or part > 63:
            raise ValueError(f"{vdev!r}: only hda..hdd exist, with partitions up to 63")
        major, minor = _IDE[index]
        return (major << 8) | minor | part
    if index >= 16 or part > 15:
        raise ValueError(f"{vdev!r}: only sda..sdp exist, with partitions up to 15")
    return (8 << 8) | (index << 4) | part


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DiskSpec(_Model):
    """One VBD. `devid` is the xenstore device number; unset, it is xvd<userdevice>."""

    userdevice: int = Field(default=0, ge=0, le=254)
    devid: int | None = Field(default=None, ge=0, le=B.VBD_DEVID.hi)
    mode: Literal["rw", "ro"] = "rw"
    kind: Literal["disk", "cdrom"] = "disk"
    queues: int | None = Field(default=None, ge=1, le=64)  # frontend's wish; None: the driver default

    @property
    def vbd_devid(self) -> int:
        return self.devid if self.devid is not None else xvd_devid(self.userdevice)


class NicSpec(_Model):
    """One VIF; `devid` is its xenstore number (the n of vif<domid>.<n>)."""

    devid: int = Field(default=0, ge=0, le=255)
    mac: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
    queues: int | None = Field(default=None, ge=1, le=64)


# xl.cfg(5) on_crash / on_poweroff actions (xen: docs/man/xl.cfg.5.pod.in, libxl_types.idl
# libxl_action_on_shutdown: destroy, restart, rename-restart, preserve, coredump-destroy,
# coredump-restart, soft-reset).
OnCrash = Literal[
    "destroy", "restart", "rename-restart", "preserve", "coredump-destroy", "coredump-restart", "soft-reset"
]
ON_CRASH: tuple[str, ...] = (
    "destroy", "restart", "rename-restart", "preserve", "coredump-destroy", "coredump-restart", "soft-reset"
)


class VmSpec(_Model):
    """What a VM is made of, as far as event channels care."""

    # Free text as in xapi (spaces, Unicode; issue 10), without control characters.
    name: str = Field(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")
    type: VmType = "hvm"
    vcpus: int = Field(default=1, ge=1, le=512)
    max_vcpus: int | None = Field(default=None, ge=1, le=512)
    memory_mib: int = Field(default=1024, ge=16, le=B.MEMORY_MIB.hi)
    disks: list[DiskSpec] = Field(default_factory=list)
    nics: list[NicSpec] = Field(default_factory=list)
    pv_drivers: bool = True  # HVM: PV drivers installed (PV/PVH guests always have frontends)
    max_event_channels: int | None = Field(default=None, ge=1, le=B.MAX_EVENT_CHANNELS.hi)
    # What the toolstack does when the guest crashes: xl.cfg(5) on_crash (libxl default destroy;
    # xapi's actions_after_crash, xen-api ocaml/xapi/xapi_xenops.ml on_crash_behaviour).
    on_crash: OnCrash = "destroy"

    @model_validator(mode="after")
    def _check(self) -> VmSpec:
        if self.max_vcpus is not None and self.max_vcpus < self.vcpus:
            raise ValueError(f"max_vcpus {self.max_vcpus} is below vcpus {self.vcpus}")
        if self.type == "hvm" and self.maxvcpus > B.HVM_VCPUS.hi:
            raise ValueError(f"an HVM guest has at most {B.HVM_VCPUS.hi} vCPUs ({B.HVM_VCPUS.source})")
        seen: set[int] = set()
        for d in self.disks:
            if d.vbd_devid in seen:
                raise ValueError(f"two disks have device number {d.vbd_devid}")
            seen.add(d.vbd_devid)
        nic_ids = [n.devid for n in self.nics]
        if len(set(nic_ids)) != len(nic_ids):
            raise ValueError(f"two NICs share a devid in {nic_ids}")
        return self

    @property
    def maxvcpus(self) -> int:
        return self.max_vcpus if self.max_vcpus is not None else self.vcpus

    @property
    def has_pv_frontends(self) -> bool:
        return self.type != "hvm" or self.pv_drivers


def seed_vm_spec(name: str = "seed") -> VmSpec:
    """The 6.2 blog's example: HVM, 3 disks, 1 NIC, 1 vCPU, PV drivers (reference §10)."""
    return VmSpec(
        name=name,
        type="hvm",
        vcpus=1,
        disks=[DiskSpec(userdevice=i) for i in range(3)],
        nics=[NicSpec(devid=0)],
        pv_drivers=True,
    )


def _loc_text(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def first_error(e: ValidationError) -> tuple[tuple[int | str, ...], str]:
    err = e.errors()[0]
    loc = tuple(x for x in err["loc"] if isinstance(x, int | str))
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    elif err["type"] == "missing":
        msg = "field required"
    return loc, msg


def validate_spec(
    source: str, data: Any, line_of: Callable[[Sequence[int | str]], int | None] | None = None
) -> VmSpec:
    if not isinstance(data, dict):
        raise SpecError(f"{source}: expected a mapping of VM fields at the top level")
    try:
        return VmSpec.model_validate(data)
    except UnicodeEncodeError:  # a "\ud800" escape: text no file or terminal can hold
        raise SpecError(f"{source}: a string holds an unpaired surrogate") from None
    except ValidationError as e:
        loc, msg = first_error(e)
        line = line_of(loc) if line_of else None
        where = f"{source}:{line}" if line else source
        raise SpecError(f"{where}: field {one_line(_loc_text(loc))}: {one_line(msg)}") from None


def vdev_name(devid: int) -> str:
    """51712 → 'xvda', 5632 → 'hdc', extended xvd numbers → 'xvd<letters>'; else the number."""
    if devid & (1 << 28):
        index = (devid >> 8) & 0xFFFFF
    elif devid >> 8 == _XVD_MAJOR and not devid & 0xF:
        index = (devid >> 4) & 0xF
    else:
        ide = {(major << 8) | minor: i for i, (major, minor) in enumerate(_IDE)}
        if devid in ide:
            return "hd" + "abcd"[ide[devid]]
        return str(devid)
    return xvd_name(index)


def xvd_name(index: int) -> str:
    """The Linux disk name of the index-th xvd disk: 0 → 'xvda', 25 → 'xvdz', 26 → 'xvdaa'."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("a") + rem) + letters
    return "xvd" + letters
