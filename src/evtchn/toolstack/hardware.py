"""The physical host under dom0: how many dom0 vCPUs and which interrupt sources dom0 binds.

    hw = get_hardware(None)            # the default 2013-era 2-socket server
    hw = get_hardware("rack.yaml")     # a user's own file (YAML/TOML/JSON)
    hw.pirqs                           # one dom0 PIRQ port per physical interrupt or MSI vector

dom0's baseline (reference §7.3, §13.8) is derived from this plus the profile's dom0 kernel flavour; see
costs.dom0_baseline().
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evtchn.toolstack import bounds as B
from evtchn.toolstack._loading import read_mapping, validate_model, yaml_line
from evtchn.toolstack.errors import ProfileError, SpecError
from evtchn.toolstack.safe_load import exists, one_line, read_text


class IrqSource(BaseModel):
    """A physical device's interrupts as dom0 binds them: a legacy GSI, or `count` MSI/MSI-X vectors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: Literal["gsi", "msi"]
    count: int = Field(default=1, ge=1, le=B.IRQ_COUNT.hi)
    gsi: int | None = Field(default=None, ge=0, le=B.PIRQ.hi)  # kind gsi: the GSI (= its PIRQ in dom0)
    # Numbers as a real host shows them (the 'e' dump's p= and i=), when they differ from what Xen's
    # allocation order gives (Hardware.irq_map): the first vector's PIRQ (the others count down) and Xen
    # IRQ (the others count up); and the dom0 vCPU each vector is delivered to (smp_affinity_list).
    pirq: int | None = Field(default=None, ge=1, le=B.PIRQ.hi)
    irq: int | None = Field(default=None, ge=1, le=B.PIRQ.hi)
    vcpus: list[int] | None = None

    @model_validator(mode="after")
    def _vectors(self) -> IrqSource:
        if self.vcpus is not None and len(self.vcpus) != self.count:
            raise SourceError("vcpus", f"lists {len(self.vcpus)} vCPUs for {self.count} vectors")
        return self


