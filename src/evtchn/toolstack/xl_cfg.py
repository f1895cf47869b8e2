"""xl.cfg(5) as xl reads it: statements, disk and vif entries, and back again.

    spec, notes = parse_xl_cfg(open("guest.cfg").read(), source="guest.cfg")   # notes: keys not modelled
    text = to_xl_cfg(spec)                                                       # parse_xl_cfg reads it back

A bad file raises SpecError naming the file and the line
(xen: tools/libs/util/libxlu_cfg_y.y, libxlu_disk_l.l).
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import ValidationError

from evtchn.toolstack.errors import SpecError
from evtchn.toolstack.spec_model import (
    ON_CRASH,
    DiskSpec,
    NicSpec,
    VmSpec,
    first_error,
    validate_spec,
    vdev_name,
    vdev_to_devid,
)

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
    "on_crash",
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
        elif key == "on_crash":
            action = want(str)
            if action not in ON_CRASH:
                choices = ", ".join(ON_CRASH)
                raise SpecError(f"{source}:{line}: on_crash must be one of {choices}, not {action!r}")
            fields["on_crash"] = action
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
                    msg = first_error(e)[1] if isinstance(e, ValidationError) else str(e)
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

    return validate_spec(source, fields, line_of), notes


def to_xl_cfg(spec: VmSpec) -> str:
    """An xl.cfg that parse_xl_cfg() reads back as the same spec (queues and pv_drivers=True aside)."""
    lines = [
        f"name = {json.dumps(spec.name, ensure_ascii=False)}",
        f'type = "{spec.type}"',
        f"vcpus = {spec.vcpus}",
    ]
    if spec.max_vcpus is not None:
        lines.append(f"maxvcpus = {spec.max_vcpus}")
    lines.append(f"memory = {spec.memory_mib}")
    if spec.disks:
        entries = []
        for d in spec.disks:
            suffix = ":cdrom" if d.kind == "cdrom" else ""
            # target, format, vdev, access: the positional order xl itself accepts (xl-disk-configuration(5))
            name = vdev_name(d.vbd_devid)
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
    if spec.on_crash != "destroy":
        lines.append(f'on_crash = "{spec.on_crash}"')
    return "\n".join(lines) + "\n"
