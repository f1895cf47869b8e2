"""End-to-end notification: frontend → backend and back through each guest's drain (reference §4, §5).

A drain is the guest's upcall handler; it returns ports in the order Linux would handle them.
"""

from __future__ import annotations

import pytest

from evtchn.xen import DOMID_SELF, Hypervisor, Virq


def _host(fifo: bool) -> Hypervisor:
    hv = Hypervisor()
    hv.create_domain(0, privileged=True, max_vcpus=2)
    hv.create_domain(1, max_vcpus=2)
    if fifo:
        for domid in (0, 1):
            hv.init_control(domid, 100, 0, 0)
            hv.init_control(domid, 101, 0, 1)
            hv.expand_array(domid, 102, premask=False)
    return hv


def _kicks(hv: Hypervisor, domid: int, vcpu: int = 0) -> int:
    return hv.domain(domid).vcpus[vcpu].kicks


@pytest.mark.parametrize("fifo", [False, True], ids=["2L", "FIFO"])
def test_frontend_to_backend_and_back(fifo: bool) -> None:
    hv = _host(fifo)
    front = hv.alloc_unbound(1, DOMID_SELF, 0)  # the frontend publishes this in xenstore
    back = hv.bind_interdomain(0, 1, front)  # the backend binds it
    assert hv.drain(0) == [back]  # the bind itself leaves the local end pending
    hv.send(1, front)  # frontend: "requests on the ring"
    assert hv.drain(1) == []
    assert hv.drain(0) == [back]
    hv.send(0, back)  # backend: "responses on the ring"
    assert hv.drain(0) == []
    assert hv.drain(1) == [front]
    assert hv.drain(1) == []


@pytest.mark.parametrize("fifo", [False, True], ids=["2L", "FIFO"])
def test_events_coalesce_until_handled(fifo: bool) -> None:
    hv = _host(fifo)
    p = hv.bind_ipi(1, 0)
    for _ in range(5):
        hv.send(1, p)
    assert _kicks(hv, 1) == 1
    assert hv.drain(1) == [p]
    hv.send(1, p)
    assert _kicks(hv, 1) == 2
    assert hv.drain(1) == [p]


@pytest.mark.parametrize("fifo", [False, True], ids=["2L", "FIFO"])
def test_masked_port_is_pending_without_upcall_until_unmasked(fifo: bool) -> None:
    hv = _host(fifo)
    p = hv.bind_ipi(1, 0)
    hv.mask(1, p)
    hv.send(1, p)
    assert hv.is_pending(1, p) and hv.is_masked(1, p)
    assert _kicks(hv, 1) == 0
    assert hv.drain(1) == []
    hv.unmask(1, p)
    assert _kicks(hv, 1) == 1
    assert hv.drain(1) == [p]
    assert not hv.is_pending(1, p)


def test_2l_upcall_edge_is_per_vcpu_flag_and_selector_word() -> None:
    hv = Hypervisor()
    hv.create_domain(1, max_vcpus=2)
    ports = [hv.bind_ipi(1, 0) for _ in range(70)]  # ports 1..70: words 0 and 1
    v = hv.domain(1).vcpus[0]
    hv.send(1, 3)
    assert (v.kicks, v.pending_sel, v.upcall_pending) == (1, 0b01, True)
    hv.send(1, 9)  # same word: selector already set, no edge
    hv.send(1, 66)  # new word: selector bit set, but the upcall flag was already 1
    assert (v.kicks, v.pending_sel) == (1, 0b11)
    assert hv.drain(1) == [3, 9, 66]
    assert (v.upcall_pending, v.pending_sel) == (False, 0)
    hv.send(1, 66)
    assert v.kicks == 2
    assert ports[-1] == 70


def test_2l_scan_resumes_round_robin_after_the_last_port_handled() -> None:
    hv = Hypervisor()
    hv.create_domain(1)
    for _ in range(10):
        hv.bind_ipi(1, 0)
    hv.send(1, 5)
    assert hv.drain(1) == [5]
    for p in (3, 8, 2, 9):
        hv.send(1, p)
    assert hv.drain(1) == [8, 9, 2, 3]  # from bit 6 upward, then wrap


def test_2l_timer_virq_is_handled_first() -> None:
    hv = Hypervisor()
    hv.create_domain(1)
    for _ in range(5):
        hv.bind_ipi(1, 0)
    timer = hv.bind_virq(1, Virq.TIMER, 0)
    assert timer == 6
    for p in (2, 4):
        hv.send(1, p)
    hv.raise_virq(1, Virq.TIMER, 0)
    assert hv.drain(1) == [timer, 2, 4]


def test_2l_32_bit_guest_uses_32_bit_words() -> None:
    hv = Hypervisor()
    hv.create_domain(1, guest_width=32)
    for _ in range(40):
        hv.bind_ipi(1, 0)
    hv.send(1, 33)
    assert hv.domain(1).vcpus[0].pending_sel == 0b10
    assert hv.dump_port(1, 33).abi_field == "1"
    assert hv.drain(1) == [33]


