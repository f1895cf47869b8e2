"""The analytic planner: per-limit fits, the seed's story, headroom, guest-side limits, settings."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evtchn.plan.density import LIMIT_ORDER, fit_count, plan_mix
from evtchn.plan.limits import PlanSettings, vm_footprint_mib
from evtchn.plan.mix import Mix, Shape
from evtchn.toolstack.costs import dom0_baseline, dom0_usable, vm_cost
from evtchn.toolstack.hardware import Hardware, get_hardware
from evtchn.toolstack.profiles import BUILTIN_PROFILES, get_profile
from evtchn.toolstack.spec import DiskSpec, NicSpec, VmSpec, seed_vm_spec


def _brute_fit(per_vm: list[int], counts: list[int], capacity: int) -> int | None:
    if sum(u * c for u, c in zip(per_vm, counts, strict=True)) == 0:
        return None
    used = 0
    order = itertools.cycle([k for k, c in enumerate(counts) for _ in range(c)])
    n = 0
    while used <= capacity:
        used += per_vm[next(order)]
        n += 1
    return n - 1


@given(
    st.lists(st.tuples(st.integers(0, 9), st.integers(1, 4)), min_size=1, max_size=5),
    st.integers(-3, 400),
)
def test_fit_count_equals_walking_the_order(shapes: list[tuple[int, int]], capacity: int) -> None:
    per_vm = [u for u, _ in shapes]
    counts = [c for _, c in shapes]
    expected = 0 if capacity < 0 else _brute_fit(per_vm, counts, capacity)
    assert fit_count(per_vm, counts, capacity) == expected


def test_seed_story_on_a_host_with_enough_memory(seed_mix: Mix, lab: Hardware) -> None:
    """⌊(1023 − B)/6⌋ on 6.1 and ⌊(4095 − B)/7⌋ on 6.2 (reference §10), B from the toolstack's baseline."""
    for name, limit, per_vm, low, high in (
        ("xenserver-6.1", 1023, 6, 150, 165),
        ("xenserver-6.2", 4095, 7, 570, 580),
    ):
        profile = get_profile(name)
        b = sum(dom0_baseline(profile, lab).values())
        plan = plan_mix(profile, lab, seed_mix)
        assert plan.dom0_limit == limit
        assert plan.shapes[0].cost.total == per_vm
        assert plan.max_vms == (limit - b) // per_vm
        assert low <= plan.max_vms <= high  # "a little past 150" / "past 570"
        assert plan.binding == ("dom0_evtchn",)
        assert plan.limit("dom0_evtchn").headroom < per_vm  # the next VM does not fit
        assert plan.limit("dom0_evtchn").headroom == limit - b - plan.max_vms * per_vm


def test_fifo_hosts_take_more_and_memory_binds(seed_mix: Mix, lab: Hardware) -> None:
    p62 = plan_mix(get_profile("xenserver-6.2"), lab, seed_mix)
    for name in ("xenserver-8", "xen-xl"):
        plan = plan_mix(get_profile(name), lab, seed_mix)
        assert plan.max_vms > p62.max_vms
        assert plan.binding == ("host_memory",)
        dom0 = plan.limit("dom0_evtchn")
        assert dom0.fit is not None and dom0.fit > plan.max_vms and dom0.headroom > 0


def test_small_hardware_memory_binds_before_event_channels(seed_mix: Mix) -> None:
    hw = get_hardware("rack-128g")
    plan = plan_mix(get_profile("xenserver-6.2"), hw, seed_mix)
    feet = vm_footprint_mib(seed_vm_spec(), PlanSettings())
    assert plan.binding == ("host_memory",)
    assert plan.max_vms == (hw.host_memory_mib - hw.dom0_memory_mib - PlanSettings().xen_reserved_mib) // feet


def test_costs_and_limit_come_from_the_toolstack(seed_mix: Mix, lab: Hardware) -> None:
    for profile in BUILTIN_PROFILES.values():
        plan = plan_mix(profile, lab, seed_mix)
        assert plan.dom0_limit == dom0_usable(profile)
        assert plan.dom0_baseline == dom0_baseline(profile, lab)
        assert plan.shapes[0].cost.total == vm_cost(profile, lab, seed_vm_spec()).total


