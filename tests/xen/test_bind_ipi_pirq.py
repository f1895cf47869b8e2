"""EVTCHNOP_bind_ipi (§2.5: ENOENT; alloc) and EVTCHNOP_bind_pirq (§2.6: EINVAL; EPERM; EEXIST; alloc)."""

from __future__ import annotations

from evtchn.xen import Errno, EvtchnStat, Hypervisor

from .conftest import xen_error


def test_ipi_is_bound_to_its_vcpu(hv: Hypervisor) -> None:
    p = hv.bind_ipi(0, 3)
    s = hv.status(0, 0, p)
    assert (s.status, s.vcpu) == (EvtchnStat.IPI, 3)
    hv.send(0, p)
    assert hv.drain(0, 0) == []
    assert hv.drain(0, 3) == [p]


def test_ipi_on_missing_vcpu_is_enoent(hv: Hypervisor) -> None:
    for vcpu in (4, -1, 2**40):
        with xen_error(Errno.ENOENT, "bind_ipi"):
            hv.bind_ipi(0, vcpu)


def test_ipi_on_full_domain_is_enospc(hv: Hypervisor) -> None:
    hv.create_domain(5, max_evtchn_port=2)
    hv.bind_ipi(5, 0)
    hv.bind_ipi(5, 0)
    with xen_error(Errno.ENOSPC, "bind_ipi"):
        hv.bind_ipi(5, 0)


def test_pirq_binds_one_port_per_pirq(hv: Hypervisor) -> None:
    p = hv.bind_pirq(0, 16)
    s = hv.status(0, 0, p)
    assert (s.status, s.pirq, s.vcpu) == (EvtchnStat.PIRQ, 16, 0)
    with xen_error(Errno.EEXIST, "bind_pirq"):
        hv.bind_pirq(0, 16)
    assert hv.raise_pirq(0, 16)
    assert hv.drain(0) == [p]
    hv.close(0, p)
    assert not hv.raise_pirq(0, 16)
    assert hv.bind_pirq(0, 16) == p


def test_pirq_out_of_range_is_einval(hv: Hypervisor) -> None:
    for pirq in (-1, 64, 2**33):
        with xen_error(Errno.EINVAL, "bind_pirq"):
            hv.bind_pirq(0, pirq)


def test_pv_domain_without_access_is_eperm_hvm_is_not_checked(hv: Hypervisor) -> None:
    hv.create_domain(5, nr_pirqs=8, pirq_access=frozenset({3}))
    with xen_error(Errno.EPERM, "bind_pirq"):
        hv.bind_pirq(5, 4)
    assert hv.bind_pirq(5, 3) == 1
    hv.create_domain(6, nr_pirqs=8, pirq_access=frozenset(), is_hvm=True)
    assert hv.bind_pirq(6, 4) == 1


def test_send_on_pirq_is_einval(hv: Hypervisor) -> None:
    p = hv.bind_pirq(0, 1)
    with xen_error(Errno.EINVAL, "send"):
        hv.send(0, p)


def test_pirq_on_full_domain_is_enospc_after_eexist(hv: Hypervisor) -> None:
    hv.create_domain(5, max_evtchn_port=1, nr_pirqs=4)
    hv.bind_pirq(5, 0)
    with xen_error(Errno.EEXIST):
        hv.bind_pirq(5, 0)
    with xen_error(Errno.ENOSPC):
        hv.bind_pirq(5, 1)
