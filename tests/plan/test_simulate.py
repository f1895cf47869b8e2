"""Analytic answer == simulated first-failure point: every built-in profile, random shapes and mixes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evtchn.plan.density import plan_mix
from evtchn.plan.limits import PlanSettings, resolve_hardware
from evtchn.plan.mix import Mix, Shape
from evtchn.plan.simulate import simulate
from evtchn.toolstack.costs import dom0_usable
from evtchn.toolstack.hardware import DEFAULT_HARDWARE, Hardware
from evtchn.toolstack.profiles import BUILTIN_PROFILES, Profile, get_profile
from evtchn.toolstack.spec import DiskSpec, NicSpec, VmSpec


def _check(profile_name: str, hw: Hardware, mix: Mix, s: PlanSettings | None = None) -> None:
    profile = get_profile(profile_name)
    plan = plan_mix(profile, hw, mix, s)
    sim = simulate(profile, hw, mix, s)
    assert sim.ok_vms == plan.max_vms, (profile_name, plan.binding, sim.failure)
    assert sim.failure is not None
    assert sim.failure.index == plan.max_vms
    assert sim.failure.shape == plan.next_shape
    if len(plan.binding) == 1:
        assert sim.failure.limit == plan.binding[0], (plan.binding, sim.failure)
    else:
        assert sim.failure.limit in plan.binding
    assert sim.dom0_used == plan.dom0_series()
    assert sim.host is not None
    sim.host.check_invariants()


@pytest.mark.parametrize("hardware", ["default", "rack-128g"])
@pytest.mark.parametrize("profile", list(BUILTIN_PROFILES))
def test_seed_vm_every_builtin_profile(profile: str, hardware: str, seed_mix: Mix) -> None:
    _check(profile, resolve_hardware(hardware), seed_mix)


def test_seed_messages_when_dom0_runs_out(seed_mix: Mix, lab: Hardware) -> None:
    """6.1: VM 156 keeps running without some devices — the blog's 'error 28 mapping ring-refs and evtchn'."""
    sim = simulate(get_profile("xenserver-6.1"), lab, seed_mix)
    assert sim.failure is not None
    assert sim.failure.outcome == "runs degraded"
    assert any("28 mapping ring-refs and evtchn" in m for m in sim.failure.messages)
    sim62 = simulate(get_profile("xenserver-6.2"), lab, seed_mix)
    assert sim62.failure is not None and sim62.failure.outcome in ("failed to start", "runs degraded")
    assert sim62.failure.limit == "dom0_evtchn"


def test_memory_refusal_carries_xapi_code(seed_mix: Mix) -> None:
    sim = simulate(get_profile("xenserver-8"), DEFAULT_HARDWARE, seed_mix)
    assert sim.failure is not None and sim.failure.outcome == "refused"
    assert sim.failure.messages[0].startswith("HOST_NOT_ENOUGH_FREE_MEMORY [")


def test_guest_limit_shape_fails_at_its_first_vm(lab: Hardware) -> None:
    small = VmSpec(name="g", type="pv", vcpus=2, max_event_channels=6, disks=[DiskSpec()], nics=[NicSpec()])
    seed = VmSpec(name="ok", type="pv", disks=[DiskSpec()], nics=[NicSpec()])
    mix = Mix((Shape("ok", seed, 3), Shape("g", small, 1)))
    for name in ("xen-xl", "xenserver-6.2"):
        _check(name, lab, mix)
        assert plan_mix(get_profile(name), lab, mix).max_vms == 3


