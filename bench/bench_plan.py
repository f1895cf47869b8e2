"""Benchmark: the analytic plan of a 100-shape mix, in-process, against `--simulate` of the same mix.

    python bench/bench_plan.py

Prints the analytic plan's median time (target: under 50 ms) and the simulated run's time as a ratio, both
measured in this run. The two answers are checked equal before any number is printed.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from evtchn.plan.density import plan_mix
from evtchn.plan.limits import resolve_hardware
from evtchn.plan.mix import Mix, Shape
from evtchn.plan.simulate import simulate
from evtchn.toolstack.profiles import get_profile
from evtchn.toolstack.spec import DiskSpec, NicSpec, VmSpec

TARGET_MS = 50.0
T = TypeVar("T")


def hundred_shapes() -> Mix:
    """100 distinct shapes: PV/HVM/PVH, 1–4 vCPUs, 0–4 disks, 0–2 NICs, counts 1–3."""
    shapes = []
    for i in range(100):
        spec = VmSpec(
            name=f"s{i}",
            type=("pv", "hvm", "pvh")[i % 3],
            vcpus=1 + i % 4,
            memory_mib=256 + 128 * (i % 5),
            disks=[DiskSpec(userdevice=d) for d in range(i % 5)],
            nics=[NicSpec(devid=n) for n in range(i % 3)],
            pv_drivers=i % 7 != 0,
        )
        shapes.append(Shape(f"s{i}", spec, 1 + i % 3))
    return Mix(tuple(shapes))


def timed(fn: Callable[[], T], repeat: int) -> tuple[float, T]:
    """Median seconds of `repeat` calls, and the last result."""
    times: list[float] = []
    results: list[T] = []
    for _ in range(repeat):
        t = time.perf_counter()
        results.append(fn())
        times.append(time.perf_counter() - t)
    return statistics.median(times), results[-1]


def main() -> int:
    mix = hundred_shapes()
    hw = resolve_hardware("default")
    print("analytic plan of a 100-shape mix vs --simulate of the same mix (medians, same process)")
    print(
        f"{'profile':<15}{'VMs':>6}{'binding':>14}{'analytic ms':>13}{'simulate ms':>13}{'sim/analytic':>14}"
    )
    worst = 0.0
    for name in ("xenserver-6.1", "xenserver-6.2", "xenserver-8"):
        profile = get_profile(name)
        plan_mix(profile, hw, mix)  # warm imports and caches
        t_plan, plan = timed(partial(plan_mix, profile, hw, mix), 15)
        t_sim, sim = timed(partial(simulate, profile, hw, mix), 3)
        assert plan.max_vms == sim.ok_vms, (name, plan.max_vms, sim.ok_vms)
        worst = max(worst, t_plan)
        print(
            f"{name:<15}{plan.max_vms:>6}{','.join(plan.binding):>14}"
            f"{t_plan * 1e3:>13.2f}{t_sim * 1e3:>13.1f}{t_sim / t_plan:>13.0f}×"
        )
    verdict = "meets" if worst * 1e3 < TARGET_MS else "MISSES"
    print(f"slowest analytic plan {worst * 1e3:.2f} ms: {verdict} the {TARGET_MS:.0f} ms target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
