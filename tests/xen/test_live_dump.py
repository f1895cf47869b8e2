"""The 'e' dump of a live host shows live states (issue 12), as Xen's dump_evtchn_info prints them:
`[pending/masked/abi]` with the ABI's print_state — 2-level: the notify vCPU's selector bit for the
port's word (xen: common/event_2l.c evtchn_2l_print_state); FIFO: `?` without a word, `%c %-4u` with
BUSY and LINK when LINKED, `%c -` otherwise (common/event_fifo.c evtchn_fifo_print_state)."""

from __future__ import annotations

import pytest

from evtchn.inspect.edump import format_port
from evtchn.xen import Hypervisor


def _host(fifo: bool, vcpus: int = 4) -> Hypervisor:
    hv = Hypervisor()
    hv.create_domain(0, privileged=True, max_vcpus=vcpus)
    if fifo:  # Linux: a control block per vCPU, then the first event-array page (words pre-masked)
        for v in range(vcpus):
            hv.init_control(0, 1 + v, 0, v)
        hv.expand_array(0, 100)
    return hv


def _line(hv: Hypervisor, port: int) -> str:
    return format_port(hv.dump_port(0, port), "4.4").strip()


@pytest.mark.parametrize("fifo", [False, True])
def test_the_pv_spinlock_ipi_shows_masked_and_pending_on_every_vcpu(fifo: bool) -> None:
    """Linux xen_init_lock_cpu(): bind_ipi_to_irqhandler(XEN_SPIN_UNLOCK_VECTOR) then disable_irq(),
    so the port stays masked; a kick (xen_qlock_kick → EVTCHNOP_send) leaves it pending, unqueued."""
    hv = _host(fifo)
    ports = []
    for v in range(4):
        p = hv.bind_ipi(0, v)
        hv.mask(0, p)  # disable_irq: the guest masks its own port
        ports.append(p)
    kicks = [v.kicks for v in hv.domain(0).vcpus]
    for p in ports:
        hv.send(0, p)  # another CPU kicks the waiter
    assert [v.kicks for v in hv.domain(0).vcpus] == kicks  # a masked port raises no upcall
    field = "  -   " if fifo else "0"  # not LINKED / no selector bit: masked events are not delivered
    for v, p in enumerate(ports):
        assert _line(hv, p) == f"{p:d} [1/1/{field}]: s=6 n={v} x=0"


def test_fifo_delivered_events_show_linked_and_their_queue_link() -> None:
    hv = _host(True, vcpus=1)
    a, b, c = (hv.bind_ipi(0, 0) for _ in range(3))
    for p in (a, b, c):
        hv.unmask(0, p)  # Linux unmasks when the irq is started
    hv.set_priority(0, c, 3)  # a queue of its own
    hv.send(0, a)
    hv.send(0, b)
    hv.send(0, c)
    # Queue 7 is a → b (a's LINK names b; b, the tail, links 0); queue 3 holds c alone.
    assert _line(hv, a) == f"{a} [1/0/  {b:<4}]: s=6 n=0 x=0"
    assert _line(hv, b) == f"{b} [1/0/  0   ]: s=6 n=0 x=0"
    assert _line(hv, c) == f"{c} [1/0/  0   ]: s=6 n=0 x=0"
    assert hv.drain(0, 0) == [c, a, b]  # the higher priority first, then queue order
    for p in (a, b, c):
        assert _line(hv, p) == f"{p} [0/0/  -   ]: s=6 n=0 x=0"  # consumed: unlinked


def test_two_level_selector_bits_follow_the_pending_ports() -> None:
    hv = _host(False, vcpus=2)
    low = [hv.bind_ipi(0, 0) for _ in range(3)]  # word 0 (ports 1..3) on vCPU 0
    for _ in range(70):
        hv.bind_ipi(0, 1)
    high = hv.bind_ipi(0, 0)  # port 74: word 1, vCPU 0
    hv.mask(0, high)
    hv.send(0, low[1])
    hv.send(0, high)  # pending but masked: sets no selector bit
    fields = {p: hv.dump_port(0, p).abi_field for p in (*low, high)}
    assert fields == {low[0]: "1", low[1]: "1", low[2]: "1", high: "0"}  # the bit is per word
    assert hv.dump_port(0, 10).abi_field == "0"  # word 0 but vCPU 1: its own selector is clear
    assert hv.drain(0, 0) == [low[1]]
    assert {hv.dump_port(0, p).abi_field for p in (*low, high)} == {"0"}
    hv.unmask(0, high)  # EVTCHNOP_unmask re-raises the pending port: its word's bit is set
    assert _line(hv, high) == f"{high} [1/0/1]: s=6 n=0 x=0"
