"""Plots of plans: dom0 ports used against VMs started, and dom0 port use by kind at the maximum.

    write_plot([plan_61, plan_62], "density.png")     # or .svg; returns the Path written

Left: for each profile, dom0 ports in use after n VMs (n = 0 … max), its dom0 limit as a dashed line of the
same colour, and an x where the next VM fails (at the ports it would need), labelled with the binding limit.
Right: a stacked bar per profile of dom0's ports at the maximum by kind (baseline, xenstore, consoles, disks,
NICs, device models). The numbers are Plan.dom0_series() and Plan.dom0_by_kind_at_max(); tests check those
against a simulated run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never a display

import matplotlib.pyplot as plt

from evtchn.plan.density import KIND_LABELS, Plan

FORMATS = (".png", ".svg")
KINDS = ("baseline", *KIND_LABELS.values())


class PlotError(ValueError):
    """A plot path that cannot be written; one readable line."""


def failure_point(plan: Plan) -> tuple[int, int]:
    """(VM number, dom0 ports it would bring the total to) for the first VM that does not fit."""
    nxt = plan.shapes[plan.next_shape].cost.total
    return plan.max_vms + 1, plan.dom0_used_after(plan.max_vms) + nxt


def write_plot(plans: Sequence[Plan], path: str | Path, *, title: str | None = None) -> Path:
    """Draw both panels for these plans into a PNG or SVG file; PlotError for a bad path."""
    p = Path(path)
    if p.suffix.lower() not in FORMATS:
        raise PlotError(f"{p}: plot file must end in .png or .svg")
    if not plans:
        raise PlotError("nothing to plot")
    fig, (ax, bars) = plt.subplots(1, 2, figsize=(13, 5.5), gridspec_kw={"width_ratios": [3, 2]})
    try:
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        tops = [max(failure_point(p)[1], p.dom0_series()[-1]) for p in plans]
        # Linear axes read best (straight lines meeting flat limits); a limit far above every curve (FIFO's
        # 131071) is named in the legend instead of squashing the rest.
        ymax = 1.12 * max(tops + [p.dom0_limit for p in plans if p.dom0_limit <= 3 * max(tops)])
        for i, plan in enumerate(plans):
            c = colours[i % len(colours)]
            series = plan.dom0_series()
            shown = plan.dom0_limit <= ymax
            label = f"{plan.profile}: max {plan.max_vms}, limit {plan.dom0_limit}"
            ax.plot(range(len(series)), series, color=c, label=label + ("" if shown else " (off scale)"))
            if shown:
                ax.axhline(plan.dom0_limit, color=c, linestyle="--", linewidth=1)
            fx, fy = failure_point(plan)
            ax.plot([fx], [fy], marker="x", markersize=10, color=c)
            ax.annotate(
                f"VM {fx}: {', '.join(plan.limit(k).title for k in plan.binding)}",
                (fx, fy),
                textcoords="offset points",
                xytext=(-6, 6 + 11 * (i % 3)),
                ha="right",
                fontsize=8,
                color=c,
            )
        ax.set_ylim(0, ymax)
        ax.set_xlabel("VMs started")
        ax.set_ylabel("dom0 event channels in use (dashed: limit)")
        ax.set_title("dom0 event channels against VMs started (x: first VM that fails)")
        ax.legend(fontsize=8, loc="upper left")
        ax.grid(True, alpha=0.3)

        names = [p.profile for p in plans]
        bottom = [0] * len(plans)
        for kind in KINDS:
            heights = [p.dom0_by_kind_at_max().get(kind, 0) for p in plans]
            bars.bar(names, heights, bottom=bottom, label=kind)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        bars.set_ylabel("dom0 ports at the maximum")
        bars.set_title("dom0 port use by kind at the maximum")
        bars.tick_params(axis="x", labelrotation=20, labelsize=8)
        bars.legend(fontsize=8)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(p)
        except OSError as e:
            raise PlotError(f"{p}: cannot write the plot: {e.strerror or e}") from None
    finally:
        plt.close(fig)
    return p
