"""A twin of a real host: a simulated `Host` rebuilt from what an admin can capture on the real one.

    result = import_host(["lsevtchn-0.txt"], xl_list="xl-list.json", xl_info="xl-info.txt")
    result.host            # the twin: its profile, hardware, dom0 baseline and running VMs
    result.domains         # per domain: real dom0 ports vs the twin's, and where its shape came from
    result.assumed         # every value the inputs did not give, in plain words

How (reference §7.3, §9): dom0's table (`lsevtchn 0` or an 'e' dump, read by evtchn.inspect) gives the
ABI (hence the profile, unless `--profile`), dom0's vCPUs (the vCPUs its IPIs are bound on), its PIRQs
(the hardware's interrupt sources) and the ports each guest domain holds. `xl info` gives the host's CPUs
and memory, dom0's from the Xen command line. Each guest's type, vCPUs and memory come from `xl list -l`
or `xe vm-list params=all`; its disks and NICs from `xl list -l`, else xenstore-ls (failed devices
included), else the smallest disks+NICs shape whose dom0 cost is what the domain holds. The twin then
boots and starts every guest, in domid order and with its real domid, so a dom0 that was full on the real
host runs out at the same VM. What still differs is reported, never hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from evtchn.inspect.analyze import Analysis, analyze, pick_dom0
from evtchn.inspect.detect import parse_files
from evtchn.inspect.findings import XsTree
from evtchn.inspect.model import Kind, ParseError, Table
from evtchn.toolstack.costs import dom0_baseline, vm_cost
from evtchn.toolstack.errors import StartError, ToolstackError
from evtchn.toolstack.hardware import Hardware, IrqSource, get_hardware
from evtchn.toolstack.host import Host
from evtchn.toolstack.profiles import Profile, get_profile
from evtchn.toolstack.spec import DiskSpec, NicSpec, VmSpec
from evtchn.twin.formats import (
    CaptureError,
    DomainConfig,
    XlInfo,
    read_xe_vm_list,
    read_xl_info,
    read_xl_list,
)

# dom0's ABI limit → the profile whose dom0 has it (reference §1): 32-bit 2L dom0 was XenServer 6.1,
# 64-bit 2L 6.2, FIFO 8.
PROFILE_FOR_LIMIT = {1023: "xenserver-6.1", 4095: "xenserver-6.2", 131071: "xenserver-8"}
FALLBACK_PROFILE = "xenserver-6.2"
PROFILE_LIMITS = {"2l-32": 1023, "2l-64": 4095, "fifo": 131071}  # inspect.abi.ABI_LIMITS
MAX_DEVICES = 8  # disks and NICs tried when a domain's shape is fitted to its port count


@dataclass(slots=True)
class DomainRow:
    domid: int
    name: str
    shape_from: str  # "xl list -l" | "xe vm-list" | "fitted to N ports"
    real_ports: int
    twin_ports: int
    state: str  # the twin VM's state: running | degraded | failed to start


@dataclass(slots=True)
class ImportResult:
    host: Host
    inputs: list[str]
    domains: list[DomainRow] = field(default_factory=list)
    assumed: list[str] = field(default_factory=list)
    dom0_real: int = 0
    dom0_real_baseline: dict[str, int] = field(default_factory=dict)

    @property
    def dom0_twin(self) -> int:
        return self.host.dom0_ports_used()


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise CaptureError(f"{path}: cannot read ({e.strerror or e})") from None


def import_host(
    dumps: list[str],
    *,
    xl_list: str | None = None,
    xe_list: str | None = None,
    xl_info: str | None = None,
    xenstore_ls: str | None = None,
    profile: str | None = None,
) -> ImportResult:
    """The twin (see the module docstring); CaptureError (one line) for an unreadable input."""
    try:
        dump = parse_files([*dumps, *([xenstore_ls] if xenstore_ls else [])])
    except (ParseError, OSError) as e:
        raise CaptureError(str(e)) from None
    dom0 = pick_dom0(dump)
    if dom0 is None:
        kinds = ", ".join(dump.kinds()) or "nothing recognisable"
        raise CaptureError(f"{', '.join(dumps)}: no dom0 table (found {kinds}); capture `lsevtchn 0` or 'e'")
    assumed: list[str] = []
    configs: list[DomainConfig] = []
    if xl_list is not None:
        configs += read_xl_list(_read(xl_list), xl_list)
    if xe_list is not None:
        configs += read_xe_vm_list(_read(xe_list), xe_list)
    info = read_xl_info(_read(xl_info), xl_info) if xl_info is not None else XlInfo()

    analysis = analyze(dump)
    prof = _profile(profile, analysis, assumed)
    counts = dom0.kind_counts()
    guest_held = {d: n for d, n in analysis.held_by_domain.items() if d != 0}
    real_total = len(dom0)
    hw = _hardware(dom0, info, assumed)
    try:
        host = Host.create(prof, hw)
    except ToolstackError as e:
        raise CaptureError(f"dom0 cannot boot on the imported hardware: {e.message}") from None
    result = ImportResult(
        host=host, inputs=[*dumps, *(p for p in (xl_list, xe_list, xl_info, xenstore_ls) if p)]
    )
    if xenstore_ls is not None and (dump.xenstore is None or not dump.xenstore.useful):
        raise CaptureError(
            f"{xenstore_ls}: no /local/domain device or domain nodes (is it `xenstore-ls -f`?)"
        )
    xs = dump.xenstore
    result.dom0_real = real_total
    result.dom0_real_baseline = {k.label: counts.get(k, 0) for k in (Kind.VIRQ, Kind.IPI, Kind.PIRQ)}
    _compare_baseline(result, prof, hw, dom0.remote_counts((Kind.INTERDOMAIN,)).get(0, 0), assumed)

    _extra_dom0_ports(host, real_total - sum(guest_held.values()), assumed)
    by_domid = {c.domid: c for c in configs if c.domid is not None}
    for domid in sorted(set(guest_held) | {d for d, c in by_domid.items() if c.running}):
        held = guest_held.get(domid, 0)
        cfg = by_domid.get(domid)
        if xs is not None:
            cfg = _with_xenstore(xs, domid, cfg)
        spec, shape_from = _spec(prof, hw, domid, cfg, held, assumed)
        result.domains.append(_start(host, domid, spec, shape_from, held, assumed))
    bare = [d.domid for d in result.domains if d.domid not in by_domid and d.shape_from.startswith("fitted")]
    if bare:
        assumed.append(
            f"{len(bare)} domains with no toolstack record (domids {_ranges(bare)}): named domain-DOMID, "
            "HVM, 1 vCPU, 1024 MiB, disks and NICs fitted to the dom0 ports each holds"
        )
    for c in configs:
        if c.domid is None and not c.running:
            assumed.append(f"{c.name} ({c.source}) is not running: left out of the twin")
    result.assumed = assumed
    return result


def _ranges(ids: list[int]) -> str:
    """1, 2, 3, 5 → "1-3, 5"."""
    out: list[str] = []
    start = prev = ids[0]
    for d in [*ids[1:], None]:
        if d is not None and d == prev + 1:
            prev = d
            continue
        out.append(str(start) if start == prev else f"{start}-{prev}")
        if d is not None:
            start = prev = d
    return ", ".join(out)


def _profile(given: str | None, a: Analysis, assumed: list[str]) -> Profile:
    if given is not None:
        return get_profile(given)
    if a.limit is not None and a.limit in PROFILE_FOR_LIMIT:
        name = PROFILE_FOR_LIMIT[a.limit]
        why = "; ".join(a.abi_evidence) or "the dump"
        assumed.append(f"profile {name}: dom0's ABI limit is {a.limit} ({why}); pass --profile to choose")
        return get_profile(name)
    full = [c for c in a.abi_candidates if a.dom0_total == PROFILE_LIMITS.get(c)]
    if full:
        name = PROFILE_FOR_LIMIT[PROFILE_LIMITS[full[0]]]
        assumed.append(
            f"profile {name}: dom0's ABI is not proven, but it holds exactly {a.dom0_total} ports, the "
            f"{full[0]} limit, so it is taken as that limit, full; pass --profile to choose"
        )
        return get_profile(name)
    assumed.append(
        f"profile {FALLBACK_PROFILE}: the dump does not prove dom0's ABI "
        f"(plausible: {', '.join(a.abi_candidates)}); pass --profile"
    )
    return get_profile(FALLBACK_PROFILE)


def _hardware(dom0: Table, info: XlInfo, assumed: list[str]) -> Hardware:
    base = get_hardware(None)
    kind = dom0.kind
    per_cpu = (kind == int(Kind.IPI)) | (kind == int(Kind.VIRQ))
    bound_on = dom0.vcpu[per_cpu]
    bound_on = bound_on[bound_on >= 0]  # /proc/interrupts gives no vCPU per port
    vcpus = int(bound_on.max()) + 1 if bound_on.size else base.dom0_vcpus
    if not bound_on.size:
        assumed.append(f"dom0 vCPUs {vcpus} (the capture does not say which vCPU each port is bound on)")
    if info.dom0_vcpus is not None and info.dom0_vcpus != vcpus:
        assumed.append(f"dom0 vCPUs {vcpus} from its ports, not dom0_max_vcpus={info.dom0_vcpus}")
    pirqs = sorted(set(dom0.number[kind == int(Kind.PIRQ)].tolist()))
    gsis = [p for p in pirqs if 0 <= p < base.msi_pirq_base]
    msis = [p for p in pirqs if p >= base.msi_pirq_base]
    sources = [IrqSource(name=f"GSI {g}", kind="gsi", gsi=g) for g in gsis]
    if msis:
        sources.append(
            IrqSource(name=f"MSI vectors (PIRQ {msis[0]}..{msis[-1]})", kind="msi", count=len(msis))
        )
        if msis != list(range(msis[0], msis[0] + len(msis))):
            assumed.append("MSI PIRQs renumbered contiguously (only their count matters to dom0's table)")
    pcpus = info.nr_cpus or max(base.host_pcpus, vcpus)
    memory = info.total_memory_mib or base.host_memory_mib
    dom0_mem = info.dom0_memory_mib or base.dom0_memory_mib
    if info.nr_cpus is None:
        assumed.append(f"host CPUs {pcpus} (no `xl info`: nr_cpus unknown)")
    if info.total_memory_mib is None:
        assumed.append(f"host memory {memory} MiB (no `xl info`: total_memory unknown)")
    if info.dom0_memory_mib is None:
        assumed.append(f"dom0 memory {dom0_mem} MiB (no dom0_mem= on a Xen command line)")
    try:
        return Hardware(
            name="imported",
            description="built by `evtchn host import` from captured output",
            host_pcpus=max(pcpus, vcpus),
            host_memory_mib=memory,
            dom0_vcpus=vcpus,
            dom0_memory_mib=min(dom0_mem, memory - 1),
            irq_sources=sources,
            msi_pirq_base=msis[0] if msis else base.msi_pirq_base,
        )
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "hardware"
        raise CaptureError(
            f"the captured host does not make a valid hardware: {where}: {first['msg']}"
        ) from None


def _compare_baseline(
    result: ImportResult, prof: Profile, hw: Hardware, loopback: int, assumed: list[str]
) -> None:
    """dom0's own ports (VIRQs, IPIs, PIRQs) in the twin against the real table, by kind."""
    twin = dom0_baseline(prof, hw)
    for kind in ("virq", "ipi", "pirq"):
        real = result.dom0_real_baseline[kind]
        if real != twin[kind]:
            assumed.append(
                f"dom0 {kind} ports: real {real}, twin {twin[kind]} (profile {prof.name}'s dom0 kernel; only "
                "the total is matched, below)"
            )
    if loopback and loopback != twin["xenbus"]:
        assumed.append(f"dom0-to-dom0 interdomain ports: real {loopback}, twin {twin['xenbus']}")


