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

from pydantic import BaseModel, ConfigDict, Field, model_validator

from evtchn.toolstack import bounds as B
from evtchn.toolstack._loading import read_mapping, validate_model
from evtchn.toolstack.errors import ProfileError
from evtchn.toolstack.safe_load import exists


class IrqSource(BaseModel):
    """A physical device's interrupts as dom0 binds them: a legacy GSI, or `count` MSI/MSI-X vectors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: Literal["gsi", "msi"]
    count: int = Field(default=1, ge=1, le=B.IRQ_COUNT.hi)
    gsi: int | None = Field(default=None, ge=0, le=B.PIRQ.hi)  # kind gsi: the GSI (= its PIRQ in dom0)


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
        msi = sum(s.count for s in self.irq_sources if s.kind == "msi")
        if self.dom0_nr_pirqs is not None and msi > self.dom0_nr_pirqs - self.msi_pirq_base:
            room = self.dom0_nr_pirqs - self.msi_pirq_base
            raise ValueError(
                f"dom0_nr_pirqs {self.dom0_nr_pirqs} leaves room for {room} MSI PIRQs above "
                f"msi_pirq_base {self.msi_pirq_base}; the sources need {msi}"
            )
        return self

    @property
    def irq_map(self) -> list[IrqNumbers]:
        """Each interrupt dom0 binds, in bind order, with its numbers as Xen hands them out: a GSI's PIRQ
        and Xen IRQ are the GSI; an MSI's PIRQ is the highest free one (xen: arch/x86/irq.c get_free_pirq
        scans from d->nr_pirqs - 1 down to nr_irqs_gsi for a non-GSI map) and its Xen IRQ the lowest free
        dynamic one (create_irq scans up from nr_irqs_gsi, after the ones Xen took for itself)."""
        out: list[IrqNumbers] = []
        pirq, irq = self.nr_pirqs - 1, self.msi_pirq_base + self.xen_msi_irqs
        for s in self.irq_sources:
            if s.kind == "gsi" and s.gsi is not None:
                out.append(IrqNumbers(s.name, "gsi", s.gsi, s.gsi, s.gsi))
                continue
            for _ in range(s.count):
                out.append(IrqNumbers(s.name, "msi", None, pirq, irq))
                pirq, irq = pirq - 1, irq + 1
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
        return max(
            xen_default_nr_pirqs(self.host_pcpus, self.dom0_vcpus, self.msi_pirq_base),
            self.msi_pirq_base + msi,
        )


class IrqNumbers(NamedTuple):
    """One interrupt dom0 binds: its source, GSI (None for MSI), dom0's PIRQ and Xen's IRQ."""

    source: str
    kind: str
    gsi: int | None
    pirq: int
    irq: int


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
    return validate_model(Hardware, data, str(p))
