"""store/verify.py: a hypervisor read back from a host file holds only what Xen can hold (issue 15)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from evtchn.store.verify import check_hypervisor
from evtchn.toolstack import Host, seed_vm_spec
from evtchn.xen import ECS, Hypervisor
from evtchn.xen.constants import Virq


def _host() -> Host:
    host = Host.create("xenserver-8")
    host.define_vm(seed_vm_spec("a"))
    host.start_vm("a")
    return host


def _virq_port(hv: Hypervisor) -> int:
    return hv.bind_virq(1, Virq.DEBUG, 0)


def test_a_real_host_passes() -> None:
    check_hypervisor(_host().hv)


DAMAGE: dict[str, tuple[Callable[[Hypervisor, int], None], str]] = {
    "state": (lambda hv, p: hv.domains[1].ports.state.__setitem__(p, 9), "state 9 is not a channel state"),
    "notify": (
        lambda hv, p: hv.domains[1].ports.notify.__setitem__(p, 64),
        "notify 64 is past the last vCPU",
    ),
    "consumer": (lambda hv, p: hv.domains[1].ports.consumer.__setitem__(p, 200), "consumer 200 is past"),
    "prio": (lambda hv, p: hv.domains[1].ports.prio.__setitem__(p, 16), "prio 16 is past the last FIFO"),
    "virq": (lambda hv, p: hv.domains[1].ports.union.__setitem__(p, 99), "VIRQ 99 is not a VIRQ"),
    "port 0": (lambda hv, p: hv.domains[1].ports.state.__setitem__(0, 2), "port 0 is not reserved"),
    "peer": (lambda hv, p: _dangling_peer(hv), "inconsistent: d0:\\d+ peer domain 4000 gone"),
}


def _dangling_peer(hv: Hypervisor) -> None:
    """One of dom0's interdomain ports pointing at a domain that does not exist."""
    t = hv.domains[0].ports
    t.rdom[next(p for p in range(1, t.valid) if t.state[p] == ECS.INTERDOMAIN)] = 4000


@pytest.mark.parametrize("column", sorted(DAMAGE))
def test_a_value_xen_never_stores_is_refused_naming_domain_and_port(column: str) -> None:
    host = _host()
    port = _virq_port(host.hv)
    damage, said = DAMAGE[column]
    damage(host.hv, port)
    with pytest.raises(ValueError, match=said):
        check_hypervisor(host.hv)
