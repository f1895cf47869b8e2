"""The 6.2 blog's story, by simulation (reference §10): the example VM costs 6 dom0 ports on 6.1 and 7 on
6.2; starting it again and again on the default hardware runs dom0 out a little past 150 / 570 VMs, with
the blog's messages; after shutdowns new VMs start fully again."""

from __future__ import annotations

import pytest

from evtchn.toolstack import Host, StartError, dom0_baseline, seed_vm_spec, vm_cost


def _start_until_failure(host: Host) -> tuple[list[str], list[str], StartError]:
    full: list[str] = []
    degraded: list[str] = []
    n = 0
    while True:
        name = f"vm{n}"
        host.define_vm(seed_vm_spec(name))
        try:
            vm = host.start_vm(name)
        except StartError as e:
            return full, degraded, e
        (full if all(d.connected for d in vm.devices) else degraded).append(name)
        n += 1
        assert n < 10_000


@pytest.mark.parametrize(("profile", "blog_cost"), [("xenserver-6.1", 6), ("xenserver-6.2", 7)])
def test_seed_vm_costs_what_the_blog_says(profile: str, blog_cost: int) -> None:
    host = Host.create(profile)
    before = host.dom0_ports_used()
    host.define_vm(seed_vm_spec("one"))
    vm = host.start_vm("one")
    assert host.dom0_ports_used() - before == blog_cost  # measured, not looked up
    assert vm_cost(host.profile, host.hardware, vm.spec).total == blog_cost
    assert all(d.connected for d in vm.devices)
    host.check_invariants()


@pytest.mark.parametrize(
    ("profile", "blog_floor", "usable"), [("xenserver-6.1", 150, 1023), ("xenserver-6.2", 570, 4095)]
)
def test_start_until_dom0_runs_out(profile: str, blog_floor: int, usable: int) -> None:
    host = Host.create(profile)
    baseline = sum(dom0_baseline(host.profile, host.hardware).values())
    assert 50 <= baseline <= 100  # the blog's "around 50–100 used for other purposes"
    assert host.dom0_ports_used() == baseline
    assert host.dom0_ports_usable() == usable
    cost = vm_cost(host.profile, host.hardware, seed_vm_spec())
    expected_full = (usable - baseline) // cost.total  # ⌊(1023−B)/6⌋, ⌊(4095−B)/7⌋
    assert blog_floor < expected_full <= blog_floor + 10  # "a little past"

    full, degraded, error = _start_until_failure(host)
    assert len(full) == expected_full
    left = usable - baseline - expected_full * cost.total
    # With `left` ports, the next VM starts (with failed devices) only if its start-time binds fit.
    assert len(degraded) == (1 if left >= cost.start_time else 0)
    for name in degraded:
        vm = host.vms[name]
        failed = [d for d in vm.devices if not d.connected]
        assert len(failed) == cost.connect_time - (left - cost.start_time)
        for d in failed:
            assert d.error == "error 28 mapping ring-refs and evtchn"
            assert d.dom0_ports == []
        assert any(m.endswith(": 28 mapping ring-refs and evtchn") for m in vm.messages)
    assert error.xenapi_code == "INTERNAL_ERROR"
    assert error.message.startswith("xenopsd internal error: ")
    last = host.vms[f"vm{len(full) + len(degraded)}"]
    assert last.power_state == "Halted" and last.domid is None
    assert host.dom0_ports_free() < cost.start_time
    host.check_invariants()

    # A few VMs shut down: new ones start fully again.
    for name in full[:3]:
        host.shutdown_vm(name)
    host.remove_vm(last.name)
    for i in range(2):
        host.define_vm(seed_vm_spec(f"again{i}"))
        vm = host.start_vm(f"again{i}")
        assert all(d.connected for d in vm.devices)
    host.check_invariants()


def test_62_device_model_failure_has_the_blogs_message() -> None:
    host = Host.create("xenserver-6.2")
    _, _, error = _start_until_failure(host)
    # Default hardware leaves one port: xenstored takes it, then qemu cannot bind (reference §10).
    assert error.message == 'xenopsd internal error: Device.Ioemu_failed("qemu-dm exited unexpectedly")'
    assert error.xenapi_params == [error.message]


def test_dom0_lines_by_remote_domain_attribute_ports_to_vms() -> None:
    """`lsevtchn 0` lines grouped by 'Remote Domain' give each VM's dom0 cost (reference §9.1, §10)."""
    from collections import Counter

    from evtchn.inspect.lsevtchn import format_lsevtchn

    host = Host.create("xenserver-6.1")
    for i in range(3):
        host.define_vm(seed_vm_spec(f"vm{i}"))
        host.start_vm(f"vm{i}")
    lines = format_lsevtchn(host.hv, 0).stdout.splitlines()
    assert len(lines) == host.dom0_ports_used()  # `lsevtchn 0 | wc -l`
    by_remote = Counter(
        int(line.split("Remote Domain ")[1].split(",")[0]) for line in lines if "Remote Domain" in line
    )
    assert {d: by_remote[d] for d in (1, 2, 3)} == {1: 6, 2: 6, 3: 6}