def test_xenserver_hvm_has_no_console_but_xl_does(seed_mix: Mix, lab: Hardware) -> None:
    xs = plan_mix(get_profile("xenserver-6.2"), lab, seed_mix)
    xl = plan_mix(get_profile("xen-xl"), lab, seed_mix)
    assert xs.limit("consoled_fds").fit is None  # CA-73960: no HVM console, fds never bind
    assert xl.limit("consoled_fds").per_vm == (PlanSettings().fds_per_console,)


def test_consoled_fds_bind_with_select_on_61_for_small_pv_vms(lab: Hardware) -> None:
    """6.1's select() ceiling: (1024 − base) / 4 consoles binds before dom0 for a PV VM with no devices,
    which costs 2 dom0 ports (store + console)."""
    pv = VmSpec(name="tiny", type="pv", memory_mib=256)
    plan = plan_mix(get_profile("xenserver-6.1"), lab, Mix((Shape("tiny", pv),)))
    s = PlanSettings()
    assert plan.limit("consoled_fds").fit == (1024 - s.consoled_base_fds) // s.fds_per_console
    assert plan.binding == ("consoled_fds",)
    assert plan.limit("dom0_evtchn").fit == (1023 - plan.baseline_total) // 2 > plan.max_vms


def test_settings_change_the_answer(lab: Hardware) -> None:
    pv = VmSpec(name="tiny", type="pv", memory_mib=256)
    mix = Mix((Shape("tiny", pv),))
    three = plan_mix(get_profile("xenserver-6.1"), lab, mix, PlanSettings(fds_per_console=3))
    assert three.limit("consoled_fds").fit == (1024 - 8) // 3


def test_guest_limit_gives_zero_and_names_it(lab: Hardware) -> None:
    small = VmSpec(name="g", type="pv", vcpus=2, max_event_channels=4, disks=[DiskSpec()], nics=[NicSpec()])
    plan = plan_mix(get_profile("xen-xl"), lab, Mix((Shape("g", small),)))
    assert plan.shapes[0].cost.guest_ports > 4
    assert plan.max_vms == 0
    assert plan.binding == ("guest_evtchn",)


def test_mix_counts_and_alone_answers(lab: Hardware) -> None:
    pv = VmSpec(name="pv", type="pv", memory_mib=512, disks=[DiskSpec()], nics=[NicSpec()])
    mix = Mix((Shape("seed", seed_vm_spec(), 2), Shape("pv", pv, 1)))
    plan = plan_mix(get_profile("xenserver-6.1"), lab, mix)
    seed_cost, pv_cost = (s.cost.total for s in plan.shapes)
    free = plan.dom0_limit - plan.baseline_total
    rounds, rest = divmod(free, 2 * seed_cost + pv_cost)
    assert plan.max_vms >= 3 * rounds
    assert sum(s.in_mix for s in plan.shapes) == plan.max_vms
    assert plan.dom0_used_after(plan.max_vms) <= plan.dom0_limit
    assert plan.dom0_used_after(plan.max_vms) + plan.shapes[plan.next_shape].cost.total > plan.dom0_limit
    assert plan.shapes[0].alone_max == free // seed_cost
    assert plan.shapes[1].alone_max == free // pv_cost
    assert rest >= 0


def test_headroom_is_reported_for_every_limit(seed_mix: Mix, lab: Hardware) -> None:
    plan = plan_mix(get_profile("xenserver-6.1"), lab, seed_mix)
    assert [lim.key for lim in plan.limits] == list(LIMIT_ORDER)
    mem = plan.limit("host_memory")
    assert mem.used_at_max == mem.baseline + plan.max_vms * plan.shapes[0].footprint_mib
    assert mem.headroom == mem.total - mem.used_at_max > 0
    doc = plan.to_json()
    assert doc["max_vms"] == plan.max_vms and doc["binding"] == ["dom0_evtchn"]
    assert {lim["key"] for lim in doc["limits"]} == set(LIMIT_ORDER)
    assert all(lim["source"] for lim in doc["limits"])


