"""Xen's domid ceiling seen from the toolstack (issue 15; reference §1 "Reserved domids", §8.3).

The toolstack lets XEN_DOMCTL_createdomain choose the domid (Xen's rover); with all 32 751 guest domids in
use createdomain fails (ENOMEM up to Xen 4.20, EEXIST from 4.21) and VM.start reports it the way the
toolstack does: xenopsd's Xenctrl.Error as xapi's INTERNAL_ERROR, libxl's "domain creation fail".
"""

from __future__ import annotations

import pytest

from evtchn.toolstack import Host, seed_vm_spec
from evtchn.toolstack.errors import StartError
from evtchn.xen import DOMID_FIRST_RESERVED, MAX_GUEST_DOMAINS


def _fill(host: Host) -> None:
    """Every guest domid taken (other toolstacks' domains, as far as this one knows)."""
    while len(host.hv.domains) <= MAX_GUEST_DOMAINS:
        host.hv.create_domain()


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ("xenserver-8", 'xenopsd internal error: Xenctrl.Error("12: Cannot allocate memory")'),  # Xen 4.17
        ("xen-xl", "libxl: error: libxl_create.c: libxl__domain_make: domain creation fail: File exists"),
    ],
)
def test_a_start_with_every_domid_in_use_fails_cleanly(profile: str, message: str) -> None:
    host = Host.create(profile)
    for name in ("a", "b"):
        host.define_vm(seed_vm_spec(name))
    host.start_vm("a")
    _fill(host)
    used, domains = host.dom0_ports_used(), set(host.hv.domains)
    with pytest.raises(StartError) as got:
        host.start_vm("b")
    e = got.value
    assert (e.message, e.xenapi_code, e.xenapi_params, e.op) == (
        message,
        "INTERNAL_ERROR",
        [message],
        "VM_create",
    )
    assert host.vms["b"].power_state == "Halted" and host.vms["b"].domid is None
    assert (host.dom0_ports_used(), set(host.hv.domains)) == (used, domains)  # nothing taken, nothing lost
    host.hv.destroy_domain(4242)
    assert host.start_vm("b").domid == 4242  # the one free domid, found by Xen's rover wrapping round


def test_domids_come_from_xens_rover_and_wrap_below_the_reserved_ones() -> None:
    host = Host.create("xenserver-8")
    for name in "abc":
        host.define_vm(seed_vm_spec(name))
    host.hv.domid_rover = DOMID_FIRST_RESERVED - 2
    assert host.start_vm("a").domid == DOMID_FIRST_RESERVED - 1  # 0x7FEF, the last guest domid
    assert host.start_vm("b").domid == 1  # then the rover wraps
    host.shutdown_vm("b")
    assert host.start_vm("c").domid == 2  # and moves on: domid 1 is not reused at once
    assert host.plumbing.rover == host.hv.domid_rover == 2
    host.check_invariants()
