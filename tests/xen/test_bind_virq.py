"""EVTCHNOP_bind_virq (reference §2.4, §6): EINVAL; EINVAL; ENOENT; EBUSY (4.21+); EEXIST; alloc errors."""

from __future__ import annotations

import pytest

from evtchn.xen import Errno, EvtchnStat, Hypervisor, HypervisorSettings, Virq

from .conftest import xen_error


def test_per_vcpu_timer_binds_once_per_vcpu(hv: Hypervisor) -> None:
    assert hv.bind_virq(1, Virq.TIMER, 0) == 1
    assert hv.bind_virq(1, Virq.TIMER, 1) == 2
    s = hv.status(1, 1, 2)
    assert (s.status, s.virq, s.vcpu) == (EvtchnStat.VIRQ, 0, 1)


@pytest.mark.parametrize("virq", [-1, 24, 2**32])
def test_virq_out_of_range_is_einval(hv: Hypervisor, virq: int) -> None:
    with xen_error(Errno.EINVAL, "bind_virq"):
        hv.bind_virq(1, virq, 0)


def test_non_per_vcpu_virq_on_another_vcpu_is_einval_before_enoent(hv: Hypervisor) -> None:
    with xen_error(Errno.EINVAL):
        hv.bind_virq(0, Virq.CONSOLE, 1)
    with xen_error(Errno.EINVAL):
        hv.bind_virq(1, Virq.ARGO, 9)  # per-domain VIRQ on a vCPU that does not exist: EINVAL first


def test_missing_vcpu_is_enoent(hv: Hypervisor) -> None:
    with xen_error(Errno.ENOENT, "bind_virq"):
        hv.bind_virq(1, Virq.TIMER, 2)
    with xen_error(Errno.ENOENT):
        hv.bind_virq(1, Virq.TIMER, -1)


def test_already_bound_is_eexist(hv: Hypervisor) -> None:
    hv.bind_virq(1, Virq.DEBUG, 1)
    with xen_error(Errno.EEXIST, "bind_virq"):
        hv.bind_virq(1, Virq.DEBUG, 1)


def test_close_allows_binding_again(hv: Hypervisor) -> None:
    p = hv.bind_virq(1, Virq.TIMER, 0)
    hv.close(1, p)
    assert hv.bind_virq(1, Virq.TIMER, 0) == p


def test_global_virq_only_for_its_handler_from_4_21(hv: Hypervisor) -> None:
    with xen_error(Errno.EBUSY, "bind_virq"):
        hv.bind_virq(1, Virq.DOM_EXC, 0)
    assert hv.bind_virq(0, Virq.DOM_EXC, 0) == 1  # the hardware domain is the default handler


def test_any_domain_may_bind_a_global_virq_before_4_21() -> None:
    hv = Hypervisor(HypervisorSettings(xen_version=(4, 20)))
    hv.create_domain(0, privileged=True)
    hv.create_domain(1)
    assert hv.bind_virq(1, Virq.DOM_EXC, 0) == 1
    assert hv.bind_virq(0, Virq.DOM_EXC, 0) == 1


def test_argo_is_per_domain_from_4_21(hv: Hypervisor) -> None:
    assert hv.bind_virq(1, Virq.ARGO, 0) == 1
    old = Hypervisor(HypervisorSettings(xen_version=(4, 20)))
    old.create_domain(0, privileged=True)
    old.create_domain(1)
    old.bind_virq(1, Virq.ARGO, 0)  # global, but before 4.21 anyone may bind it


def test_set_global_virq_handler_moves_the_virq(hv: Hypervisor) -> None:
    hv.set_global_virq_handler(1, Virq.CON_RING)
    assert hv.bind_virq(1, Virq.CON_RING, 0) == 1
    with xen_error(Errno.EBUSY):
        hv.bind_virq(0, Virq.CON_RING, 0)
    assert hv.raise_virq(0, Virq.CON_RING)
    assert hv.drain(1) == [1]


def test_set_global_virq_handler_is_ebusy_while_the_old_handler_holds_it(hv: Hypervisor) -> None:
    hv.bind_virq(0, Virq.DOM_EXC, 0)
    with xen_error(Errno.EBUSY, "set_virq_handler"):
        hv.set_global_virq_handler(1, Virq.DOM_EXC)
    with xen_error(Errno.EINVAL):
        hv.set_global_virq_handler(1, Virq.TIMER)


def test_destroyed_handler_falls_back_to_the_hardware_domain(hv: Hypervisor) -> None:
    hv.set_global_virq_handler(1, Virq.CON_RING)
    hv.bind_virq(1, Virq.CON_RING, 0)
    hv.destroy_domain(1)
    assert hv.global_virq_handlers == {}
    assert hv.bind_virq(0, Virq.CON_RING, 0) == 1


def test_full_domain_is_enospc_after_eexist(hv: Hypervisor) -> None:
    hv.create_domain(5, max_evtchn_port=1)
    assert hv.bind_virq(5, Virq.TIMER, 0) == 1
    with xen_error(Errno.EEXIST):
        hv.bind_virq(5, Virq.TIMER, 0)
    with xen_error(Errno.ENOSPC):
        hv.bind_virq(5, Virq.DEBUG, 0)


def test_raise_virq_without_a_port_is_dropped(hv: Hypervisor) -> None:
    assert not hv.raise_virq(1, Virq.TIMER, 0)
    p = hv.bind_virq(1, Virq.TIMER, 1)
    assert not hv.raise_virq(1, Virq.TIMER, 0)
    assert hv.raise_virq(1, Virq.TIMER, 1)
    assert hv.drain(1, 1) == [p]
