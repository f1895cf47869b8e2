"""VM specs: pydantic models, loaded from YAML, TOML or a real xl.cfg.

    spec = load_spec("web01.yaml")                 # or .yml / .toml / .cfg (xl.cfg)
    spec, notes = read_spec("guest.cfg")           # notes: unknown xl.cfg keys, reported not fatal
    spec = VmSpec(name="w", type="hvm", disks=[DiskSpec(userdevice=i) for i in range(3)], nics=[NicSpec()])

A bad file raises SpecError naming the file and the line (YAML, xl.cfg) or the field (TOML).
"""

from __future__ import annotations

import ast
import re
import tomllib
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evtchn.toolstack import bounds as B
from evtchn.toolstack._loading import toml_error
from evtchn.toolstack.errors import SpecError
from evtchn.toolstack.safe_load import guarded, one_line, read_text

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


class VmSpec(_Model):
    """What a VM is made of, as far as event channels care."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@+-]*$")
    type: VmType = "hvm"
    vcpus: int = Field(default=1, ge=1, le=512)
    max_vcpus: int | None = Field(default=None, ge=1, le=512)
    memory_mib: int = Field(default=1024, ge=16, le=B.MEMORY_MIB.hi)
    disks: list[DiskSpec] = Field(default_factory=list)
    nics: list[NicSpec] = Field(default_factory=list)
    pv_drivers: bool = True  # HVM: PV drivers installed (PV/PVH guests always have frontends)
    max_event_channels: int | None = Field(default=None, ge=1, le=B.MAX_EVENT_CHANNELS.hi)

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


# ---------------------------------------------------------------- loading


def read_spec(path: str | Path) -> tuple[VmSpec, list[str]]:
    """Load a spec; the second value lists non-fatal notes (unknown xl.cfg keys) as 'file:line: text'."""
    p = Path(path)
    text = read_text(p, "spec")
    return guarded(str(p), text, lambda: _read_spec_text(p, text))


def _read_spec_text(p: Path, text: str) -> tuple[VmSpec, list[str]]:
    suffix = p.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return _from_yaml(p, text), []
    if suffix == ".toml":
        return _from_toml(p, text), []
    if suffix in (".cfg", ".xl", ".conf"):
        return parse_xl_cfg(text, source=str(p))
    raise SpecError(f"{p}: unknown spec format {suffix or '(none)'!r}; expected .yaml, .yml, .toml or .cfg")


def load_spec(path: str | Path) -> VmSpec:
    """VmSpec from a .yaml/.yml/.toml/.cfg file; SpecError naming the file and line or field."""
    return read_spec(path)[0]


def _loc_text(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _first_error(e: ValidationError) -> tuple[tuple[int | str, ...], str]:
    err = e.errors()[0]
    loc = tuple(x for x in err["loc"] if isinstance(x, int | str))
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    elif err["type"] == "missing":
        msg = "field required"
    return loc, msg


def _validate(source: str, data: Any, line_of: Any = None) -> VmSpec:
    if not isinstance(data, dict):
        raise SpecError(f"{source}: expected a mapping of VM fields at the top level")
    try:
        return VmSpec.model_validate(data)
    except UnicodeEncodeError:  # a "\ud800" escape: text no file or terminal can hold
        raise SpecError(f"{source}: a string holds an unpaired surrogate") from None
    except ValidationError as e:
        loc, msg = _first_error(e)
        line = line_of(loc) if line_of else None
        where = f"{source}:{line}" if line else source
        raise SpecError(f"{where}: field {one_line(_loc_text(loc))}: {one_line(msg)}") from None


def _yaml_line(root: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    """1-based line of the YAML node at `loc` (or of its nearest existing parent)."""
    node = root
    best = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        nxt: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for k, v in node.value:
                if getattr(k, "value", None) == part:
                    nxt = v
                    best = k.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
            best = nxt.start_mark.line + 1
        if nxt is None:
            break
        node = nxt
    return best


def _from_yaml(p: Path, text: str) -> VmSpec:
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise SpecError(f"{p}{line}: not valid YAML: {problem}") from None
    return _validate(str(p), data, lambda loc: _yaml_line(root, loc))


def _from_toml(p: Path, text: str) -> VmSpec:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise toml_error(p, text, e) from None
    return _validate(str(p), data)


# ---------------------------------------------------------------- xl.cfg

# Keys this model reads; every other key is reported back (xl.cfg(5) has many we do not model).
_XL_KEYS = {
    "name",
    "type",
    "builder",
    "vcpus",
    "maxvcpus",
    "memory",
    "disk",
    "vif",
    "max_event_channels",
    "xen_platform_pci",
}


def _xl_statements(text: str, source: str) -> list[tuple[int, str, str]]:
    """Split xl.cfg into (line, key, value text); values may span lines inside [ ]."""
    out: list[tuple[int, str, str]] = []
    lines = text.splitlines()
    i = 0
    pending: tuple[int, str] | None = None  # what follows a ';' on the same line: the next statement
    while pending is not None or i < len(lines):
        if pending is not None:
            lineno, raw = pending
            pending = None
        else:
            raw = _strip_comment(lines[i])
            lineno = i + 1
            i += 1
        stripped = raw.strip().strip(";").strip()
        if not stripped:
            continue
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)", stripped)
        if not m:
            raise SpecError(f"{source}:{lineno}: expected 'key = value', got {raw.strip()!r}")
        key, value = m.group(1), m.group(2)
        depth = value.count("[") - value.count("]")
        while depth > 0 and i < len(lines):
            more = _strip_comment(lines[i]).strip()
            i += 1
            value += " " + more
            depth = value.count("[") - value.count("]")
        if depth:
            raise SpecError(f"{source}:{lineno}: unclosed '[' in the value of {key}")
        value, rest = _split_statement(value)
        if rest.strip(" ;"):
            pending = (lineno, rest)
        out.append((lineno, key, value.strip()))
    return out


def _split_statement(value: str) -> tuple[str, str]:
    """A statement ends at a newline or at a ';' outside quotes and brackets (xen:
    tools/libs/util/libxlu_cfg_y.y, `endstmt: NEWLINE | ';'`): (this value, the rest of the line)."""
    quote, depth = "", 0
    for idx, ch in enumerate(value):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == ";" and depth <= 0:
            return value[:idx], value[idx + 1 :]
    return value, ""


def _strip_comment(line: str) -> str:
    quote = ""
    for idx, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            return line[:idx]
    return line


def _xl_value(value: str, source: str, line: int, key: str) -> Any:
    try:
        with warnings.catch_warnings():  # "1abc" would print a SyntaxWarning before the one-line error
            warnings.simplefilter("ignore")
            return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        raise SpecError(f"{source}:{line}: cannot read the value of {key}: {value!r}") from None


# xl-disk-configuration(5) formats and the deprecated target prefixes (xen: tools/libs/util/libxlu_disk_l.l).
_XL_FORMATS = {"", "raw", "qcow", "qcow2", "vhd", "empty", "qed"}
_XL_FLAGS = {"direct-io-safe", "discard", "no-discard", "colo", "no-colo", "trusted", "untrusted"}
_XL_DEPRECATED_PREFIX = re.compile(r"(raw|qcow2?|vhd|iscsi|e?nbd|drbd|tapdisk|tap2?|aio|ioemu|file|phy):")


def _parse_xl_disk(entry: str, index: int) -> DiskSpec:
    """One disk=[…] entry as xl reads it (xl-disk-configuration(5), libxlu_disk_l.l): key=value parameters
    and flags anywhere; positional target, format, vdev, access in that order, except that a deprecated
    'phy:'-style prefix on the target means no format follows; `target=` takes the rest of the string.
    xm's 'target,vdev[,access]' (no format, no prefix) is read too, where xl would refuse it."""
    parts = entry.split(",")
    if len(parts) > 1 and not parts[-1].strip():
        parts.pop()  # a trailing comma ends the last parameter
    keyed: dict[str, str] = {}
    positional: list[str] = []
    devtype: str | None = None
    for i, raw in enumerate(parts):
        item = raw.strip()
        if item.startswith("target="):
            keyed["target"] = ",".join([item[len("target=") :], *parts[i + 1 :]]).strip()
            break
        if item == "cdrom":
            devtype = "cdrom"
        elif "=" in item:
            k, _, v = item.partition("=")
            keyed[k.strip()] = v.strip()
        elif item not in _XL_FLAGS:
            positional.append(item)
    vdev, access = keyed.get("vdev"), keyed.get("access")
    devtype = keyed.get("devtype", devtype)
    has_target, has_format = "target" in keyed, "format" in keyed
    deprecated = False
    for n, item in enumerate(positional):
        if not has_target:
            has_target = True
            while m := _XL_DEPRECATED_PREFIX.match(item):
                deprecated, item = True, item[m.end() :]
        elif not has_format and not deprecated:
            has_format = True
            if item in _XL_FORMATS:
                continue
            if len(positional) - n > 2 or vdev is not None:
                raise ValueError(f"unknown value for format {item!r}")
            vdev = item  # xm style: target,vdev[,access]
        elif vdev is None:
            vdev = item
        elif access is None:
            access = item
        else:
            raise ValueError(f"too many positional parameters at {item!r}")
    if vdev is None:
        raise ValueError("no virtual device name (vdev)")
    if ":" in vdev:
        vdev, _, suffix = vdev.rpartition(":")
        if suffix in ("cdrom", "disk"):
            devtype = suffix
    mode: Literal["rw", "ro"] = "ro" if (access or "rw").lower() in ("r", "ro", "read-only") else "rw"
    kind: Literal["disk", "cdrom"] = "cdrom" if devtype == "cdrom" else "disk"
    return DiskSpec(userdevice=index, devid=vdev_to_devid(vdev), mode=mode, kind=kind)