class SourceError(ValueError):
    """A bad value and the field it is in: of one interrupt source (`index`), or of the hardware itself
    (index None, raised by Hardware's checks); get_hardware() names the field and its line."""

    def __init__(self, field: str, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.index = index


class Hardware(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    host_pcpus: int = Field(ge=1, le=B.HOST_PCPUS.hi)
    host_memory_mib: int = Field(ge=256, le=B.HOST_MEMORY_MIB.hi)
    dom0_vcpus: int = Field(ge=1, le=512)
    dom0_memory_mib: int = Field(ge=128, le=B.HOST_MEMORY_MIB.hi)
    # In the order dom0 binds them at boot (the list order).
    irq_sources: list[IrqSource] = Field(default_factory=list)
    # Xen's nr_irqs_gsi (24 per IO-APIC): GSIs lie below it, MSI PIRQs and Xen's dynamic IRQs above it.
    msi_pirq_base: int = Field(default=48, ge=16, le=B.PIRQ.hi)
    # dom0's PIRQ space as `xl dmesg` prints it ("Dom0 has maximum N PIRQs"); None: Xen's default
    # (xen_default_nr_pirqs), grown to fit the sources.
    dom0_nr_pirqs: int | None = Field(default=None, ge=16, le=B.PIRQ.hi)
    # Dynamic IRQs Xen takes for itself before dom0 maps its first MSI (IOMMU fault and HPET interrupts).
    xen_msi_irqs: int = Field(default=0, ge=0, le=B.PIRQ.hi)
    sources: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Hardware:
        if self.dom0_vcpus > self.host_pcpus:
            raise ValueError(f"dom0_vcpus {self.dom0_vcpus} exceeds host_pcpus {self.host_pcpus}")
        if self.dom0_memory_mib >= self.host_memory_mib:
            raise ValueError(
                f"dom0_memory_mib {self.dom0_memory_mib} leaves nothing of {self.host_memory_mib}"
            )
        gsis = [s.gsi for s in self.irq_sources if s.kind == "gsi"]
        if any(g is None for g in gsis):
            raise ValueError("every gsi interrupt source needs its gsi number")
        if len(set(gsis)) != len(gsis):
            raise ValueError("two interrupt sources share a GSI")
        if any(s.count != 1 for s in self.irq_sources if s.kind == "gsi"):
            raise ValueError("a gsi source is one interrupt (count 1)")
        if any(g is not None and g >= self.msi_pirq_base for g in gsis):
            raise ValueError(f"GSIs must be below msi_pirq_base {self.msi_pirq_base}")
        self._check_numbers()
        msi = sum(s.count for s in self.irq_sources if s.kind == "msi")
        if self.dom0_nr_pirqs is not None and msi > self.dom0_nr_pirqs - self.msi_pirq_base:
            room = self.dom0_nr_pirqs - self.msi_pirq_base
            raise SourceError(
                "dom0_nr_pirqs",
                f"dom0_nr_pirqs {self.dom0_nr_pirqs} leaves room for {room} MSI PIRQs above "
                f"msi_pirq_base {self.msi_pirq_base}; the sources need {msi}",
            )
        return self

    def _check_numbers(self) -> None:
        """Explicit per-source numbers: in range, no PIRQ or Xen IRQ twice, vCPUs dom0 has."""
        top = self.nr_pirqs
        for i, s in enumerate(self.irq_sources):
            if (
                s.pirq is not None
                and s.kind == "msi"
                and not (self.msi_pirq_base <= s.pirq - s.count + 1 and s.pirq < top)
            ):
                raise SourceError(
                    "pirq",
                    f"MSI PIRQs {s.pirq}..{s.pirq - s.count + 1} leave {self.msi_pirq_base}..{top - 1}",
                    i,
                )
            if s.pirq is not None and s.kind == "gsi" and s.pirq >= top:
                raise SourceError("pirq", f"PIRQ {s.pirq} is not below dom0's nr_pirqs {top}", i)
            if s.irq is not None and s.kind == "msi" and s.irq < self.msi_pirq_base:
                raise SourceError("irq", f"an MSI's Xen IRQ is dynamic, from {self.msi_pirq_base} up", i)
            if s.vcpus is not None and any(not 0 <= v < self.dom0_vcpus for v in s.vcpus):
                raise SourceError("vcpus", f"dom0 has vCPUs 0..{self.dom0_vcpus - 1}", i)
        seen_pirq: dict[int, int] = {}
        seen_irq: dict[int, int] = {}
        for n in self.irq_map:
            for what, seen, value in (("pirq", seen_pirq, n.pirq), ("irq", seen_irq, n.irq)):
                if value in seen:
                    other = self.irq_sources[seen[value]].name
                    raise SourceError(what, f"{what.upper()} {value} is {other!r}'s already", n.idx)
                seen[value] = n.idx

    @property
    def irq_map(self) -> list[IrqNumbers]:
        """Each interrupt dom0 binds, in bind order, with its numbers as Xen hands them out: a GSI's PIRQ
        and Xen IRQ are the GSI; an MSI's PIRQ is the highest free one (xen: arch/x86/irq.c get_free_pirq
        scans from d->nr_pirqs - 1 down to nr_irqs_gsi for a non-GSI map) and its Xen IRQ the lowest free
        dynamic one (create_irq scans up from nr_irqs_gsi, after the ones Xen took for itself). A source's
        own `pirq` / `irq` take precedence and are skipped by the others."""
        taken_p = {p for s in self.irq_sources if s.pirq is not None for p in _down(s, s.pirq)}
        taken_i = {q for s in self.irq_sources if s.irq is not None for q in _up(s, s.irq)}
        out: list[IrqNumbers] = []
        pirq, irq = self.nr_pirqs - 1, self.msi_pirq_base + self.xen_msi_irqs
        for i, s in enumerate(self.irq_sources):
            vcpus: list[int | None] = list(s.vcpus) if s.vcpus else [None] * s.count
            if s.kind == "gsi" and s.gsi is not None:
                p = s.gsi if s.pirq is None else s.pirq
                out.append(
                    IrqNumbers(i, s.name, "gsi", s.gsi, p, s.gsi if s.irq is None else s.irq, vcpus[0])
                )
                continue
            ps, qs = [], []
            for _ in range(s.count):
                while s.pirq is None and pirq in taken_p:
                    pirq -= 1
                while s.irq is None and irq in taken_i:
                    irq += 1
                ps.append(pirq)
                qs.append(irq)
                pirq -= s.pirq is None
                irq += s.irq is None
            ps = ps if s.pirq is None else _down(s, s.pirq)
            qs = qs if s.irq is None else _up(s, s.irq)
            out.extend(
                IrqNumbers(i, s.name, "msi", None, p, q, v) for p, q, v in zip(ps, qs, vcpus, strict=True)
            )
        return out

    @property
    def pirq_numbers(self) -> list[int]:
        """The PIRQs dom0 binds, in bind order (irq_map)."""
        return [n.pirq for n in self.irq_map]

    @property
    def pirqs(self) -> int:
        return sum(s.count for s in self.irq_sources)

    @property
    def nr_pirqs(self) -> int:
        """dom0's PIRQ space: dom0_nr_pirqs, or Xen's default grown to hold every MSI above the GSIs."""
        if self.dom0_nr_pirqs is not None:
            return self.dom0_nr_pirqs
        msi = sum(s.count for s in self.irq_sources if s.kind == "msi")
        explicit = [s.pirq + 1 for s in self.irq_sources if s.pirq is not None]
        return max(
            xen_default_nr_pirqs(self.host_pcpus, self.dom0_vcpus, self.msi_pirq_base),
            self.msi_pirq_base + msi,
            *explicit,
        )


class IrqNumbers(NamedTuple):
    """One interrupt dom0 binds: its source (index, name), GSI (None for MSI), dom0's PIRQ, Xen's IRQ and
    the vCPU the file pins it to (None: the dom0 kernel's choice, kernel.settle)."""

    idx: int  # the source's place in irq_sources
    source: str
    kind: str
    gsi: int | None
    pirq: int
    irq: int
    vcpu: int | None


def _down(s: IrqSource, first: int) -> list[int]:
    return list(range(first, first - s.count, -1))


def _up(s: IrqSource, first: int) -> list[int]:
    return list(range(first, first + s.count))


# xen: arch/x86/include/asm/irq-vectors.h FIRST_DYNAMIC_VECTOR 0x20, LAST_DYNAMIC_VECTOR 0xef (0xdf before
# the legacy vector range was re-used on APs [UNCERTAIN: from which release]).
NR_DYNAMIC_VECTORS = 0xEF - 0x20 + 1


def xen_default_nr_pirqs(host_pcpus: int, dom0_vcpus: int, nr_irqs_gsi: int) -> int:
    """dom0's nr_pirqs without extra_guest_irqs=: xen arch/x86/io_apic.c arch_hwdom_irqs() —
    nr_irqs_gsi + min(fls(present CPUs), dom0 vCPUs) × NR_DYNAMIC_VECTORS, capped by nr_irqs (ioapic_init:
    max(16 + CPUs × NR_DYNAMIC_VECTORS, 8 × nr_irqs_gsi)) and the PIRQ EOI bitmap page (32768)."""
    nr_irqs = max(16 + host_pcpus * NR_DYNAMIC_VECTORS, 8 * nr_irqs_gsi)
    n = min(host_pcpus.bit_length(), dom0_vcpus)
    return min(nr_irqs_gsi + n * NR_DYNAMIC_VECTORS, nr_irqs, 4096 * 8)


_GSI = "gsi"
DEFAULT_HARDWARE = Hardware(
    name="default",
    description=(
        "2-socket 2013-era density-test server (2×8 cores, 1 TiB): 4 onboard 1GbE ports, 2×10GbE, a SAS "
        "RAID controller, DMA engines; dom0 with 4 vCPUs and 752 MiB as XenServer 6.2 sized it"
    ),
    host_pcpus=16,
    host_memory_mib=1024 * 1024,
    dom0_vcpus=4,
    dom0_memory_mib=752,
    irq_sources=[
        IrqSource(name="i8042 keyboard", kind=_GSI, gsi=1),
        IrqSource(name="serial ttyS0", kind=_GSI, gsi=4),
        IrqSource(name="acpi SCI", kind=_GSI, gsi=9),
        IrqSource(name="i8042 aux", kind=_GSI, gsi=12),
        IrqSource(name="ehci_hcd:usb1", kind=_GSI, gsi=16),
        IrqSource(name="ipmi_si", kind=_GSI, gsi=19),
        IrqSource(name="ehci_hcd:usb2", kind=_GSI, gsi=23),
        IrqSource(name="ahci", kind="msi", count=1),
        IrqSource(name="megaraid_sas", kind="msi", count=8),
        IrqSource(name="ioatdma (8 channels)", kind="msi", count=8),
        IrqSource(name="tg3 eth0", kind="msi", count=5),
        IrqSource(name="tg3 eth1", kind="msi", count=5),
        IrqSource(name="tg3 eth2", kind="msi", count=5),
        IrqSource(name="tg3 eth3", kind="msi", count=5),
        IrqSource(name="ixgbe eth4 (8 queues + link)", kind="msi", count=9),
        IrqSource(name="ixgbe eth5 (8 queues + link)", kind="msi", count=9),
    ],
    sources={
        "host_memory_mib": (
            "XenServer 6.x configuration limit: 1 TiB RAM per host [UNCERTAIN]; the blog's 150/570 assume "
            "'the right equipment (CPU and memory)' (citrix.com blog 2015-05-14, reference §10), i.e. a host "
            "where memory does not bind before dom0's event channels"
        ),
        "dom0_vcpus": "modelling choice: XenServer 6.x gave dom0 4 vCPUs on hosts of this size",
        "dom0_memory_mib": "XenServer 6.2 default dom0 memory 752 MiB (XenServer 6.2 release notes)",
        "irq_sources": (
            "modelling choice: a typical server's interrupt sources, sized so that dom0's baseline lands "
            "in the blog's 'around 50–100' (reference §10, §13.8)"
        ),
        "msi_pirq_base": "xen: nr_irqs_gsi, 24 per IO-APIC on a 2-IO-APIC board",
        "dom0_nr_pirqs": "xen arch_hwdom_irqs(): 48 + min(fls(16), 4) x 208 = 880 (xen_default_nr_pirqs)",
    },
)

# The same server with the 128 GiB a typical 2013 rack server had: memory binds before event channels.
RACK_128G_HARDWARE = DEFAULT_HARDWARE.model_copy(
    update={
        "name": "rack-128g",
        "description": "the default server with 128 GiB of memory, where host memory binds first",
        "host_memory_mib": 128 * 1024,
        "sources": {**DEFAULT_HARDWARE.sources, "host_memory_mib": "modelling choice: a common 2013 size"},
    }
)

BUILTIN_HARDWARE: dict[str, Hardware] = {h.name: h for h in (DEFAULT_HARDWARE, RACK_128G_HARDWARE)}


def get_hardware(name_or_path: str | None) -> Hardware:
    """None or 'default' → the default; another built-in name; or a YAML/TOML/JSON file."""
    if name_or_path is None:
        return DEFAULT_HARDWARE
    if name_or_path in BUILTIN_HARDWARE:
        return BUILTIN_HARDWARE[name_or_path]
    p = Path(name_or_path)
    if not exists(p):
        known = ", ".join(sorted(BUILTIN_HARDWARE))
        raise ProfileError(f"{name_or_path}: no such hardware file or built-in hardware (built-in: {known})")
    data = read_mapping(p, "hardware")
    data.setdefault("name", p.stem)
    try:
        return Hardware.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        cause = err.get("ctx", {}).get("error")
        if isinstance(cause, SourceError):  # one source's value: name it with its index, field and line
            at = ("irq_sources", cause.index) if cause.index is not None else tuple(err["loc"])
            loc = (*at, cause.field)
            line = yaml_line(p, read_text(p, "hardware"), loc) or yaml_line(p, read_text(p, "hardware"), at)
            where = f"{p}:{line}" if line else str(p)
            field = ".".join(str(x) for x in loc)
            raise SpecError(f"{where}: field {field}: {one_line(str(cause))}") from None
        line = yaml_line(p, read_text(p, "hardware"), tuple(err["loc"]))
        try:
            return validate_model(Hardware, data, str(p))
        except SpecError as bad:
            text = str(bad)
            raise SpecError(text.replace(f"{p}: ", f"{p}:{line}: ", 1) if line else text) from None
