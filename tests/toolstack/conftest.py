"""Helpers for toolstack tests: hardware that leaves an exact number of dom0 ports free."""

from __future__ import annotations

from evtchn.toolstack import Hardware, Profile, dom0_baseline, get_hardware
from evtchn.toolstack.hardware import IrqSource


def hardware_leaving(profile: Profile, free: int) -> Hardware:
    """The default hardware with its MSI vectors resized so that dom0 has exactly `free` ports left."""
    base = get_hardware(None)
    no_msi = base.model_copy(update={"irq_sources": [s for s in base.irq_sources if s.kind == "gsi"]})
    fixed = sum(dom0_baseline(profile, no_msi).values())
    usable = profile.dom0_abi_limit - 1
    msi = usable - fixed - free
    assert msi >= 1, "cannot leave that many ports free"
    sources = [*no_msi.irq_sources, IrqSource(name="filler msi", kind="msi", count=msi)]
    return Hardware.model_validate({**no_msi.model_dump(), "name": f"leaves-{free}", "irq_sources": sources})
