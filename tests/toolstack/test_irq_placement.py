"""kernel.channels_on_cpu() (Linux's channels_on_cpu[], derived from the port table with a fast count) against
a naive recount written from its definition: every non-FREE port but port 0 and Xen's own, by notify vCPU."""

from __future__ import annotations

import random
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evtchn.toolstack import DiskSpec, Host, NicSpec, VmSpec
from evtchn.toolstack.kernel import _count_notify, channels_on_cpu
from evtchn.xen.constants import ECS


def _naive(host: Host, domid: int, cpus: int) -> list[int]:
    t = host.hv.domains[domid].ports
    load = [0] * cpus
    for p in range(1, t.valid):
        if t.state[p] != ECS.FREE and not t.consumer[p]:
            load[t.notify[p] if t.notify[p] < cpus else 0] += 1
    return load


@given(st.lists(st.integers(0, 600), max_size=300), st.integers(1, 600))
def test_fast_count_is_a_plain_count(values: list[int], cpus: int) -> None:
    a = array("H", values)
    assert _count_notify(a, cpus) == [a.count(v) for v in range(1, cpus)]


@settings(max_examples=15, deadline=None)
@given(
    st.sampled_from(["xen-4.17", "xen-xl", "xenserver-8"]),
    st.lists(
        st.tuples(st.sampled_from(["pv", "hvm"]), st.integers(1, 6), st.booleans()), min_size=1, max_size=4
    ),
)
def test_counts_match_a_naive_recount(profile: str, vms: list[tuple[str, int, bool]]) -> None:
    host = Host.create(profile)
    for i, (kind, vcpus, _) in enumerate(vms):
        host.define_vm(
            VmSpec(name=f"v{i}", type=kind, vcpus=vcpus, disks=[DiskSpec(userdevice=0)], nics=[NicSpec()])
        )
        host.start_vm(f"v{i}")
    for i, (_, _, stop) in enumerate(vms):
        if stop:
            host.destroy_vm(f"v{i}")
    for domid, d in host.hv.domains.items():
        cpus = d.max_vcpus
        assert channels_on_cpu(host.hv, domid, cpus) == _naive(host, domid, cpus)
    host.check_invariants()


@pytest.mark.parametrize("cpus", [1, 2, 4, 255, 256, 257, 600])
def test_fast_count_of_a_big_table_is_a_plain_count(cpus: int) -> None:
    rnd = random.Random(cpus)
    a = array("H", [rnd.randrange(cpus) for _ in range(5000)])  # past the numpy threshold
    assert _count_notify(a, cpus) == [a.count(v) for v in range(1, cpus)]