def _parse_xl_vif(entry: str, index: int) -> NicSpec:
    keyed = {}
    for item in entry.split(","):
        if item.strip():
            k, sep, v = item.partition("=")
            if not sep:
                raise ValueError(f"expected key=value, got {item.strip()!r}")
            keyed[k.strip()] = v.strip()
    devid = int(keyed["devid"]) if "devid" in keyed else index
    return NicSpec(devid=devid, mac=keyed.get("mac"))


def parse_xl_cfg(text: str, *, source: str = "<xl.cfg>") -> tuple[VmSpec, list[str]]:
    """Read the keys of xl.cfg(5) this model uses; unknown keys come back as notes."""
    notes: list[str] = []
    fields: dict[str, Any] = {}
    lines: dict[str, int] = {}
    builder: str | None = None
    platform_pci = True
    for line, key, value in _xl_statements(text, source):
        if key not in _XL_KEYS:
            notes.append(f"{source}:{line}: {key}: not modelled, ignored")
            continue
        v = _xl_value(value, source, line, key)
        lines[key] = line

        def want(kind: type, v: Any = v, key: str = key, line: int = line) -> Any:
            if kind is int and isinstance(v, str) and v.strip().isdigit():
                v = int(v)  # libxlu reads numbers from quoted atoms too
            if (kind is int and isinstance(v, bool)) or not isinstance(v, kind):
                raise SpecError(f"{source}:{line}: {key} must be {'a number' if kind is int else 'text'}")
            return v

        if key == "name":
            fields["name"] = want(str)
        elif key in ("type", "builder"):
            t = want(str).lower()
            t = {"generic": "pv", "linux": "pv"}.get(t, t)
            if t not in ("pv", "hvm", "pvh"):
                raise SpecError(f"{source}:{line}: {key} must be pv, hvm or pvh, not {v!r}")
            if key == "type" or builder is None:
                builder = t
        elif key == "vcpus":
            fields["vcpus"] = want(int)
        elif key == "maxvcpus":
            fields["max_vcpus"] = want(int)
        elif key == "memory":
            fields["memory_mib"] = want(int)
        elif key == "max_event_channels":
            # 0 means unset: libxl's default applies (xl.cfg(5); reference §1).
            fields["max_event_channels"] = want(int) or None
        elif key == "xen_platform_pci":
            platform_pci = bool(want(int))
        elif key in ("disk", "vif"):
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise SpecError(f"{source}:{line}: {key} must be a list of strings")
            items = []
            for i, entry in enumerate(v):
                try:
                    items.append(_parse_xl_disk(entry, i) if key == "disk" else _parse_xl_vif(entry, i))
                except (ValueError, ValidationError) as e:
                    msg = _first_error(e)[1] if isinstance(e, ValidationError) else str(e)
                    raise SpecError(f"{source}:{line}: {key}[{i}] {entry!r}: {msg}") from None
            fields["disks" if key == "disk" else "nics"] = items
    if builder is not None:
        fields["type"] = builder
    else:
        fields["type"] = "pv"  # xl's default when neither type nor builder is given
    fields["pv_drivers"] = platform_pci
    if "name" not in fields:
        raise SpecError(f'{source}: xl.cfg has no name = "…"')
    xl_key = {"memory_mib": "memory", "max_vcpus": "maxvcpus", "disks": "disk", "nics": "vif"}

    def line_of(loc: Sequence[int | str]) -> int | None:
        return lines.get(xl_key.get(str(loc[0]), str(loc[0]))) if loc else None

    return _validate(source, fields, line_of), notes


