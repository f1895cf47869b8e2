"""What a hypervisor read back from a host file must satisfy before any command uses it (issue 15).

    check_domain(d, consumers)   # one domain's port table: every column within what Xen can hold
    check_hypervisor(hv)         # every domain, then Xen's own invariants (peers point at each other)

A part that decodes but was damaged (a flipped bit inside a bucket, a page of another table) would
otherwise load and crash `lsevtchn` or `debug-keys` later, far from the cause. Both raise ValueError
naming the domain, port and column; the store turns that into "corrupt host file: …". Only facts Xen
itself guarantees are checked, never the toolstack's bookkeeping (an injected fault may leak a port on
purpose: that host is still a readable host).

The cost is one pass over each port column in C (max(), slices) plus Xen's invariant walk: a few
milliseconds for a host of a hundred VMs, against ~100 ms to decode it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evtchn.xen import ECS
from evtchn.xen.constants import FIFO_PRIORITY_MIN, NR_VIRQS

if TYPE_CHECKING:
    from evtchn.xen.domain import Domain
    from evtchn.xen.hypervisor import Hypervisor

_STATE_MAX = max(ECS)


def check_domain(d: Domain, consumers: int) -> None:
    """ValueError if a column of `d`'s port table holds a value Xen never stores there (reference §2.1)."""
    t = d.ports
    n = t.valid
    where = f"domain {d.domid}"
    columns = {"state": t.state, "notify": t.notify, "rdom": t.rdom, "union": t.union,
               "consumer": t.consumer, "prio": t.prio}  # fmt: skip
    for name, col in columns.items():
        if len(col) < n:
            raise ValueError(f"{where}: the {name} column holds {len(col)} ports, not {n}")
    if n == 0:
        return
    if t.state[0] != ECS.RESERVED:
        raise ValueError(f"{where}: port 0 is not reserved")
    if max(t.state[:n]) > _STATE_MAX:
        port = next(p for p in range(n) if t.state[p] > _STATE_MAX)
        raise ValueError(f"{where} port {port}: state {t.state[port]} is not a channel state")
    limits = (
        ("notify", t.notify, max(1, d.max_vcpus) - 1, "vCPU"),
        ("consumer", t.consumer, consumers, "Xen consumer number"),
        ("prio", t.prio, FIFO_PRIORITY_MIN, "FIFO priority"),
    )
    for name, col, top, what in limits:
        if max(col[:n]) > top:
            port = next(p for p in range(n) if col[p] > top)
            raise ValueError(f"{where} port {port}: {name} {col[port]} is past the last {what} ({top})")
    for p in range(1, n):
        if t.state[p] == ECS.VIRQ and t.union[p] >= NR_VIRQS:
            raise ValueError(f"{where} port {p}: VIRQ {t.union[p]} is not a VIRQ (0..{NR_VIRQS - 1})")


def check_hypervisor(hv: Hypervisor) -> None:
    """Every domain's columns, then Xen's own invariants; ValueError naming what is wrong."""
    consumers = len(hv.xen_consumers())
    for d in hv.domains.values():
        check_domain(d, consumers)
    try:
        hv.check_invariants()
    except AssertionError as e:
        raise ValueError(f"the hypervisor's state is inconsistent: {e}") from None
