"""The hot hypercalls' two ways of doing a port's table work give the same host.

alloc_unbound, bind_interdomain and close do the common case of the PortTable method inline on an
untracked table, and call the method on a tracked one (xen/dirty.py). A tracked and an untracked host
driven through the same calls must end in the same state, port for port, whichever ABI a domain holds;
a LINKED FIFO port that is closed stays busy (not handed out again) until the guest unlinks it (reference
§3), on both paths.
"""

from __future__ import annotations

import pytest

from evtchn.xen import DOMID_SELF, Hypervisor


def _host(fifo: bool, tracked: bool) -> Hypervisor:
    hv = Hypervisor()
    hv.create_domain(0, privileged=True, max_vcpus=2)
    hv.create_domain(1, max_vcpus=2)
    if fifo:
        for domid in (0, 1):
            for vcpu in (0, 1):
                hv.init_control(domid, 10 + vcpu, 0, vcpu)
            hv.expand_array(domid, 2)
    if tracked:
        hv.track_dirty()
    return hv


def _drive(hv: Hypervisor) -> list[object]:
    """Connect, notify, disconnect in both orders, with IPIs and unbound ports interleaved; what each
    call returned, and each guest's drained events."""
    seen: list[object] = []
    ipis = [hv.bind_ipi(1, 1) for _ in range(3)]  # the guest's, closed and rebound below
    for i in range(40):
        p = hv.alloc_unbound(1, DOMID_SELF, 0)
        q = hv.bind_interdomain(0, 1, p)
        hv.send(1, p)
        hv.send(0, q)
        if i % 3 == 0:
            seen.append(hv.drain(0, 0))
        if i % 2:
            hv.close(0, q)  # the backend first: the guest's end goes back to unbound for dom0
            hv.close(1, p)
        else:
            hv.close(1, p)
            hv.close(0, q)
        u = hv.alloc_unbound(0, 1, DOMID_SELF)  # dom0 makes one in the guest, for itself, left open
        seen.extend((p, q, u))
        if i % 5 == 4:
            hv.close(1, u)
            hv.close(1, ipis.pop(0))
            ipis.append(hv.bind_ipi(1, 0))
    seen.append(hv.drain(0, 0))
    seen.append(hv.drain(1, 0))
    hv.check_invariants()
    return seen


@pytest.mark.parametrize("fifo", [False, True], ids=["2-level", "FIFO"])
def test_tracked_and_untracked_hosts_end_the_same(fifo: bool) -> None:
    plain, tracked = _host(fifo, tracked=False), _host(fifo, tracked=True)
    assert _drive(plain) == _drive(tracked)
    assert plain.to_state() == tracked.to_state()


@pytest.mark.parametrize("tracked", [False, True], ids=["untracked", "tracked"])
def test_a_closed_linked_fifo_port_is_busy_until_drained(tracked: bool) -> None:
    hv = _host(fifo=True, tracked=tracked)
    p = hv.alloc_unbound(1, DOMID_SELF, 0)
    q = hv.bind_interdomain(0, 1, p)
    hv.unmask(0, q)  # the bind left q pending; unmasked, it is linked on its queue
    assert hv.domain(0).abi.is_busy(hv.domain(0), q)
    hv.close(0, q)
    assert hv.domain(0).ports.busy_ports() == [q]
    assert hv.bind_interdomain(0, 1, p) != q  # not reused while LINKED
    assert hv.drain(0, 0) == []  # unlinked by the guest (closed: not delivered); reusable again
    assert hv.domain(0).ports.busy_ports() == []
    hv.check_invariants()
