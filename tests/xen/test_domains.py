"""Domain creation and destruction (reference §1, §3 teardown)."""

from __future__ import annotations

import pytest

from evtchn.xen import (
    DOMID_FIRST_RESERVED,
    DOMID_SELF,
    MAX_GUEST_DOMAINS,
    Errno,
    EvtchnStat,
    Hypervisor,
    HypervisorSettings,
    Virq,
)

from .conftest import xen_error


def test_destroy_leaves_peers_unbound_for_the_dead_domain(hv: Hypervisor) -> None:
    p = hv.alloc_unbound(1, DOMID_SELF, 0)
    q = hv.bind_interdomain(0, 1, p)
    hv.destroy_domain(1)
    s = hv.status(0, 0, q)
    assert (s.status, s.dom) == (EvtchnStat.UNBOUND, 1)
    with xen_error(Errno.ESRCH):
        hv.status(0, 1, p)
    hv.check_invariants()


def test_dying_domain_keeps_its_table_but_allocates_nothing(hv: Hypervisor) -> None:
    hv.bind_ipi(1, 0)
    hv.kill_domain(1)
    assert hv.domain(1).active_evtchns == 0
    with xen_error(Errno.EINVAL, "bind_ipi"):
        hv.bind_ipi(1, 0)
    hv.destroy_domain(1)
    assert 1 not in hv.domains


def test_destroy_closes_xen_consumer_ports_too(hv: Hypervisor) -> None:
    x = hv.alloc_unbound_xen(1, 0, 0)
    q = hv.bind_interdomain(0, 1, x)
    hv.destroy_domain(1)
    assert hv.status(0, 0, q).status is EvtchnStat.UNBOUND


def test_domid_none_takes_the_next_domid_after_the_last_one_xen_chose(hv: Hypervisor) -> None:
    """createdomain's rover (xen: common/domctl.c; common/domid.c in 4.21+): not the lowest free one."""
    assert hv.create_domain().domid == 3
    hv.destroy_domain(1)
    assert hv.create_domain().domid == 4  # domid 1 is free again, but the rover has moved on
    hv.kill_domain(3)  # a domain left dying keeps its domid ...
    assert hv.create_domain().domid == 5  # ... and the next domain takes the next one
    assert hv.domain(3).dying


def test_the_rover_wraps_below_the_reserved_domids(hv: Hypervisor) -> None:
    hv.create_domain(DOMID_FIRST_RESERVED - 1)
    hv.domid_rover = DOMID_FIRST_RESERVED - 2
    assert hv.create_domain().domid == 3  # 0x7FEF is taken: wrap to 1, skip 1 and 2
    with xen_error(Errno.EEXIST, "XEN_DOMCTL_createdomain"):
        hv.create_domain(DOMID_FIRST_RESERVED - 1)


@pytest.mark.parametrize(("version", "errno"), [((4, 20), Errno.ENOMEM), ((4, 21), Errno.EEXIST)])
def test_at_most_32751_guests_then_createdomain_fails(version: tuple[int, int], errno: Errno) -> None:
    """DOMID_FIRST_RESERVED (0x7FF0) caps guests at 32 751; past it the rover finds nothing."""
    hv = Hypervisor(HypervisorSettings(xen_version=version))
    hv.create_domain(0, privileged=True)
    for _ in range(MAX_GUEST_DOMAINS):
        hv.create_domain()
    assert MAX_GUEST_DOMAINS == 32751 and len(hv.domains) == 32752 and max(hv.domains) == 0x7FEF
    with xen_error(errno, "XEN_DOMCTL_createdomain"):
        hv.create_domain()
    hv.destroy_domain(4242)
    assert hv.create_domain().domid == 4242  # the one free domid, found by wrapping round


def test_domain_limits_come_from_width_and_cap(hv: Hypervisor) -> None:
    assert [hv.domain(d).limit_port for d in (0, 1, 2)] == [4095, 1023, 1023]
    d = hv.domain(1)
    assert (d.guest_width, d.max_vcpus, d.nr_pirqs, d.privileged) == (64, 2, 16, False)


def test_loopback_close_in_destroy(hv: Hypervisor) -> None:
    p = hv.alloc_unbound(1, DOMID_SELF, DOMID_SELF)
    hv.bind_interdomain(1, DOMID_SELF, p)
    hv.bind_virq(1, Virq.TIMER, 1)
    hv.destroy_domain(1)
    hv.check_invariants()