def _extra_dom0_ports(host: Host, real_own: int, assumed: list[str]) -> None:
    """dom0's own ports (not held for a guest) in the real table beyond the twin's booted baseline: bound by
    the twin's dom0 kernel as IPIs, so the twin's free count is the real one. Fewer is only reported."""
    from evtchn.toolstack.kernel import FifoTracker, settle

    extra = real_own - host.dom0_ports_used()
    if extra < 0:
        assumed.append(
            f"dom0's own ports: real {real_own}, twin {real_own - extra}; the twin keeps its profile's "
            f"baseline, so it shows {-extra} fewer free ports than the real host"
        )
        return
    if extra == 0:
        return
    kernel, vcpus = host.kernel, host.hardware.dom0_vcpus
    for i in range(extra):
        port = host.hv.bind_ipi(0, i % vcpus)
        kernel.held.setdefault("ipi", []).append(port)
        if kernel.fifo:
            FifoTracker.track(host.hv, 0, port)
        settle(host.hv, 0, port, fifo=kernel.fifo)
    assumed.append(
        f"dom0's own ports: real {real_own}, the profile's baseline {real_own - extra}; the twin's dom0 "
        f"binds {extra} more (as IPIs) so its free ports match"
    )


def _with_xenstore(xs: XsTree, domid: int, cfg: DomainConfig | None) -> DomainConfig | None:
    """A domain's disks and NICs from xenstore-ls (frontend or backend nodes, failed devices included)
    when the toolstack listing does not give them; its name from /local/domain/N/name."""
    if cfg is not None and cfg.disks is not None and cfg.nics is not None:
        return cfg
    devs = [d for (dom, kind, _), d in xs.devices.items() if dom == domid and kind in ("vbd", "vif")]
    named = xs.domains.get(domid)
    if not devs:
        if cfg is None and named is not None and named.name:
            return DomainConfig(domid=domid, name=named.name, source="xenstore-ls")
        return cfg
    out = cfg or DomainConfig(
        domid=domid, name=(named.name if named and named.name else f"domain-{domid}"), source="xenstore-ls"
    )
    out.source = "xenstore-ls" if cfg is None else f"{cfg.source} + xenstore-ls"
    out.vbd_devids = sorted(int(d.devid) for d in devs if d.kind == "vbd" and d.devid.isdigit())
    out.disks = [False] * len(out.vbd_devids)
    out.nics = sorted(int(d.devid) for d in devs if d.kind == "vif" and d.devid.isdigit())
    return out


