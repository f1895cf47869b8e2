"""The physical host under dom0: how many dom0 vCPUs and which interrupt sources dom0 binds.

    hw = get_hardware(None)            # the default 2013-era 2-socket server
    hw = get_hardware("rack.yaml")     # a user's own file (YAML/TOML/JSON)
    hw.pirqs                           # one dom0 PIRQ port per physical interrupt or MSI vector

dom0's baseline (reference §7.3, §13.8) is derived from this plus the profile's dom0 kernel flavour; see
costs.dom0_baseline().
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

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
    irq_sources: list[IrqSource] = Field(default_factory=list)
    # Xen numbers MSI PIRQs above the GSIs (nr_irqs_gsi: 24 per IO-APIC).
    msi_pirq_base: int = Field(default=48, ge=16, le=B.PIRQ.hi)
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
        return self

    @property
    def pirq_numbers(self) -> list[int]:
        """The PIRQs dom0 binds: each GSI, then MSI vectors numbered upward from msi_pirq_base."""
        out = [s.gsi for s in self.irq_sources if s.kind == "gsi" and s.gsi is not None]
        nxt = self.msi_pirq_base
        for s in self.irq_sources:
            if s.kind == "msi":
                out.extend(range(nxt, nxt + s.count))
                nxt += s.count
        return out

    @property
    def pirqs(self) -> int:
        return sum(s.count for s in self.irq_sources)

    @property
    def nr_pirqs(self) -> int:
        """dom0's PIRQ space: room for every number above, rounded up like Xen's nr_pirqs (≥ 256)."""
        top = max(self.pirq_numbers, default=0) + 1
        return max(256, (top + 63) // 64 * 64)


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