def test_fifo_higher_priority_preempts_and_each_queue_is_fifo() -> None:
    hv = _host(True)
    a, b, c, d = (hv.bind_ipi(1, 0) for _ in range(4))
    hv.set_priority(1, c, 0)  # highest
    hv.set_priority(1, d, 15)  # lowest
    for p in (d, b, a, c):
        hv.send(1, p)
    assert hv.drain(1) == [c, b, a, d]  # priority first, then arrival order within a queue


def test_fifo_linking_at_tail_consuming_from_head() -> None:
    hv = _host(True)
    a, b, c = (hv.bind_ipi(1, 0) for _ in range(3))
    hv.send(1, c)
    hv.send(1, a)
    hv.send(1, b)
    fv = hv.domain(1).abi.vcpus[0]  # type: ignore[attr-defined]
    assert fv.head[7] == c and fv.tail[7] == b
    assert hv.dump_port(1, c).abi_field == f"  {a:<4}"  # LINK points at the next event
    assert hv.dump_port(1, b).abi_field == "  0   "
    assert hv.drain(1) == [c, a, b]
    assert hv.dump_port(1, c).abi_field == "  -   "


def test_fifo_upcall_only_when_a_queue_becomes_ready() -> None:
    hv = _host(True)
    a, b, c = (hv.bind_ipi(1, 0) for _ in range(3))
    hv.set_priority(1, c, 2)
    fv = hv.domain(1).abi.vcpus[0]  # type: ignore[attr-defined]
    hv.send(1, a)
    assert (fv.ready, _kicks(hv, 1)) == (1 << 7, 1)
    hv.send(1, b)  # appended to a non-empty queue: no upcall
    hv.send(1, c)  # a new queue becomes ready, but the upcall flag is already set
    assert (fv.ready, _kicks(hv, 1)) == (1 << 7 | 1 << 2, 1)
    assert hv.drain(1) == [c, a, b]
    assert fv.ready == 0


def test_fifo_closed_port_still_linked_is_not_reused_until_drained() -> None:
    hv = _host(True)
    a = hv.bind_ipi(1, 0)
    hv.send(1, a)
    hv.close(1, a)  # clears PENDING only; the word stays LINKED on vCPU 0's queue
    assert hv.dump_port(1, a).abi_field.strip() == "0"
    b = hv.bind_ipi(1, 0)
    assert b == a + 1
    assert hv.drain(1) == []  # the guest unlinks a, sees no PENDING, handles nothing
    assert hv.bind_ipi(1, 0) == a


def test_closed_port_is_reused_at_once_under_2l() -> None:
    hv = _host(False)
    a = hv.bind_ipi(1, 0)
    hv.send(1, a)
    hv.close(1, a)
    assert hv.bind_ipi(1, 0) == a


def test_fifo_no_control_block_on_the_notify_vcpu_drops_the_event() -> None:
    hv = Hypervisor()
    hv.create_domain(1, max_vcpus=2)
    hv.init_control(1, 100, 0, 0)
    hv.expand_array(1, 101, premask=False)
    p = hv.bind_ipi(1, 1)
    hv.send(1, p)
    # Current Xen finds no control block on vCPU 1 before it sets PENDING (reference §5 steps 3-4):
    # not pending, not linked, no READY, no upcall.
    assert not hv.is_pending(1, p)
    assert hv.dump_port(1, p).abi_field == "  -   "
    assert hv.domain(1).vcpus[1].kicks == 0
    assert hv.drain(1, 1) == []
    hv.init_control(1, 102, 0, 1)
    hv.unmask(1, p)  # nothing pending to re-raise: the event is lost
    assert hv.drain(1, 1) == []
    hv.send(1, p)  # the next one is delivered
    assert hv.drain(1, 1) == [p]


def test_fifo_event_moved_to_another_queue_after_being_handled() -> None:
    hv = _host(True)
    a, b = hv.bind_ipi(1, 0), hv.bind_ipi(1, 0)
    hv.send(1, a)
    assert hv.drain(1) == [a]  # a was the tail of queue 7; Xen still remembers it
    hv.set_priority(1, a, 3)
    hv.send(1, a)  # a joins queue 3: Xen must forget it as queue 7's tail
    hv.send(1, b)  # so b starts queue 7 afresh
    assert hv.drain(1) == [a, b]


def test_fifo_premasked_page_needs_unmask_as_linux_does() -> None:
    hv = Hypervisor()
    hv.create_domain(1)
    hv.init_control(1, 100, 0, 0)
    hv.expand_array(1, 101)  # Linux masks every word of a new page first
    p = hv.bind_ipi(1, 0)
    hv.send(1, p)
    assert hv.drain(1) == []
    hv.unmask(1, p)
    assert hv.drain(1) == [p]


def test_backend_vcpu_binding_sends_events_to_that_vcpu() -> None:
    hv = _host(True)
    front = hv.alloc_unbound(1, DOMID_SELF, 0)
    back = hv.bind_interdomain(0, 1, front)
    hv.drain(0)
    hv.bind_vcpu(0, back, 1)
    hv.send(1, front)
    assert hv.drain(0, 0) == []
    assert hv.drain(0, 1) == [back]
