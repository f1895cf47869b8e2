"""EVTCHNOP_alloc_unbound (reference §2.2): ESRCH; alloc errors (EINVAL dying, ENOSPC); EPERM."""

from __future__ import annotations

from evtchn.xen import DOMID_SELF, Errno, EvtchnStat, Hypervisor

from .conftest import xen_error


def test_lowest_free_port_from_1_with_the_permitted_remote(hv: Hypervisor) -> None:
    assert hv.alloc_unbound(1, DOMID_SELF, 0) == 1
    assert hv.alloc_unbound(1, 1, 0) == 2
    s = hv.status(1, DOMID_SELF, 2)
    assert (s.status, s.dom, s.vcpu) == (EvtchnStat.UNBOUND, 0, 0)


def test_remote_domid_self_is_the_callers_domid_not_doms(hv: Hypervisor) -> None:
    # The toolstack in dom0 allocating in guest 1 with remote DOMID_SELF names dom0 (§2.2).
    p = hv.alloc_unbound(0, 1, DOMID_SELF)
    assert hv.status(0, 1, p).dom == 0


def test_remote_is_not_validated(hv: Hypervisor) -> None:
    p = hv.alloc_unbound(1, DOMID_SELF, 999)
    assert hv.status(1, DOMID_SELF, p).dom == 999


def test_unknown_domain_is_esrch(hv: Hypervisor) -> None:
    with xen_error(Errno.ESRCH, "alloc_unbound"):
        hv.alloc_unbound(0, 7, 0)


def test_esrch_comes_before_eperm(hv: Hypervisor) -> None:
    with xen_error(Errno.ESRCH):
        hv.alloc_unbound(1, 7, 0)


def test_dying_domain_is_einval(hv: Hypervisor) -> None:
    hv.kill_domain(1)
    with xen_error(Errno.EINVAL, "alloc_unbound"):
        hv.alloc_unbound(0, 1, 0)


def test_enospc_at_max_evtchn_port(hv: Hypervisor) -> None:
    hv.create_domain(5, max_evtchn_port=3)
    assert [hv.alloc_unbound(5, DOMID_SELF, 0) for _ in range(3)] == [1, 2, 3]
    with xen_error(Errno.ENOSPC, "alloc_unbound"):
        hv.alloc_unbound(5, DOMID_SELF, 0)
    hv.close(5, 2)
    assert hv.alloc_unbound(5, DOMID_SELF, 0) == 2


def test_foreign_unprivileged_caller_is_eperm_and_the_port_is_released(hv: Hypervisor) -> None:
    with xen_error(Errno.EPERM, "alloc_unbound"):
        hv.alloc_unbound(1, 2, 0)
    assert hv.domain(2).active_evtchns == 0
    assert hv.alloc_unbound(2, DOMID_SELF, 0) == 1


def test_enospc_comes_before_eperm(hv: Hypervisor) -> None:
    hv.create_domain(5, max_evtchn_port=0)
    with xen_error(Errno.ENOSPC):
        hv.alloc_unbound(1, 5, 0)


def test_device_model_may_allocate_in_its_target(hv: Hypervisor) -> None:
    hv.create_domain(9, target=1)
    assert hv.alloc_unbound(9, 1, 9) == 1
    with xen_error(Errno.EPERM):
        hv.alloc_unbound(9, 2, 9)


def test_xen_consumer_port_counts_in_xen_evtchns(hv: Hypervisor) -> None:
    p = hv.alloc_unbound_xen(1, 1, 0)
    d = hv.domain(1)
    assert (d.active_evtchns, d.xen_evtchns) == (1, 1)
    assert hv.status(0, 1, p).vcpu == 1
    with xen_error(Errno.ENOENT):
        hv.alloc_unbound_xen(1, 2, 0)


def test_remote_outside_domid_t_is_esrch(hv: Hypervisor) -> None:
    for remote in (-1, 0x10000, 2**64):
        with xen_error(Errno.ESRCH, "alloc_unbound"):
            hv.alloc_unbound(1, DOMID_SELF, remote)
    assert hv.domain(1).active_evtchns == 0
