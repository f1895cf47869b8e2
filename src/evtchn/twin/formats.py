"""Readers for what an admin captures on a real host besides the dom0 dump: `xl list -l`, `xe vm-list
params=all` and `xl info`.

    doms = read_xl_list(text, "xl-list.json")    # [DomainConfig(domid, name, type, vcpus, memory, ...)]
    doms = read_xe_vm_list(text, "vms.txt")
    info = read_xl_info(text, "xl-info.txt")     # XlInfo(nr_cpus, total_memory_mib, dom0_vcpus, ...)

Formats, from their sources:
- `xl list -l` (xen tools/xl/xl_info.c, list_domains_details / printf_info_one_json): a JSON array of
  {"domid": N, "config": libxl_domain_config}; field names from tools/libxl/libxl_types.idl: c_info.name,
  c_info.type ("hvm", "pv", "pvh"), b_info.max_vcpus, b_info.max_memkb, disks[].vdev / is_cdrom,
  nics[].devid.
- `xe vm-list params=all` (xen-api ocaml/xe-cli): records separated by blank lines, one
  `key ( RO): value` line per field with the key right-aligned (RO, RW, SRO, MRO, MRW). Used: name-label,
  power-state, dom-id, VCPUs-max, memory-static-max (bytes), HVM-boot-policy (empty for PV),
  is-control-domain.
- `xl info` (xl_info.c, output_physinfo / output_xeninfo): `key<spaces>: value`; nr_cpus, total_memory
  (MiB), xen_major / xen_minor, xen_commandline (dom0_max_vcpus=, dom0_mem=).
A bad file is one line naming the file, the line and the field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field


class CaptureError(ValueError):
    """A captured file that is not what it claims to be; one line naming file, line and field."""


@dataclass(slots=True)
class DomainConfig:
    """One domain as a toolstack listing shows it; None where the listing does not say."""

    domid: int | None
    name: str
    source: str  # "xl list -l" | "xe vm-list"
    type: str | None = None
    vcpus: int | None = None
    memory_mib: int | None = None
    disks: list[bool] | None = None  # one per disk: True when it is a CD-ROM
    nics: list[int] | None = None  # devids
    vbd_devids: list[int] | None = None  # xenstore device numbers of the disks, when known (xenstore-ls)
    running: bool = True


@dataclass(slots=True)
class XlInfo:
    nr_cpus: int | None = None
    total_memory_mib: int | None = None
    free_memory_mib: int | None = None
    xen_version: tuple[int, int] | None = None
    dom0_vcpus: int | None = None
    dom0_memory_mib: int | None = None
    fields: dict[str, str] = field(default_factory=dict)


def _int(value: object, where: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CaptureError(f"{where}: {key} is {value!r}, not a whole number")
    return value


def read_xl_list(text: str, name: str) -> list[DomainConfig]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise CaptureError(f"{name}:{e.lineno}: not JSON ({e.msg}); expected `xl list -l` output") from None
    if isinstance(doc, dict):  # `xl list -l DOMID` of one domain prints the object alone
        doc = [doc]
    if not isinstance(doc, list):
        raise CaptureError(f"{name}: expected a JSON array of {{domid, config}} objects (`xl list -l`)")
    out = []
    for i, item in enumerate(doc):
        where = f"{name}: domain [{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("config"), dict):
            raise CaptureError(f"{where}: no 'config' object (is this `xl list -l` output?)")
        cfg = item["config"]
        c_info = cfg.get("c_info") or {}
        b_info = cfg.get("b_info") or {}
        if not isinstance(c_info, dict) or not isinstance(b_info, dict):
            raise CaptureError(f"{where}: c_info / b_info are not objects")
        domid = item.get("domid")
        dom = DomainConfig(
            domid=None if domid is None else _int(domid, where, "domid"),
            name=str(c_info.get("name") or f"domain-{domid}"),
            source="xl list -l",
        )
        kind = c_info.get("type")
        if kind is not None:
            if kind not in ("hvm", "pv", "pvh"):
                raise CaptureError(f"{where}: c_info.type is {kind!r}, not hvm, pv or pvh")
            dom.type = str(kind)
        if "max_vcpus" in b_info:
            dom.vcpus = _int(b_info["max_vcpus"], where, "b_info.max_vcpus")
        if "max_memkb" in b_info:
            dom.memory_mib = _int(b_info["max_memkb"], where, "b_info.max_memkb") // 1024
        disks = cfg.get("disks", [])
        nics = cfg.get("nics", [])
        if not isinstance(disks, list) or not isinstance(nics, list):
            raise CaptureError(f"{where}: disks / nics are not arrays")
        dom.disks = [bool(isinstance(d, dict) and d.get("is_cdrom")) for d in disks]
        dom.nics = [
            _int(n.get("devid", j), where, f"nics[{j}].devid") if isinstance(n, dict) else j
            for j, n in enumerate(nics)
        ]
        out.append(dom)
    return out


_XE_LINE = re.compile(r"^\s*([A-Za-z0-9_.-]+) \( ?(?:RO|RW|SRO|SRW|MRO|MRW)\)(?: \[DEPRECATED\])?\s*: ?(.*)$")


def read_xe_vm_list(text: str, name: str) -> list[DomainConfig]:
    records: list[tuple[int, dict[str, str]]] = []
    current: dict[str, str] | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not line.strip():
            current = None
            continue
        m = _XE_LINE.match(line)
        if m is None:
            if current is not None and raw.startswith((" ", "\t")):
                continue  # a long value wrapped onto the next line
            raise CaptureError(f"{name}:{lineno}: not a `key ( RO): value` line of `xe vm-list params=all`")
        if current is None:
            current = {}
            records.append((lineno, current))
        current[m.group(1)] = m.group(2).strip()
    out = []
    for lineno, rec in records:
        where = f"{name}:{lineno}"
        if "name-label" not in rec:
            raise CaptureError(f"{where}: record has no name-label field")
        if rec.get("is-control-domain") == "true":
            continue  # dom0 is the host, not a VM
        dom = DomainConfig(domid=None, name=rec["name-label"] or "unnamed", source="xe vm-list")
        dom.running = rec.get("power-state", "running") in ("running", "paused")
        dom.domid = _xe_int(rec, "dom-id", where)
        if dom.domid is not None and dom.domid < 0:  # xe prints -1 for a halted VM
            dom.domid = None
        dom.vcpus = _xe_int(rec, "VCPUs-max", where)
        mem = _xe_int(rec, "memory-static-max", where)
        dom.memory_mib = None if mem is None else mem // (1024 * 1024)
        if "HVM-boot-policy" in rec:
            dom.type = "hvm" if rec["HVM-boot-policy"] else "pv"
        out.append(dom)
    return out


def _xe_int(rec: dict[str, str], key: str, where: str) -> int | None:
    if key not in rec:
        return None
    try:
        return int(rec[key])
    except ValueError:
        raise CaptureError(f"{where}: {key} is {rec[key]!r}, not a number") from None


_XL_INFO = re.compile(r"^([a-z_0-9]+)\s*: ?(.*)$")
_MEM = re.compile(r"^(\d+)([KMGkmg]?)$")


def read_xl_info(text: str, name: str) -> XlInfo:
    info = XlInfo()
    for lineno, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        m = _XL_INFO.match(raw.rstrip())
        if m is None:
            raise CaptureError(f"{name}:{lineno}: not a `key : value` line of `xl info`")
        info.fields[m.group(1)] = m.group(2).strip()
    f = info.fields
    if "nr_cpus" not in f and "xen_version" not in f:
        raise CaptureError(f"{name}: neither nr_cpus nor xen_version found; is this `xl info` output?")

    def num(key: str) -> int | None:
        if key not in f:
            return None
        if not f[key].isdigit():
            raise CaptureError(f"{name}: {key} is {f[key]!r}, not a number")
        return int(f[key])

    info.nr_cpus = num("nr_cpus")
    info.total_memory_mib = num("total_memory")
    info.free_memory_mib = num("free_memory")
    major, minor = num("xen_major"), num("xen_minor")
    if major is not None and minor is not None:
        info.xen_version = (major, minor)
    for word in f.get("xen_commandline", "").split():
        key, _, value = word.partition("=")
        if key == "dom0_max_vcpus" and value.partition("-")[-1 if "-" in value else 0].isdigit():
            info.dom0_vcpus = int(value.rpartition("-")[2])
        elif key == "dom0_mem":
            first = value.split(",")[0].removeprefix("max:")
            mm = _MEM.match(first)
            if mm:
                scale = {"": 1 / 1024, "k": 1 / 1024, "m": 1, "g": 1024}[mm.group(2).lower()]
                info.dom0_memory_mib = int(int(mm.group(1)) * scale)
    return info
