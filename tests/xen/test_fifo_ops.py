"""init_control, expand_array, set_priority (reference §2.13)."""

from __future__ import annotations

import pytest

from evtchn.xen import Errno, Hypervisor, HypervisorSettings

from .conftest import xen_error


def test_init_control_switches_to_fifo_and_returns_link_bits(hv: Hypervisor) -> None:
    assert hv.init_control(1, 100, 0, 0) == 17
    d = hv.domain(1)
    assert d.is_fifo and d.abi.max_evtchns == 131072
    assert d.limit_port == 1023  # max_evtchn_port still caps it
    assert hv.init_control(1, 101, 8, 1) == 17  # the second vCPU's block


@pytest.mark.parametrize(
    "settings, errno",
    [
        (HypervisorSettings(fifo_compiled=False), Errno.EOPNOTSUPP),
        (HypervisorSettings(xen_version=(4, 3)), Errno.ENOSYS),
    ],
)
def test_fifo_unavailable(settings: HypervisorSettings, errno: Errno) -> None:
    hv = Hypervisor(settings)
    hv.create_domain(1)
    with xen_error(errno, "init_control"):
        hv.init_control(1, 1, 0, 9)  # before the vCPU check
    with xen_error(errno, "expand_array"):
        hv.expand_array(1, 1)


def test_init_control_errors_in_order(hv: Hypervisor) -> None:
    with xen_error(Errno.ENOENT, "init_control"):
        hv.init_control(1, 1, 4028, 2)
    for offset in (4028, 4, -8, 2**32):
        with xen_error(Errno.EINVAL, "init_control"):
            hv.init_control(1, 1, offset, 0)
    assert hv.init_control(1, 1, 4024, 0) == 17  # the last aligned offset that fits 72 bytes
    with xen_error(Errno.EINVAL):
        hv.init_control(1, 2, 0, 0)  # already has a block
    with xen_error(Errno.EINVAL):
        hv.init_control(1, 2**40, 0, 1)  # not a page of the domain


def test_bad_gfn_on_first_init_control_keeps_2l(hv: Hypervisor) -> None:
    with xen_error(Errno.EINVAL):
        hv.init_control(1, -1, 0, 0)
    assert not hv.domain(1).is_fifo


def test_expand_array_errors(hv: Hypervisor) -> None:
    with xen_error(Errno.EOPNOTSUPP, "expand_array"):
        hv.expand_array(1, 5)
    hv.init_control(1, 1, 0, 0)
    with xen_error(Errno.EINVAL, "expand_array"):
        hv.expand_array(1, 2**30)
    for i in range(128):
        hv.expand_array(1, 10 + i)
    with xen_error(Errno.ENOSPC, "expand_array"):
        hv.expand_array(1, 500)


def test_set_priority_errors_in_order(hv: Hypervisor) -> None:
    with xen_error(Errno.EINVAL, "set_priority"):
        hv.set_priority(1, 64, 99)  # invalid port first
    p = hv.bind_ipi(1, 0)
    with xen_error(Errno.ENOSYS, "set_priority"):
        hv.set_priority(1, p, 99)  # 2L
    hv.init_control(1, 1, 0, 0)
    x = hv.alloc_unbound_xen(1, 0, 0)
    for port in (0, 7, x):
        with xen_error(Errno.EACCES, "set_priority"):
            hv.set_priority(1, port, 99)
    for prio in (16, -1, 2**32):
        with xen_error(Errno.EINVAL, "set_priority"):
            hv.set_priority(1, p, prio)
    hv.set_priority(1, p, 15)


def test_init_control_keeps_2l_pending_events_until_the_page_exists(hv: Hypervisor) -> None:
    p = hv.bind_ipi(1, 0)
    hv.send(1, p)
    hv.init_control(1, 1, 0, 0)
    assert not hv.is_pending(1, p)  # no event word yet
    hv.expand_array(1, 2, premask=False)
    assert hv.is_pending(1, p)
    assert hv.drain(1) == [p]


def test_fifo_domain_fills_to_131071(hv: Hypervisor) -> None:
    hv.init_control(0, 1, 0, 0)
    while True:
        try:
            hv.bind_ipi(0, 0)
        except Exception as e:
            assert getattr(e, "errno", None) is Errno.ENOSPC
            break
    d = hv.domain(0)
    assert d.active_evtchns == 131071
    assert hv.valid_evtchns(0) == 131072