def test_by_kind_at_max_adds_up(seed_mix: Mix, lab: Hardware) -> None:
    plan = plan_mix(get_profile("xenserver-6.2"), lab, seed_mix)
    kinds = plan.dom0_by_kind_at_max()
    assert set(kinds) == {"baseline", "xenstore", "consoles", "disks", "NICs", "device models"}
    assert sum(kinds.values()) == plan.dom0_used_after(plan.max_vms) == plan.dom0_series()[-1]
    assert kinds["disks"] == 3 * plan.max_vms and kinds["consoles"] == 0


def test_memory_footprint_follows_xenopsd() -> None:
    """memory.ml: target + extra internal (HVM 1) + extra external (1) + shadow ⌈(256·vcpus + 2·MiB)/256⌉."""
    s = PlanSettings()
    assert vm_footprint_mib(VmSpec(name="h", type="hvm", vcpus=1, memory_mib=1024), s) == 1024 + 1 + 1 + 9
    assert vm_footprint_mib(VmSpec(name="p", type="pv", vcpus=2, memory_mib=256), s) == 256 + 0 + 1 + 4
    assert vm_footprint_mib(VmSpec(name="p", type="pv", vcpus=1, memory_mib=300), s) == 300 + 1 + 4


def test_settings_from_pairs() -> None:
    s = PlanSettings.from_pairs(["fds_per_console=3", "consoled_fd_limit=500", "xen_reserved_mib=0"])
    assert (s.fds_per_console, s.consoled_fd_limit, s.xen_reserved_mib) == (3, 500, 0)
    for bad, msg in (
        ("nope=1", "unknown setting 'nope'"),
        ("fds_per_console", "expected NAME=VALUE"),
        ("fds_per_console=x", "fds_per_console"),
        ("fds_per_console=0", "fds_per_console"),
    ):
        with pytest.raises(ValueError, match=msg):
            PlanSettings.from_pairs([bad])


def test_a_hundred_shape_mix_plans(lab: Hardware) -> None:
    shapes = tuple(
        Shape(
            f"s{i}",
            VmSpec(
                name=f"s{i}",
                type=("pv", "hvm", "pvh")[i % 3],
                vcpus=1 + i % 4,
                disks=[DiskSpec(userdevice=d) for d in range(i % 5)],
                nics=[NicSpec(devid=n) for n in range(i % 3)],
            ),
            1 + i % 7,
        )
        for i in range(100)
    )
    plan = plan_mix(get_profile("xenserver-6.2"), lab, Mix(shapes))
    assert 0 < plan.max_vms < 4095
    assert sum(s.in_mix for s in plan.shapes) == plan.max_vms


def test_guest_headroom_is_the_tightest_shape(lab: Hardware) -> None:
    a = VmSpec(name="a", type="pv", max_event_channels=40, disks=[DiskSpec()])
    b = VmSpec(name="b", type="pv", max_event_channels=20, disks=[DiskSpec()], nics=[NicSpec()])
    plan = plan_mix(get_profile("xen-xl"), lab, Mix((Shape("a", a), Shape("b", b))))
    guest = plan.limit("guest_evtchn")
    assert guest.fit is None and "guest_evtchn" not in plan.binding
    assert guest.headroom == 20 - plan.shapes[1].cost.guest_ports
    assert guest.headroom == min(s.guest_limit - s.cost.guest_ports for s in plan.shapes) > 0


def test_huge_counts_cost_nothing_extra(lab: Hardware) -> None:
    """A count of 10⁹ is a proportion, not a loop: the first shape fills dom0 before the second starts."""
    pv = VmSpec(name="pv", type="pv", disks=[DiskSpec()], nics=[NicSpec()])
    profile = get_profile("xenserver-6.2")
    plan = plan_mix(profile, lab, Mix((Shape("seed", seed_vm_spec(), 10**9), Shape("pv", pv, 1))))
    free = dom0_usable(profile) - sum(dom0_baseline(profile, lab).values())
    assert plan.max_vms == plan.shapes[0].in_mix == free // 7
    assert plan.shapes[1].in_mix == 0 and plan.next_shape == 0