def _vdev_name(devid: int) -> str:
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
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("a") + rem) + letters
    return "xvd" + letters


def to_xl_cfg(spec: VmSpec) -> str:
    """An xl.cfg that parse_xl_cfg() reads back as the same spec (queues and pv_drivers=True aside)."""
    lines = [f'name = "{spec.name}"', f'type = "{spec.type}"', f"vcpus = {spec.vcpus}"]
    if spec.max_vcpus is not None:
        lines.append(f"maxvcpus = {spec.max_vcpus}")
    lines.append(f"memory = {spec.memory_mib}")
    if spec.disks:
        entries = []
        for d in spec.disks:
            suffix = ":cdrom" if d.kind == "cdrom" else ""
            # target, format, vdev, access: the positional order xl itself accepts (xl-disk-configuration(5))
            name = _vdev_name(d.vbd_devid)
            entries.append(f"'/dev/null,raw,{name}{suffix},{'w' if d.mode == 'rw' else 'r'}'")
        lines.append(f"disk = [ {', '.join(entries)} ]")
    if spec.nics:
        vifs = []
        for n in spec.nics:
            parts = [f"devid={n.devid}"] + ([f"mac={n.mac}"] if n.mac else [])
            vifs.append("'" + ",".join(parts) + "'")
        lines.append(f"vif = [ {', '.join(vifs)} ]")
    if spec.max_event_channels is not None:
        lines.append(f"max_event_channels = {spec.max_event_channels}")
    if spec.type == "hvm" and not spec.pv_drivers:
        lines.append("xen_platform_pci = 0")
    return "\n".join(lines) + "\n"
