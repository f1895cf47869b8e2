"""What the dashboard shows, computed from one committed state of the host file (nothing here renders).

    view = host_view(store.read())      # dom0 gauge, ports by kind and by holder, VMs, headroom

Every figure is one the toolstack already keeps: dom0's used/usable ports (reference §1), the baseline dom0
binds for itself (§7.3), each VM's dom0 ports by kind (§7), and `can_start` for the headroom. Ports dom0
holds that neither its own baseline nor a VM explains (fault-injected consumers, other tools) are shown as
one "other consumers" holder, so the holders always add up to the gauge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evtchn.store.rows import DeviceRow, VmRow
    from evtchn.toolstack.host import Host
    from evtchn.toolstack.records import Vm

MAX_DEVICES_LISTED = 8  # a VM with more lists its troubled devices and counts the rest by kind and state
MAX_SHAPES = 6  # headroom rows: one per distinct VM shape on the host, largest cost first
TOP_HOLDERS = 12  # VMs named in the holder chart; the rest are summed as one bar


@dataclass(frozen=True, slots=True)
class Device:
    ref: str  # the VBD/VIF's XenAPI ref ("" when the host file has no row for it)
    kind: str
    devid: int
    state: str
    dom0_ports: int
    guest_ports: int
    error: str  # backend or frontend error text ("error 28 …"), "" when none


@dataclass(frozen=True, slots=True)
class VmView:
    ref: str
    name: str
    uuid: str
    power_state: str
    domid: int | None
    dom0_ports: int
    guest_ports: int
    guest_limit: int | None
    devices: tuple[Device, ...]
    last_error: str

    @property
    def failed(self) -> int:
        return sum(1 for d in self.devices if d.error or d.state == "failed")

    @property
    def listed(self) -> tuple[Device, ...]:
        """The devices named one by one: all of them on a small VM, else those with an error first."""
        if len(self.devices) <= MAX_DEVICES_LISTED:
            return self.devices
        troubled = [d for d in self.devices if d.error or d.state not in ("connected", "emulated")]
        return tuple(troubled[:MAX_DEVICES_LISTED])

    @property
    def summary(self) -> str:
        """The devices not listed, counted: "196 vbd connected, 1 vif connected"."""
        listed = {(d.kind, d.devid) for d in self.listed}
        counts: dict[tuple[str, str], int] = {}
        for d in self.devices:
            if (d.kind, d.devid) not in listed:
                counts[(d.kind, d.state)] = counts.get((d.kind, d.state), 0) + 1
        return ", ".join(f"{n} {kind} {state}" for (kind, state), n in sorted(counts.items()))


@dataclass(frozen=True, slots=True)
class Headroom:
    shape: str  # "like web01 (hvm, 2 vCPUs, 2 disks, 1 NIC)"
    cost: int  # dom0 ports one more VM of this shape takes
    more: int  # how many more fit in dom0's free ports
    binding_limit: str
    detail: str


@dataclass(slots=True)
class HostView:
    profile: str
    abi: str
    abi_evidence: list[str]
    used: int
    usable: int
    by_kind: dict[str, int] = field(default_factory=dict)
    by_holder: list[tuple[str, int]] = field(default_factory=list)
    vms: list[VmView] = field(default_factory=list)
    headroom: list[Headroom] = field(default_factory=list)
    fault_ports: int = 0  # dom0 ports `evtchn fault consume` holds (toolstack/fault.py)

    @property
    def free(self) -> int:
        return max(0, self.usable - self.used)

    @property
    def full(self) -> bool:
        return self.used >= self.usable


@dataclass(frozen=True, slots=True)
class Rows:
    """The XenAPI refs of the host file's VM and device rows (the page's actions name objects by ref)."""

    vm_refs: dict[str, str]  # VM uuid -> ref
    devices: dict[str, dict[tuple[str, int], DeviceRow]]  # VM uuid -> (kind, devid) -> row

    @classmethod
    def empty(cls) -> Rows:
        return cls({}, {})

    @classmethod
    def of(cls, vms: list[VmRow], devices: list[DeviceRow]) -> Rows:
        uuid_of = {v.ref: v.uuid for v in vms}
        per_vm: dict[str, dict[tuple[str, int], DeviceRow]] = {}
        for d in devices:
            per_vm.setdefault(uuid_of.get(d.vm_ref, ""), {})[(d.kind, d.devid)] = d
        return cls({v.uuid: v.ref for v in vms}, per_vm)


def host_view(host: Host, rows: Rows | None = None) -> HostView:
    from evtchn.toolstack.devices.dom0_daemons import DOM0

    dom0 = host.hv.domains[DOM0]
    p = host.profile
    view = HostView(
        profile=p.name,
        abi=dom0.abi.name,
        abi_evidence=[
            f"profile {p.name}: Xen {p.xen_version[0]}.{p.xen_version[1]}, "
            f"{p.dom0_width}-bit dom0, kernel {p.dom0_kernel.name}",
            f"dom0's max_evtchns is {dom0.abi.max_evtchns} under {dom0.abi.name} (reference §1, §12)",
            "the simulated hypervisor's own port table: known, not inferred",
        ],
        used=host.dom0_ports_used(),
        usable=host.dom0_ports_usable(),
        fault_ports=host.plumbing.fault.count(),
    )
    per_vm: list[tuple[VmView, dict[str, int]]] = []
    for uuid in sorted(host.vms, key=lambda u: (host.vms[u].name, u)):
        vm = host.vms[uuid]
        mine = host.vm_dom0_ports(uuid) if vm.domid is not None else {}
        held = sum(len(v) for v in mine.values())
        guest = None
        if vm.domid is not None and vm.domid in host.hv.domains:
            dom = host.hv.domains[vm.domid]
            guest = (dom.active_evtchns, dom.limit_port)
        per_vm.append((vm_view(vm, held, guest, rows or Rows.empty()), {k: len(v) for k, v in mine.items()}))
    finish_view(view, host.baseline(), per_vm)
    view.headroom = headroom(host, view.free)
    return view


def finish_view(
    view: HostView, baseline: dict[str, int], per_vm: list[tuple[VmView, dict[str, int]]]
) -> None:
    """The VM list, ports by kind and by holder, from each VM's row and its dom0 ports by kind (in page
    order); dom0's used ports already in `view`. Shared by the whole-host view and the live one (live.py)."""
    by_kind = {k: n for k, n in baseline.items() if n}
    holders: list[tuple[str, int]] = [("dom0 itself", sum(baseline.values()))]
    vm_holders: list[tuple[str, int]] = []
    for vm, kinds in per_vm:
        for kind, n in kinds.items():
            if n:
                by_kind[kind] = by_kind.get(kind, 0) + n
        if vm.dom0_ports:
            vm_holders.append((vm.name, vm.dom0_ports))
        view.vms.append(vm)
    vm_holders.sort(key=lambda h: -h[1])
    holders.extend(vm_holders[:TOP_HOLDERS])
    rest = vm_holders[TOP_HOLDERS:]
    if rest:
        holders.append((f"{len(rest)} more VMs", sum(n for _, n in rest)))
    other = view.used - sum(n for _, n in holders)
    if other > 0:
        holders.append(("other consumers (fault-injected, tools)", other))
        by_kind["other"] = by_kind.get("other", 0) + other
    view.by_kind = dict(sorted(by_kind.items(), key=lambda kv: -kv[1]))
    view.by_holder = holders


