"""EVTCHNOP_bind_interdomain (reference §2.3): ESRCH; alloc errors in the caller; EINVAL."""

from __future__ import annotations

from evtchn.xen import DOMID_SELF, Errno, EvtchnStat, Hypervisor

from .conftest import xen_error


def test_both_ends_point_at_each_other(hv: Hypervisor) -> None:
    p = hv.alloc_unbound(1, DOMID_SELF, 0)
    q = hv.bind_interdomain(0, 1, p)
    assert q == 1
    local, remote = hv.status(0, 0, q), hv.status(0, 1, p)
    assert (local.status, local.dom, local.port) == (EvtchnStat.INTERDOMAIN, 1, p)
    assert (remote.status, remote.dom, remote.port) == (EvtchnStat.INTERDOMAIN, 0, q)


def test_local_port_is_set_pending_on_bind(hv: Hypervisor) -> None:
    p = hv.alloc_unbound(1, DOMID_SELF, 0)
    q = hv.bind_interdomain(0, 1, p)
    assert hv.is_pending(0, q)
    assert not hv.is_pending(1, p)
    assert hv.drain(0, 0) == [q]


def test_remote_keeps_its_notify_vcpu(hv: Hypervisor) -> None:
    p = hv.alloc_unbound(1, DOMID_SELF, 0)
    hv.bind_vcpu(1, p, 1)
    hv.bind_interdomain(0, 1, p)
    assert hv.status(1, DOMID_SELF, p).vcpu == 1


def test_loopback_with_domid_self(hv: Hypervisor) -> None:
    p = hv.alloc_unbound(1, DOMID_SELF, DOMID_SELF)
    q = hv.bind_interdomain(1, DOMID_SELF, p)
    assert (q, hv.status(1, 1, q).port, hv.status(1, 1, p).port) == (2, p, q)
    hv.send(1, q)
    assert hv.drain(1, 0) == [p, q]  # q from the bind, p from the send; lowest port first


def test_unknown_remote_domain_is_esrch(hv: Hypervisor) -> None:
    with xen_error(Errno.ESRCH, "bind_interdomain"):
        hv.bind_interdomain(0, 7, 1)


def test_invalid_remote_port_is_einval(hv: Hypervisor) -> None:
    for port in (0, 5, 64, 4096, -1, 2**32):
        with xen_error(Errno.EINVAL, "bind_interdomain"):
            hv.bind_interdomain(0, 1, port)


def test_remote_not_unbound_for_the_caller_is_einval(hv: Hypervisor) -> None:
    p = hv.alloc_unbound(1, DOMID_SELF, 2)  # offered to domain 2, not 0
    with xen_error(Errno.EINVAL):
        hv.bind_interdomain(0, 1, p)
    ipi = hv.bind_ipi(1, 0)
    with xen_error(Errno.EINVAL):
        hv.bind_interdomain(0, 1, ipi)
    q = hv.alloc_unbound(1, DOMID_SELF, 0)
    hv.bind_interdomain(0, 1, q)
    with xen_error(Errno.EINVAL):
        hv.bind_interdomain(0, 1, q)  # already connected


def test_full_caller_is_enospc_before_the_remote_is_checked(hv: Hypervisor) -> None:
    hv.create_domain(5, max_evtchn_port=1)
    hv.bind_ipi(5, 0)
    with xen_error(Errno.ENOSPC, "bind_interdomain"):
        hv.bind_interdomain(5, 1, 40)


def test_dying_caller_is_einval(hv: Hypervisor) -> None:
    p = hv.alloc_unbound(1, DOMID_SELF, 0)
    hv.domain(0).dying = True
    with xen_error(Errno.EINVAL):
        hv.bind_interdomain(0, 1, p)


def test_backend_bind_uses_one_dom0_port_per_channel_until_enospc() -> None:
    # §2.3: a dom0 backend holds one dom0 port per frontend channel; a full dom0 gives ENOSPC.
    from evtchn.xen import Hypervisor

    hv = Hypervisor()
    hv.create_domain(0, privileged=True, guest_width=32)  # 2L, 32-bit: ports 1..1023
    hv.create_domain(1)
    for i in range(1023):
        p = hv.alloc_unbound(1, DOMID_SELF, 0)
        assert hv.bind_interdomain(0, 1, p) == i + 1
    p = hv.alloc_unbound(1, DOMID_SELF, 0)
    with xen_error(Errno.ENOSPC):
        hv.bind_interdomain(0, 1, p)