# Random shapes small enough to simulate quickly: 2L profiles run out of dom0 ports within a few hundred VMs,
# and the host's memory keeps FIFO profiles to a few hundred too.
disks = st.lists(
    st.builds(
        DiskSpec,
        kind=st.sampled_from(["disk", "disk", "cdrom"]),
        mode=st.sampled_from(["rw", "ro"]),
        queues=st.one_of(st.none(), st.integers(1, 4)),
    ),
    max_size=4,
).map(lambda ds: [d.model_copy(update={"userdevice": i}) for i, d in enumerate(ds)])
nics = st.lists(st.builds(NicSpec, queues=st.one_of(st.none(), st.integers(1, 4))), max_size=3).map(
    lambda ns: [n.model_copy(update={"devid": i}) for i, n in enumerate(ns)]
)
specs = st.builds(
    VmSpec,
    name=st.just("shape"),
    type=st.sampled_from(["pv", "hvm", "pvh"]),
    vcpus=st.integers(1, 4),
    memory_mib=st.sampled_from([256, 512, 1024, 2048]),
    disks=disks,
    nics=nics,
    pv_drivers=st.booleans(),
    max_event_channels=st.one_of(st.none(), st.none(), st.integers(3, 40)),
)
mixes = st.lists(st.tuples(specs, st.integers(1, 3)), min_size=1, max_size=4).map(
    lambda xs: Mix(tuple(Shape(f"s{i}", sp, c) for i, (sp, c) in enumerate(xs)))
)
plan_settings = st.builds(
    PlanSettings,
    fds_per_console=st.sampled_from([3, 4]),
    consoled_fd_limit=st.one_of(st.none(), st.integers(40, 800)),
)
hardware = st.builds(
    lambda gib, vcpus: DEFAULT_HARDWARE.model_copy(
        update={"name": f"hw{gib}", "host_memory_mib": gib * 1024, "dom0_vcpus": vcpus}
    ),
    st.sampled_from([4, 16, 48, 160, 1024]),
    st.sampled_from([1, 2, 4]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profile=st.sampled_from(list(BUILTIN_PROFILES)), hw=hardware, mix=mixes, s=plan_settings)
def test_random_shapes_and_mixes(profile: str, hw: Hardware, mix: Mix, s: PlanSettings) -> None:
    if dom0_usable(get_profile(profile)) > 8192:
        # FIFO dom0s outlast thousands of VMs; keep memory small enough to stay quick.
        hw = hw.model_copy(update={"host_memory_mib": min(hw.host_memory_mib, 48 * 1024)})
    _check(profile, hw, mix, s)


def test_guest_table_too_small_for_ioreq_ports_fails_the_start(lab: Hardware) -> None:
    """An HVM guest capped at 3 ports cannot hold its store + ioreq ports: the start fails, guest-side."""
    hvm = VmSpec(name="h", type="hvm", vcpus=3, pv_drivers=False, max_event_channels=3)
    mix = Mix((Shape("h", hvm),))
    plan = plan_mix(get_profile("xenserver-6.5"), lab, mix)
    sim = simulate(get_profile("xenserver-6.5"), lab, mix)
    assert plan.max_vms == sim.ok_vms == 0
    assert plan.binding == ("guest_evtchn",)
    assert sim.failure is not None and (sim.failure.limit, sim.failure.outcome) == (
        "guest_evtchn",
        "failed to start",
    )


# dom0 binding is the planner's main case: 2L hosts with 1023 ports (6.1 as is; 6.2's and 6.5's plumbing on a
# 32-bit dom0, so each example stays a few hundred VMs) and memory to spare.
small_dom0 = st.sampled_from(
    [
        get_profile("xenserver-6.1"),
        get_profile("xenserver-6.2").model_copy(update={"name": "6.2-on-1024", "dom0_max_evtchns": None}),
        get_profile("xenserver-6.5").model_copy(update={"name": "6.5-on-32-bit", "dom0_width": 32}),
    ]
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profile=small_dom0, mix=mixes)
def test_random_mixes_until_dom0_runs_out(profile: Profile, mix: Mix) -> None:
    lab = resolve_hardware("default")
    no_guest_cap = Mix(
        tuple(
            Shape(s.label, s.spec.model_copy(update={"max_event_channels": None}), s.count)
            for s in mix.shapes
        )
    )
    plan = plan_mix(profile, lab, no_guest_cap)
    sim = simulate(profile, lab, no_guest_cap)
    assert plan.dom0_limit == 1023
    assert sim.ok_vms == plan.max_vms
    assert sim.failure is not None and sim.failure.limit in plan.binding
    assert sim.dom0_used == plan.dom0_series()