def vm_ports_by_kind(vm: Vm, daemons: dict[str, list[int]]) -> dict[str, list[int]]:
    """The dom0 ports a VM holds by kind, from its record and the daemons' ports for its domid ("xenstore",
    "console", "device_model"): what Host.vm_dom0_ports answers (toolstack/capacity.py), for a VM read
    on its own (live.py). tests/ui check the two agree."""
    if vm.domid is None:
        return {}
    out = {k: list(v) for k, v in daemons.items()}
    for dev in vm.devices:
        out.setdefault(dev.kind, []).extend(dev.dom0_ports)
    return out


def vm_view(vm: Vm, dom0_ports: int, guest: tuple[int, int] | None, rows: Rows) -> VmView:
    """One VM's row: `guest` is its domain's (active event channels, limit port), None without one."""
    guest_ports, guest_limit = guest if guest is not None and vm.domid is not None else (0, None)
    devices = []
    live = {(d.kind, d.devid) for d in vm.devices}
    mine = rows.devices.get(vm.uuid, {})
    for d in vm.devices:
        row = mine.get((d.kind, d.devid))
        errors = [e for e in (d.error, d.frontend_error) if e]
        if not errors and row is not None and row.status_code:
            errors.append(row.status_detail)
        devices.append(
            Device(
                ref=row.ref if row is not None else "", kind=d.kind, devid=d.devid, state=d.state,
                dom0_ports=len(d.dom0_ports), guest_ports=len(d.guest_ports), error="; ".join(errors),
            )
        )
    for (kind, devid), row in sorted(mine.items()):  # devices of a VM with no domain now
        if (kind, devid) not in live:
            state = "unplugged" if vm.domid is not None else "detached"
            error = row.status_detail if row.status_code else ""
            devices.append(Device(row.ref, kind, devid, state, 0, 0, error))
    return VmView(
        ref=rows.vm_refs.get(vm.uuid, ""), name=vm.name, uuid=vm.uuid, power_state=vm.power_state,
        domid=vm.domid, dom0_ports=dom0_ports, guest_ports=guest_ports, guest_limit=guest_limit,
        devices=tuple(devices), last_error=vm.last_error or "",
    )


