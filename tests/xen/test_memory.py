"""Memory per port (issue: ≤ 32 B per allocated port; Xen's own `struct evtchn` is 64 B, reference §1)."""

from __future__ import annotations

import gc
import tracemalloc

from evtchn.xen import DOMID_SELF, Hypervisor


def _bytes_per_port(n: int, fifo: bool) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    hv = Hypervisor()
    hv.create_domain(1)
    if fifo:
        hv.init_control(1, 1, 0, 0)
    for i in range(n):
        if fifo and not i & 1023:
            hv.expand_array(1, 2 + (i >> 10))
        hv.alloc_unbound(1, DOMID_SELF, 0)
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert hv.domain(1).active_evtchns == n
    return used / n


def test_fifo_domain_costs_at_most_32_bytes_per_port() -> None:
    assert _bytes_per_port(32_767, fifo=True) <= 32


def test_2l_domain_costs_at_most_32_bytes_per_port() -> None:
    # Fixed 2L bitmaps (2 × 512 B) and the domain itself are spread over the 4095 ports.
    assert _bytes_per_port(4095, fifo=False) <= 32


def test_freed_ports_do_not_leak() -> None:
    hv = Hypervisor()
    hv.create_domain(0, privileged=True)
    hv.create_domain(1)
    gc.collect()
    tracemalloc.start()
    for _ in range(3):
        for _ in range(2000):
            p = hv.alloc_unbound(1, DOMID_SELF, 0)
            q = hv.bind_interdomain(0, 1, p)
            hv.close(0, q)
            hv.close(1, p)
        gc.collect()
        snapshot = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert snapshot < 4096
