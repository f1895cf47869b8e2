"""The port table (reference §1, §3): port 0 reserved, lowest free port, limits, lazy 64-port buckets."""

from __future__ import annotations

import pytest

from evtchn.xen import DOMID_SELF, ECS, Errno, Hypervisor, HypervisorSettings

from .conftest import xen_error


@pytest.mark.parametrize("width, limit", [(32, 1023), (64, 4095)])
def test_2l_abi_limit(width: int, limit: int) -> None:
    hv = Hypervisor()
    hv.create_domain(1, guest_width=width)
    ports = [hv.bind_ipi(1, 0) for _ in range(limit)]
    assert ports == list(range(1, limit + 1))
    with xen_error(Errno.ENOSPC):
        hv.bind_ipi(1, 0)
    assert hv.domain(1).limit_port == limit


def test_max_evtchn_port_is_an_inclusive_port_number(hv: Hypervisor) -> None:
    hv.create_domain(5, max_evtchn_port=70)
    assert max(hv.bind_ipi(5, 0) for _ in range(70)) == 70
    with xen_error(Errno.ENOSPC):
        hv.bind_ipi(5, 0)
    assert hv.valid_evtchns(5) == 128


def test_negative_max_evtchn_port_means_only_the_abi_limit(hv: Hypervisor) -> None:
    hv.create_domain(5, max_evtchn_port=-1)
    assert hv.domain(5).limit_port == 4095


def test_port_0_is_reserved_forever(hv: Hypervisor) -> None:
    t = hv.domain(1).ports
    assert t.state[0] == ECS.RESERVED
    assert hv.domain(1).active_evtchns == 0
    hv.bind_ipi(1, 0)
    hv.reset(1, DOMID_SELF)
    assert t.state[0] == ECS.RESERVED
    assert hv.bind_ipi(1, 0) == 1


def test_freed_ports_are_reused_lowest_first(hv: Hypervisor) -> None:
    ports = [hv.bind_ipi(1, 0) for _ in range(100)]
    for p in (70, 3, 50, 99):
        hv.close(1, p)
    assert [hv.bind_ipi(1, 0) for _ in range(5)] == [3, 50, 70, 99, 101]
    assert ports[-1] == 100


@pytest.mark.parametrize("version, bucket", [((4, 5), 128), ((4, 6), 64), ((4, 22), 64)])
def test_valid_evtchns_grows_one_bucket_at_a_time(version: tuple[int, int], bucket: int) -> None:
    hv = Hypervisor(HypervisorSettings(xen_version=version))
    hv.create_domain(1)
    assert hv.valid_evtchns(1) == bucket
    for _ in range(bucket - 1):
        hv.bind_ipi(1, 0)
    assert hv.valid_evtchns(1) == bucket
    hv.bind_ipi(1, 0)
    assert hv.valid_evtchns(1) == 2 * bucket


def test_enospc_does_not_grow_a_bucket(hv: Hypervisor) -> None:
    hv.create_domain(5, max_evtchn_port=63)
    for _ in range(63):
        hv.bind_ipi(5, 0)
    with xen_error(Errno.ENOSPC):
        hv.bind_ipi(5, 0)
    assert hv.valid_evtchns(5) == 64


def test_eperm_after_growth_keeps_the_bucket(hv: Hypervisor) -> None:
    for _ in range(63):
        hv.bind_ipi(2, 0)
    with xen_error(Errno.EPERM):
        hv.alloc_unbound(1, 2, 1)
    assert hv.valid_evtchns(2) == 128  # valid_evtchns only grows