def _shape_name(vm: Vm) -> str:
    s = vm.spec
    disks, nics = len(s.disks), len(s.nics)
    return (
        f"like {vm.name} ({s.type}, {s.vcpus} vCPU{'s' if s.vcpus != 1 else ''}, "
        f"{disks} disk{'s' if disks != 1 else ''}, {nics} NIC{'s' if nics != 1 else ''})"
    )


SHAPE_FIELDS = {"type": ("hvm", "pv", "pvh"), "vcpus": (1, 64), "disks": (0, 64), "nics": (0, 16)}


def chosen_shape(host: Host, form: dict[str, str], free: int | None = None) -> tuple[Headroom | None, str]:
    """Headroom for a shape the user typed (?type=pv&vcpus=2&disks=3&nics=1): (row, "") or (None, error).
    The error names the field, in one line. `free`: dom0's free ports now, if `host` is an older read."""
    from evtchn.toolstack import costs
    from evtchn.toolstack.spec import DiskSpec, NicSpec, VmSpec

    if not any(k in form for k in SHAPE_FIELDS):
        return None, ""
    vm_type = form.get("type", "hvm")
    if vm_type not in SHAPE_FIELDS["type"]:
        return None, f"type: {vm_type!r} is not one of hvm, pv, pvh"
    n: dict[str, int] = {}
    for field_name in ("vcpus", "disks", "nics"):
        raw = form.get(field_name, "1" if field_name == "vcpus" else "0").strip()
        lo, hi = SHAPE_FIELDS[field_name]
        assert isinstance(lo, int) and isinstance(hi, int)
        if not raw.isdigit() or not lo <= int(raw) <= hi:
            return None, f"{field_name}: {raw[:20]!r} is not a whole number from {lo} to {hi}"
        n[field_name] = int(raw)
    from pydantic import ValidationError

    try:
        spec = VmSpec.model_validate({
            "name": "chosen", "type": vm_type, "vcpus": n["vcpus"],
            "disks": [DiskSpec(userdevice=i) for i in range(n["disks"])],
            "nics": [NicSpec(devid=i) for i in range(n["nics"])],
        })  # fmt: skip
    except ValidationError as e:
        first = e.errors()[0]
        return None, f"shape: {first['msg']}"
    cost = costs.vm_cost(host.profile, host.hardware, spec).total
    adm = host.can_start(spec)
    if free is None:
        free = max(0, host.dom0_ports_usable() - host.dom0_ports_used())
    d, c = n["disks"], n["nics"]
    shape = (f"chosen: {vm_type}, {n['vcpus']} vCPU{'s' if n['vcpus'] != 1 else ''}, "
             f"{d} disk{'s' if d != 1 else ''}, {c} NIC{'s' if c != 1 else ''}")  # fmt: skip
    return Headroom(shape, cost, free // cost if cost else 0, adm.binding_limit, adm.detail), ""


def headroom(host: Host, free: int) -> list[Headroom]:
    """How many more VMs of each distinct shape on the host fit in dom0's free ports now, and which limit
    binds first (the toolstack's own can_start, reference §1 and §7)."""
    from evtchn.toolstack import costs

    seen: dict[tuple[object, ...], Headroom] = {}
    for uuid in sorted(host.vms, key=lambda u: (host.vms[u].name, u)):
        vm = host.vms[uuid]
        s = vm.spec
        key = (s.type, s.vcpus, len(s.disks), len(s.nics))
        if key in seen:
            continue
        cost = costs.vm_cost(host.profile, host.hardware, s).total
        adm = host.can_start(s)
        seen[key] = Headroom(
            shape=_shape_name(vm), cost=cost, more=free // cost if cost else 0,
            binding_limit=adm.binding_limit, detail=adm.detail,
        )  # fmt: skip
    return sorted(seen.values(), key=lambda h: -h.cost)[:MAX_SHAPES]
