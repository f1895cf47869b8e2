"""EVTCHNOP_send (reference §2.8): EINVAL for invalid, Xen-consumer, FREE, RESERVED, PIRQ or VIRQ ports."""

from __future__ import annotations

from evtchn.xen import DOMID_SELF, Errno, Hypervisor, Virq

from .conftest import xen_error


def test_unusable_ports_are_einval(hv: Hypervisor) -> None:
    virq = hv.bind_virq(1, Virq.TIMER, 0)
    pirq = hv.bind_pirq(1, 3)
    xen = hv.alloc_unbound_xen(1, 0, 0)
    for port in (0, 5, 64, -1, 2**40, virq, pirq, xen):
        with xen_error(Errno.EINVAL, "send"):
            hv.send(1, port)


def test_send_on_unbound_is_silently_dropped(hv: Hypervisor) -> None:
    p = hv.alloc_unbound(1, DOMID_SELF, 0)
    hv.send(1, p)
    assert not hv.is_pending(1, p)
    assert hv.drain(0) == [] and hv.drain(1) == []


def test_interdomain_send_sets_the_remote_pending_on_its_notify_vcpu(hv: Hypervisor) -> None:
    p = hv.alloc_unbound(1, DOMID_SELF, 0)
    q = hv.bind_interdomain(0, 1, p)
    hv.drain(0)
    hv.bind_vcpu(0, q, 2)
    hv.send(1, p)
    assert hv.is_pending(0, q)
    assert hv.drain(0, 0) == []
    assert hv.drain(0, 2) == [q]
    hv.send(0, q)
    assert hv.drain(1, 0) == [p]


def test_send_to_a_xen_consumer_runs_xens_handler(hv: Hypervisor) -> None:
    # An HVM ioreq port: Xen-owned in the guest, bound by the emulator in dom0 (§7.1).
    x = hv.alloc_unbound_xen(1, 0, 0)
    q = hv.bind_interdomain(0, 1, x)
    hv.send(0, q)
    hv.send(0, q)
    assert hv.domain(1).xen_notifications == {x: 2}
    assert not hv.is_pending(1, x)
    hv.drain(0)
    hv.notify_via_xen_port(1, x)
    assert hv.drain(0) == [q]


def test_ipi_sets_the_local_port_pending(hv: Hypervisor) -> None:
    p = hv.bind_ipi(1, 1)
    hv.send(1, p)
    assert hv.drain(1, 1) == [p]
