"""Domain creation and destruction (reference §1, §3 teardown)."""

from __future__ import annotations

from evtchn.xen import DOMID_SELF, Errno, EvtchnStat, Hypervisor, Virq

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


def test_domid_none_takes_the_lowest_free_domid(hv: Hypervisor) -> None:
    assert hv.create_domain().domid == 3
    hv.destroy_domain(1)
    assert hv.create_domain().domid == 1


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
