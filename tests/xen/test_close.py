"""EVTCHNOP_close (reference §2.7): EINVAL for invalid, FREE, RESERVED or Xen-consumer ports."""

from __future__ import annotations

from evtchn.xen import DOMID_SELF, Errno, EvtchnStat, Hypervisor, HypervisorSettings

from .conftest import xen_error


def test_port_0_free_and_invalid_ports_are_einval(hv: Hypervisor) -> None:
    for port in (0, 1, 63, 64, -1, 2**32):
        with xen_error(Errno.EINVAL, "close"):
            hv.close(1, port)


def test_closing_twice_is_einval(hv: Hypervisor) -> None:
    p = hv.bind_ipi(1, 0)
    hv.close(1, p)
    assert hv.status(1, 1, p).status is EvtchnStat.CLOSED
    with xen_error(Errno.EINVAL):
        hv.close(1, p)


def test_xen_consumer_port_cannot_be_closed_by_the_guest(hv: Hypervisor) -> None:
    p = hv.alloc_unbound_xen(1, 0, 0)
    with xen_error(Errno.EINVAL, "close"):
        hv.close(1, p)
    assert hv.status(0, 1, p).status is EvtchnStat.UNBOUND


def test_interdomain_close_returns_the_remote_to_unbound_for_the_closer(hv: Hypervisor) -> None:
    p = hv.alloc_unbound(1, DOMID_SELF, 0)
    q = hv.bind_interdomain(0, 1, p)
    hv.drain(0)
    hv.close(0, q)
    s = hv.status(1, 1, p)
    assert (s.status, s.dom) == (EvtchnStat.UNBOUND, 0)
    assert not hv.is_pending(1, p)  # no event is sent on close
    assert hv.domain(1).vcpus[0].upcall_pending is False
    # Only the closer may bind it again; it gets its lowest free port back.
    with xen_error(Errno.EINVAL):
        hv.bind_interdomain(2, 1, p)
    assert hv.bind_interdomain(0, 1, p) == q


def test_guest_closing_its_end_leaves_the_backend_unbound_for_the_guest(hv: Hypervisor) -> None:
    p = hv.alloc_unbound(1, DOMID_SELF, 0)
    q = hv.bind_interdomain(0, 1, p)
    hv.close(1, p)
    s = hv.status(0, 0, q)
    assert (s.status, s.dom) == (EvtchnStat.UNBOUND, 1)
    hv.send(0, q)  # unbound: silently dropped


def test_close_clears_pending_but_keeps_the_2l_mask(hv: Hypervisor) -> None:
    p = hv.bind_ipi(1, 0)
    hv.mask(1, p)
    hv.send(1, p)
    assert hv.is_pending(1, p)
    hv.close(1, p)
    assert not hv.is_pending(1, p)
    assert hv.is_masked(1, p)  # guest-owned; untouched by Xen
    assert hv.bind_ipi(1, 1) == p
    assert hv.status(1, 1, p).vcpu == 1


def test_closed_port_reports_vcpu_0(hv: Hypervisor) -> None:
    p = hv.bind_ipi(1, 1)
    hv.close(1, p)
    assert hv.status(1, 1, p).vcpu == 0


def test_close_of_free_port_in_a_4_5_bucket() -> None:
    hv = Hypervisor(HypervisorSettings(xen_version=(4, 5)))
    hv.create_domain(1)
    assert hv.valid_evtchns(1) == 128
    with xen_error(Errno.EINVAL):
        hv.close(1, 127)
    with xen_error(Errno.EINVAL):
        hv.close(1, 128)