def _spec(
    prof: Profile, hw: Hardware, domid: int, cfg: DomainConfig | None, held: int, assumed: list[str]
) -> tuple[VmSpec, str]:
    name = cfg.name if cfg is not None else f"domain-{domid}"
    base = VmSpec(name=name)
    update: dict[str, object] = {}
    if cfg is not None:
        if cfg.type is not None:
            update["type"] = cfg.type
        if cfg.vcpus is not None:
            update["vcpus"] = max(1, cfg.vcpus)
        if cfg.memory_mib is not None:
            update["memory_mib"] = max(16, cfg.memory_mib)
        if cfg.disks is not None and cfg.nics is not None:
            devids: list[int | None] = list(cfg.vbd_devids) if cfg.vbd_devids else [None] * len(cfg.disks)
            update["disks"] = [
                DiskSpec(userdevice=i, devid=devid, kind="cdrom" if cd else "disk")
                for i, (cd, devid) in enumerate(zip(cfg.disks, devids, strict=True))
            ]
            update["nics"] = [NicSpec(devid=d) for d in cfg.nics]
            return VmSpec.model_validate(base.model_dump() | update), cfg.source
    spec = VmSpec.model_validate(base.model_dump() | update)
    fitted, exact = fit_devices(prof, hw, spec, held)
    if not exact:
        got = vm_cost(prof, hw, fitted).total
        assumed.append(f"domain {domid} ({name}): no disks+NICs shape costs {held} dom0 ports; took {got}")
    return fitted, f"fitted to {held} ports"


