"""A PV guest's own table looks like the seed's lsevtchn sample (reference §10, fixtures/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evtchn.inspect.lsevtchn import format_lsevtchn
from evtchn.toolstack import DiskSpec, Host, NicSpec, VmSpec, get_profile
from tests.toolstack.helpers import hardware_leaving, hardware_with_baseline

FIXTURE = Path("/work/shared/fixtures/seed-lsevtchn-domid36.txt")
SEED_LINES = [
    "   1: VCPU 0: Interdomain (Connected) - Remote Domain 0, Port 51",
    "   2: VCPU 0: Interdomain (Connected) - Remote Domain 0, Port 52",
    "   3: VCPU 0: Virtual IRQ 0",
    "   4: VCPU 0: IPI",
    "   5: VCPU 0: IPI",
    "   6: VCPU 0: Virtual IRQ 1",
    "   7: VCPU 0: IPI",
    "   8: VCPU 0: Interdomain (Connected) - Remote Domain 0, Port 55",
    "   9: VCPU 0: Interdomain (Connected) - Remote Domain 0, Port 53",
    "  10: VCPU 0: Interdomain (Connected) - Remote Domain 0, Port 54",
    "  11: VCPU 0: Interdomain (Connected) - Remote Domain 0, Port 56",
]


def _pv_guest(name: str) -> VmSpec:
    return VmSpec(
        name=name,
        type="pv",
        vcpus=1,
        disks=[DiskSpec(userdevice=i) for i in range(3)],
        nics=[NicSpec(devid=0)],
    )


def test_the_fixture_is_what_the_reference_quotes() -> None:
    if not FIXTURE.exists():
        pytest.skip(f"{FIXTURE} is not available here; SEED_LINES carries the reference §10 sample")
    assert FIXTURE.read_text().splitlines() == SEED_LINES


def test_pv_guest_table_matches_the_seed_sample() -> None:
    # dom0 ports 1..50 busy, as on the blog's host; domid 36 reached by 35 earlier VMs coming and going.
    host = Host.create("xenserver-6.2", hardware_with_baseline(get_profile("xenserver-6.2"), 50))
    for i in range(35):
        host.define_vm(_pv_guest(f"old{i}"))
        host.start_vm(f"old{i}")
        host.shutdown_vm(f"old{i}")
    host.define_vm(_pv_guest("guest"))
    vm = host.start_vm("guest")
    assert vm.domid == 36
    out = format_lsevtchn(host.hv, 36)
    assert out.exit_code == 0
    lines = out.stdout.splitlines()
    # Store and console first, then VIRQ 0, IPI, IPI, VIRQ 1, IPI on vCPU 0: byte for byte.
    assert lines[:7] == SEED_LINES[:7]
    # Then the four device frontends, connected to the next four dom0 ports (the sample's pairing order
    # reflects backend timing on the real host; the set of ports is the same).
    assert len(lines) == len(SEED_LINES)
    prefix = "Interdomain (Connected) - Remote Domain 0, Port "
    ours = [line.split(": ", 2)[2] for line in lines[7:]]
    theirs = [line.split(": ", 2)[2] for line in SEED_LINES[7:]]
    assert all(x.startswith(prefix) for x in ours)
    assert sorted(ours) == sorted(theirs)
    # Six of its channels are connected to dom0, as the blog says.
    assert sum("Remote Domain 0" in line for line in lines) == 6
    host.check_invariants()


def test_failed_device_leaves_the_frontend_waiting() -> None:
    """A backend that cannot bind leaves the guest's port unbound: 'Waiting connection' (§8.3a)."""
    host = Host.create(
        "xenserver-6.2", hardware_leaving(get_profile("xenserver-6.2"), 3)
    )  # 3 dom0 ports left
    host.define_vm(_pv_guest("guest"))
    vm = host.start_vm("guest")  # store, console, first disk take the 3 ports
    lines = format_lsevtchn(host.hv, vm.domid or 0).stdout.splitlines()
    waiting = [line for line in lines if "Interdomain (Waiting connection) - Remote Domain 0" in line]
    assert len(waiting) == 3  # two disks and the NIC
    assert [d.connected for d in vm.devices] == [True, False, False, False]
    host.check_invariants()
