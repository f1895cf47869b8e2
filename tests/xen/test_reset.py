"""EVTCHNOP_reset (reference §2.12): ESRCH; EPERM; EINVAL (not paused); EBUSY; EAGAIN."""

from __future__ import annotations

from evtchn.xen import DOMID_SELF, Errno, EvtchnStat, Hypervisor, Virq

from .conftest import xen_error


def _populate(hv: Hypervisor) -> tuple[int, int]:
    p = hv.alloc_unbound(1, DOMID_SELF, 0)
    q = hv.bind_interdomain(0, 1, p)
    hv.bind_virq(1, Virq.TIMER, 0)
    hv.bind_ipi(1, 1)
    return p, q


def test_self_reset_closes_everything_but_xen_ports(hv: Hypervisor) -> None:
    _p, q = _populate(hv)
    x = hv.alloc_unbound_xen(1, 0, 0)
    assert hv.reset(1, DOMID_SELF) is True
    d = hv.domain(1)
    assert (d.active_evtchns, d.xen_evtchns) == (1, 1)
    assert hv.status(0, 1, x).status is EvtchnStat.UNBOUND
    assert hv.status(0, 0, q).status is EvtchnStat.UNBOUND  # the backend's end waits for a new bind
    assert hv.bind_virq(1, Virq.TIMER, 0) == 1


def test_unknown_domain_is_esrch(hv: Hypervisor) -> None:
    with xen_error(Errno.ESRCH, "reset"):
        hv.reset(0, 9)


def test_foreign_unprivileged_is_eperm(hv: Hypervisor) -> None:
    with xen_error(Errno.EPERM, "reset"):
        hv.reset(1, 2)


def test_foreign_target_must_be_paused_by_its_controller(hv: Hypervisor) -> None:
    _populate(hv)
    with xen_error(Errno.EINVAL, "reset"):
        hv.reset(0, 1)
    hv.pause(1)
    assert hv.reset(0, 1)
    assert hv.domain(1).active_evtchns == 0


def test_preempted_reset_is_ebusy_until_continued(hv: Hypervisor) -> None:
    for _ in range(10):
        hv.bind_ipi(1, 0)
    assert hv.reset(1, 1, budget=4) is False
    assert hv.domain(1).active_evtchns == 6  # ports 1..4 closed, stopped at 5
    with xen_error(Errno.EBUSY, "reset"):
        hv.reset(1, 1)
    assert hv.reset_cont(1, 1, budget=4) is False
    assert hv.reset_cont(1, 1) is True
    assert hv.domain(1).active_evtchns == 0
    with xen_error(Errno.EBUSY, "reset_cont"):
        hv.reset_cont(1, 1)


def test_ports_opened_during_a_preempted_reset_give_eagain(hv: Hypervisor) -> None:
    for _ in range(10):
        hv.bind_ipi(1, 0)
    hv.reset(1, 1, budget=8)
    hv.alloc_unbound(0, 1, 0)  # dom0 opens port 1 again behind the reset
    with xen_error(Errno.EAGAIN, "reset"):
        hv.reset_cont(1, 1)
    assert hv.domain(1).next_reset == 0


def test_reset_returns_a_fifo_domain_to_2l(hv: Hypervisor) -> None:
    hv.create_domain(5, guest_width=32)
    hv.init_control(5, 10, 0, 0)
    hv.expand_array(5, 11)
    for _ in range(3000):
        hv.bind_ipi(5, 0)
    assert hv.domain(5).is_fifo
    hv.reset(5, 5)
    d = hv.domain(5)
    assert not d.is_fifo and d.limit_port == 1023
    assert hv.valid_evtchns(5) == 3008  # buckets stay
    with xen_error(Errno.ENOSYS):
        hv.set_priority(5, hv.bind_ipi(5, 0), 3)


def test_eagain_keeps_fifo(hv: Hypervisor) -> None:
    hv.init_control(1, 10, 0, 0)
    for _ in range(10):
        hv.bind_ipi(1, 0)
    hv.reset(1, 1, budget=8)
    hv.alloc_unbound(0, 1, 0)
    with xen_error(Errno.EAGAIN):
        hv.reset_cont(1, 1)
    assert hv.domain(1).is_fifo


def test_bad_budget_is_einval(hv: Hypervisor) -> None:
    with xen_error(Errno.EINVAL):
        hv.reset(1, 1, budget=0)
