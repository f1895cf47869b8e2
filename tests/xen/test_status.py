"""EVTCHNOP_status (reference §2.9): ESRCH; EINVAL past valid_evtchns; EACCES (4.15–4.18); EPERM."""

from __future__ import annotations

import pytest

from evtchn.xen import DOMID_SELF, Errno, EvtchnStat, EvtchnStatus, Hypervisor, HypervisorSettings

from .conftest import xen_error


def test_free_and_reserved_report_closed(hv: Hypervisor) -> None:
    assert hv.status(1, DOMID_SELF, 0) == EvtchnStatus(EvtchnStat.CLOSED, 0)
    assert hv.status(1, DOMID_SELF, 63) == EvtchnStatus(EvtchnStat.CLOSED, 0)


def test_einval_past_the_last_allocated_bucket_not_the_last_used_port(hv: Hypervisor) -> None:
    with xen_error(Errno.EINVAL, "status"):
        hv.status(1, 1, 64)
    for _ in range(64):
        hv.bind_ipi(1, 0)  # ports 1..64: the 64th needs a second bucket
    assert hv.valid_evtchns(1) == 128
    assert hv.status(1, 1, 127).status is EvtchnStat.CLOSED
    with xen_error(Errno.EINVAL):
        hv.status(1, 1, 128)


def test_buckets_never_shrink(hv: Hypervisor) -> None:
    ports = [hv.bind_ipi(1, 0) for _ in range(64)]
    for p in ports:
        hv.close(1, p)
    assert hv.valid_evtchns(1) == 128


def test_unknown_domain_is_esrch(hv: Hypervisor) -> None:
    with xen_error(Errno.ESRCH, "status"):
        hv.status(0, 9, 0)


def test_foreign_unprivileged_is_eperm_after_einval(hv: Hypervisor) -> None:
    with xen_error(Errno.EINVAL):
        hv.status(1, 2, 64)
    with xen_error(Errno.EPERM, "status"):
        hv.status(1, 2, 1)
    hv.create_domain(9, target=2)  # a device model may look at its target
    assert hv.status(9, 2, 1).status is EvtchnStat.CLOSED


@pytest.mark.parametrize(
    "version, eacces",
    [((4, 14), False), ((4, 15), True), ((4, 18), True), ((4, 19), False), ((4, 22), False)],
)
def test_xen_consumer_port_is_eacces_on_4_15_to_4_18_only(version: tuple[int, int], eacces: bool) -> None:
    hv = Hypervisor(HypervisorSettings(xen_version=version))
    hv.create_domain(0, privileged=True)
    hv.create_domain(1, is_hvm=True)
    x = hv.alloc_unbound_xen(1, 0, 0)
    if eacces:
        with xen_error(Errno.EACCES, "status"):
            hv.status(0, 1, x)
    else:
        assert hv.status(0, 1, x) == EvtchnStatus(EvtchnStat.UNBOUND, 0, dom=0)


def test_eacces_comes_before_eperm() -> None:
    hv = Hypervisor(HypervisorSettings(xen_version=(4, 17)))
    hv.create_domain(1)
    hv.create_domain(2)
    x = hv.alloc_unbound_xen(1, 0, 2)
    with xen_error(Errno.EACCES):
        hv.status(2, 1, x)


def test_every_state_reports_its_union(hv: Hypervisor) -> None:
    u = hv.alloc_unbound(1, DOMID_SELF, 0)
    i = hv.alloc_unbound(1, DOMID_SELF, 0)
    b = hv.bind_interdomain(0, 1, i)
    v = hv.bind_virq(1, 1, 1)
    p = hv.bind_pirq(1, 9)
    ipi = hv.bind_ipi(1, 1)
    assert [hv.status(0, 1, port) for port in (u, i, v, p, ipi)] == [
        EvtchnStatus(EvtchnStat.UNBOUND, 0, dom=0),
        EvtchnStatus(EvtchnStat.INTERDOMAIN, 0, dom=0, port=b),
        EvtchnStatus(EvtchnStat.VIRQ, 1, virq=1),
        EvtchnStatus(EvtchnStat.PIRQ, 0, pirq=9),
        EvtchnStatus(EvtchnStat.IPI, 1),
    ]
