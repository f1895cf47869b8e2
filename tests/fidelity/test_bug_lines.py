"""The BUG line each guest kernel prints when its own table has no port for a per-vCPU bind at boot.

A guest of 4 vCPUs whose max_event_channels leaves vCPU 1 no port dies binding vCPU 1's timer VIRQ (its
first bind); one port more and it dies on the next, an IPI. The line is the kernel's own, per version:

| kernel (profile's PV guest)     | bind_virq_to_irq   | bind_ipi_to_irq    | read in                       |
|---------------------------------|--------------------|--------------------|-------------------------------|
| 2.6.32 (xenserver-6.1, 6.2)     | events.c:427       | events.c:397       | linux v2.6.32 22763c5cf369    |
| 3.10 (xenserver-6.5)            | events.c:986       | events.c:907       | 3.10.17 (= 3.10.65, 3.10.99)  |
| 6.1 (xenserver-8, xen-xl, 4.17) | events_base.c:1399 | events_base.c:1282 | linux 6.1.166                 |

Sources: drivers/xen/events.c of each tree (v2.6.32: `BUG()` after a failed EVTCHNOP_bind_ipi / bind_virq;
3.10: bind_ipi_to_irq `BUG()`, bind_virq_to_irq `BUG_ON(ret < 0)` after the -EEXIST/find_virq case),
drivers/xen/events/events_base.c in 6.1.166 (unifreq/linux-6.1.y), lib/bug.c report_bug()'s
"kernel BUG at %s:%u!". The data and its sources: src/evtchn/toolstack/profile_data_bugs.py,
profile_data_xen417.py.
"""

from __future__ import annotations

import pytest

from evtchn.toolstack import BUILTIN_PROFILES, Host, VmSpec

OLD = "kernel BUG at drivers/xen/events.c:{}! RIP: {}"
NEW = "kernel BUG at drivers/xen/events/events_base.c:{}! RIP: {}"
CASES = [
    # profile, its PV guest kernel's (virq line, ipi line), the text
    ("xenserver-6.1", 427, 397, OLD),  # linux v2.6.32 drivers/xen/events.c
    ("xenserver-6.2", 427, 397, OLD),  # linux v2.6.32 drivers/xen/events.c
    ("xenserver-6.5", 986, 907, OLD),  # linux 3.10.17 drivers/xen/events.c
    ("xenserver-8", 1399, 1282, NEW),  # linux 6.1.166 drivers/xen/events/events_base.c
    ("xen-xl", 1399, 1282, NEW),
    ("xen-4.17", 1399, 1282, NEW),
]


def _first_bug(profile: str, table: int) -> str:
    host = Host.create(profile)
    host.define_vm(VmSpec(name="g", type="pv", vcpus=4, max_event_channels=table, on_crash="preserve"))
    vm = host.start_vm("g")
    assert vm.power_state == "Paused" and vm.domid is not None  # preserved: its ports stay for a look
    held = host.hv.domains[vm.domid].ports.used_ports()
    assert max(held) == table  # every port of its table is taken: the next bind had none
    bugs = [m for m in vm.messages if m.startswith("kernel BUG")]
    assert len(bugs) == 1 and vm.last_error == bugs[0]
    return bugs[0]


def _vcpu0_binds(profile: str) -> int:
    k = BUILTIN_PROFILES[profile].pv_guest_kernel
    return len(k.per_vcpu) + len(k.smp_only)


@pytest.mark.parametrize(("profile", "virq", "ipi", "text"), CASES)
def test_each_kernel_prints_its_own_bug_line(profile: str, virq: int, ipi: int, text: str) -> None:
    table = 2 + _vcpu0_binds(profile)  # store and console, then vCPU 0's binds: none left for vCPU 1
    assert _first_bug(profile, table) == text.format(virq, "bind_virq_to_irq")  # vCPU 1's timer VIRQ
    assert _first_bug(profile, table + 1) == text.format(ipi, "bind_ipi_to_irq")  # then its resched IPI


def test_every_linux_guest_flavour_has_its_lines() -> None:
    """No Linux guest kernel of a built-in profile is left with the unversioned line."""
    for p in BUILTIN_PROFILES.values():
        for k in (p.pv_guest_kernel, p.hvm_guest_kernel, p.pvh_guest_kernel):
            if k is None or not (k.per_vcpu or k.smp_only):  # Windows PV drivers bind no VIRQ/IPI
                continue
            assert set(k.bug_lines) == {"bind_virq_to_irq", "bind_ipi_to_irq"}, (p.name, k.name)
            assert "{line}" in k.bug_line, (p.name, k.name)
