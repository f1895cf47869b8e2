"""EVTCHNOP_bind_vcpu (§2.10: ENOENT; EINVAL) and EVTCHNOP_unmask (§2.11: EINVAL, else 0)."""

from __future__ import annotations

from evtchn.xen import DOMID_SELF, Errno, Hypervisor, Virq

from .conftest import xen_error


def test_bind_vcpu_missing_vcpu_is_enoent_before_einval(hv: Hypervisor) -> None:
    with xen_error(Errno.ENOENT, "bind_vcpu"):
        hv.bind_vcpu(1, 9999, 2)


def test_bind_vcpu_refuses_unmovable_ports(hv: Hypervisor) -> None:
    ipi = hv.bind_ipi(1, 0)
    timer = hv.bind_virq(1, Virq.TIMER, 0)
    xen = hv.alloc_unbound_xen(1, 0, 0)
    for port in (0, 40, 64, -1, ipi, timer, xen):
        with xen_error(Errno.EINVAL, "bind_vcpu"):
            hv.bind_vcpu(1, port, 1)


def test_bind_vcpu_moves_unbound_interdomain_pirq_and_per_domain_virqs(hv: Hypervisor) -> None:
    u = hv.alloc_unbound(1, DOMID_SELF, 0)
    p = hv.bind_pirq(1, 2)
    a = hv.bind_virq(1, Virq.ARGO, 0)
    for port in (u, p, a):
        hv.bind_vcpu(1, port, 1)
        assert hv.status(1, 1, port).vcpu == 1
    c = hv.bind_virq(0, Virq.CONSOLE, 0)  # global
    hv.bind_vcpu(0, c, 3)
    assert hv.raise_virq(0, Virq.CONSOLE)
    assert hv.drain(0, 3) == [c]


def test_bind_vcpu_does_not_move_pending_state(hv: Hypervisor) -> None:
    p = hv.alloc_unbound(1, DOMID_SELF, 0)
    q = hv.bind_interdomain(0, 1, p)  # q pending on vCPU 0, selector set there
    hv.bind_vcpu(0, q, 1)
    assert hv.domain(0).vcpus[0].upcall_pending
    assert hv.drain(0, 0) == []  # vCPU 0 scans but q now belongs to vCPU 1
    assert hv.is_pending(0, q)


def test_unmask_invalid_port_is_einval(hv: Hypervisor) -> None:
    for port in (64, -1, 2**32):
        with xen_error(Errno.EINVAL, "unmask"):
            hv.unmask(1, port)


def test_unmask_of_unusable_port_is_a_no_op(hv: Hypervisor) -> None:
    hv.mask(1, 5)
    hv.unmask(1, 0)
    hv.unmask(1, 5)
    assert hv.is_masked(1, 5)  # FREE: not usable, Xen leaves it


def test_unmask_delivers_a_pending_event_with_one_upcall(hv: Hypervisor) -> None:
    p = hv.bind_ipi(1, 0)
    hv.mask(1, p)
    hv.send(1, p)
    v = hv.domain(1).vcpus[0]
    assert (hv.is_pending(1, p), v.upcall_pending, v.kicks) == (True, False, 0)
    hv.unmask(1, p)
    assert (v.upcall_pending, v.kicks) == (True, 1)
    assert hv.drain(1) == [p]
    hv.unmask(1, p)  # not masked any more: nothing to deliver
    assert (v.upcall_pending, v.kicks) == (False, 1)