def fit_devices(prof: Profile, hw: Hardware, spec: VmSpec, held: int) -> tuple[VmSpec, bool]:
    """The shape with the fewest devices (a disk first) whose dom0 cost is `held`; else the closest below
    (the one above, if none is below). Returns (spec, exact)."""
    best: tuple[int, VmSpec] | None = None
    for total in range(MAX_DEVICES * 2 + 1):
        for disks in range(min(total, MAX_DEVICES), -1, -1):
            nics = total - disks
            if nics > MAX_DEVICES:
                continue
            cand = spec.model_copy(
                update={
                    "disks": [DiskSpec(userdevice=i) for i in range(disks)],
                    "nics": [NicSpec(devid=i) for i in range(nics)],
                }
            )
            cost = vm_cost(prof, hw, cand).total
            if cost == held:
                return cand, True
            gap = held - cost if cost < held else 10_000 + cost - held
            if best is None or gap < best[0]:
                best = (gap, cand)
    assert best is not None
    return best[1], False


def _start(host: Host, domid: int, spec: VmSpec, shape_from: str, held: int, assumed: list[str]) -> DomainRow:
    vm = host.define_vm(spec, unique_name=False)
    host.plumbing.rover = domid - 1  # Xen hands out the next free domid after the rover (domain.py)
    try:
        host.start_vm(vm.uuid)
    except StartError as e:
        assumed.append(f"domain {domid} ({spec.name}) failed to start in the twin: {e.message}")
        return DomainRow(domid, spec.name, shape_from, held, 0, "failed to start")
    if vm.domid != domid:
        assumed.append(f"domain {domid} ({spec.name}) got domid {vm.domid} in the twin")
    twin = sum(len(p) for p in host.vm_dom0_ports(vm.uuid).values())
    bad = [d for d in vm.devices if d.state in ("failed", "absent")]
    if twin != held:
        assumed.append(f"domain {domid} ({spec.name}): real dom0 ports {held}, twin {twin}")
    return DomainRow(domid, spec.name, shape_from, held, twin, "degraded" if bad else "running")


__all__ = ["CaptureError", "DomainRow", "ImportResult", "fit_devices", "import_host"]
