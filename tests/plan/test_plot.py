"""Plots: files written and non-trivial; the data behind them equals a simulated run."""

from __future__ import annotations

from pathlib import Path

import pytest

from evtchn.plan.density import plan_mix
from evtchn.plan.mix import Mix
from evtchn.plan.plot import PlotError, failure_point, write_plot
from evtchn.plan.simulate import simulate
from evtchn.toolstack.hardware import Hardware
from evtchn.toolstack.profiles import get_profile

STORY = ("xenserver-6.1", "xenserver-6.2", "xenserver-8")


def test_png_and_svg_are_written(tmp_path: Path, seed_mix: Mix, lab: Hardware) -> None:
    plans = [plan_mix(get_profile(p), lab, seed_mix) for p in STORY]
    png = write_plot(plans, tmp_path / "out" / "d.png")
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000
    svg = write_plot(plans, tmp_path / "d.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for p in STORY:
        assert p in svg  # legend and bar labels name every profile
    assert "device models" in svg and "VM 156" in svg


def test_bad_plot_paths(tmp_path: Path, seed_mix: Mix, lab: Hardware) -> None:
    plans = [plan_mix(get_profile("xenserver-6.1"), lab, seed_mix)]
    with pytest.raises(PlotError, match=r"must end in \.png or \.svg"):
        write_plot(plans, tmp_path / "d.pdf")
    (tmp_path / "file").write_text("x")
    with pytest.raises(PlotError, match="cannot write the plot"):
        write_plot(plans, tmp_path / "file" / "d.png")


@pytest.mark.parametrize("profile", STORY)
def test_plotted_series_match_the_simulation(profile: str, seed_mix: Mix, lab: Hardware) -> None:
    p = get_profile(profile)
    plan = plan_mix(p, lab, seed_mix)
    sim = simulate(p, lab, seed_mix)
    assert plan.dom0_series() == sim.dom0_used
    x, y = failure_point(plan)
    assert x == sim.ok_vms + 1
    if plan.binding == ("dom0_evtchn",):
        assert y > plan.dom0_limit  # the marked VM needs more than dom0 has


def test_by_kind_bars_match_the_simulated_host(seed_mix: Mix, lab: Hardware) -> None:
    """On 6.2 VM 573 fails to start and holds nothing: every dom0 port is the baseline or a VM that is up."""
    p = get_profile("xenserver-6.2")
    plan = plan_mix(p, lab, seed_mix)
    sim = simulate(p, lab, seed_mix)
    assert sim.failure is not None and sim.failure.outcome == "failed to start"
    host = sim.host
    assert host is not None
    kinds = plan.dom0_by_kind_at_max()
    per_domain = {"xenstore": host.xenstored, "consoles": host.xenconsoled, "disks": host.blkback}
    per_domain |= {"NICs": host.netback, "device models": host.qemu}
    vm_ports = 0
    for kind, binder in per_domain.items():
        # Per-VM keys are a domid or (domid, devid); dom0's own are names ("virq", "xenbus").
        n = sum(len(v) for k, v in binder.held.items() if isinstance(k, int | tuple))
        assert kinds[kind] == n, kind
        vm_ports += n
    assert kinds["baseline"] == host.dom0_ports_used() - vm_ports == sum(host.baseline().values())
