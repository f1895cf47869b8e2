"""Test helpers: hardware whose dom0 baseline (and so the free ports) is what a test needs."""

from __future__ import annotations

from evtchn.toolstack import Hardware, Profile, dom0_baseline, get_hardware
from evtchn.toolstack.hardware import IrqSource


def hardware_with_baseline(profile: Profile, total: int) -> Hardware:
    """The default hardware with its MSI vectors resized so that dom0's baseline is `total` ports."""
    base = get_hardware(None)
    gsis = [s for s in base.irq_sources if s.kind == "gsi"]
    probe = base.model_copy(update={"irq_sources": gsis})
    msi = total - sum(dom0_baseline(profile, probe).values())
    assert msi >= 0, f"baseline {total} is below the fixed part"
    sources = list(gsis)
    while msi > 0:
        n = min(msi, 2048)
        sources.append(IrqSource(name=f"msi{len(sources)}", kind="msi", count=n))
        msi -= n
    return Hardware.model_validate({**base.model_dump(), "name": f"baseline-{total}", "irq_sources": sources})


def hardware_leaving(profile: Profile, free: int) -> Hardware:
    """Hardware that leaves exactly `free` dom0 ports once dom0 has booted."""
    return hardware_with_baseline(profile, profile.dom0_abi_limit - 1 - free)


def small_dom0(profile: Profile) -> Profile:
    """The same profile with a 1024-port 2L dom0, so that 'k ports left' hardware stays small."""
    kernel = profile.dom0_kernel.model_copy(update={"fifo": False})
    return profile.model_copy(update={"dom0_kernel": kernel, "dom0_width": 32, "dom0_max_evtchns": None})
