"""The xen-4.17 profile (Debian 12: Xen 4.17.5, Linux 6.1, xl, oxenstored): its texts are libxl 4.17's with
that version's line numbers, dom0 binds in Linux 6.1's order, and the 2-level dom0 file behaves as
`xen.fifo_events=0` does. Each assertion names where the fact was read."""

from __future__ import annotations

from pathlib import Path

import pytest

from evtchn.toolstack import BUILTIN_PROFILES, Host, VmSpec, get_hardware, get_profile
from evtchn.toolstack.costs import dom0_baseline, kernel_binds
from evtchn.toolstack.errors import SpecError
from evtchn.toolstack.profile_data_xen417 import XL_CREATE_FAILED_EXIT
from evtchn.toolstack.profiles import KernelFlavour
from evtchn.xen.constants import ECS

ROOT = Path(__file__).resolve().parents[2]
TWO_LEVEL = ROOT / "examples" / "profiles" / "xen-4.17-2level.yaml"
P = BUILTIN_PROFILES["xen-4.17"]


def test_libxl_417_texts_carry_that_versions_lines() -> None:
    # xen RELEASE-4.17.5 tools/libs/light/libxl_create.c:1974 (console_xswait_callback's LOG) and :1894
    # (domcreate_devmodel_started's LOGD, "Domain %d:" prefix from libxl_internal.c:239).
    assert P.console_failure.message.format(domid=7) == (
        "libxl: error: libxl_create.c:1974:console_xswait_callback: domain 7 console tty: timed out"
    )
    assert P.dm_failure.message.format(domid=7) == (
        "libxl: error: libxl_create.c:1894:domcreate_devmodel_started: "
        "Domain 7:device model did not start: -3"
    )
    # libxl_dom.c:376-377 and :502 ignore the alloc/introduce results: what the user sees is the timeout.
    assert P.store_failure.message == P.guest_alloc_failure.message == P.console_failure.message
    # Current Xen keeps its own profile and lines.
    assert BUILTIN_PROFILES["xen-xl"].console_failure.message != P.console_failure.message


def test_xl_create_failure_exit_code_is_3() -> None:
    # tools/xl/xl_vmcontrol.c:1258-1261 `return -rc`; ERROR_FAIL = -3 (libxl_types.idl:49); the CLI's
    # refused-start code is the same number (cli/exits.py).
    from evtchn.cli.exits import EXIT_REFUSED

    assert XL_CREATE_FAILED_EXIT == EXIT_REFUSED == 3


def test_dom0_boot_cpu_binds_spinlock_second_and_others_last() -> None:
    # linux v6.1 smp_pv.c xen_pv_smp_prepare_cpus: timer (time_init), xen_init_lock_cpu(0), then
    # xen_smp_intr_init(0) + irq_work; the other CPUs bind the spinlock IPI from cpuhp "online" (enlighten.c).
    binds = kernel_binds(P.dom0_kernel, 2)
    assert [b for v, b in binds if v == 0] == [
        "virq:0", "ipi:spinlock", "ipi:resched", "ipi:callfunc", "ipi:callfuncsingle", "ipi:irqwork",
    ]  # fmt: skip
    assert [b for v, b in binds if v == 1] == [
        "virq:0", "ipi:resched", "ipi:callfunc", "ipi:callfuncsingle", "ipi:irqwork", "ipi:spinlock",
    ]  # fmt: skip
    # xen_init_spinlocks(): no PV spinlock on a 1-CPU domain.
    assert "ipi:spinlock" not in [b for _, b in kernel_binds(P.pv_guest_kernel, 1)]


def test_hvm_guest_binds_spinlock_last_on_cpu0_too() -> None:
    # linux v6.1 smp_hvm.c xen_hvm_smp_prepare_cpus: xen_smp_intr_init(0) before xen_init_lock_cpu(0).
    binds = [b for v, b in kernel_binds(P.hvm_guest_kernel, 2) if v == 0]
    assert binds[-1] == "ipi:spinlock" and "ipi:irqwork" not in binds


def test_dom0_ports_in_lsevtchn_order() -> None:
    """dom0's first ports on a booted host are vCPU 0's binds in that order: timer VIRQ 0 on port 1, then
    the spinlock IPI and the other IPIs, all on vCPU 0."""
    host = Host.create("xen-4.17")
    t = host.hv.domains[0].ports
    got = [(ECS(t.state[n]).name, t.notify[n]) for n in range(1, 7)]
    assert got == [("VIRQ", 0)] + [("IPI", 0)] * 5
    assert t.union[1] == 0  # VIRQ_TIMER
    # vCPU 1's block follows: its timer first, its spinlock IPI last.
    assert (ECS(t.state[7]).name, t.notify[7], t.union[7]) == ("VIRQ", 1, 0)
    assert (ECS(t.state[12]).name, t.notify[12]) == ("IPI", 1)


def test_two_level_dom0_file() -> None:
    """xen.fifo_events=0: 2-level dom0 (4096 ports, 64-bit), VIRQ_DEBUG once per dom0 vCPU."""
    prof = get_profile(str(TWO_LEVEL))
    assert prof.dom0_abi_limit == 4096 and not prof.dom0_kernel.fifo
    hw = get_hardware(None)
    assert dom0_baseline(prof, hw)["virq"] == dom0_baseline(P, hw)["virq"] + hw.dom0_vcpus
    debug_on = sorted(v for v, b in kernel_binds(prof.dom0_kernel, hw.dom0_vcpus) if b == "virq:1")
    assert debug_on == list(range(hw.dom0_vcpus))
    host = Host.create(str(TWO_LEVEL))
    assert type(host.hv.domains[0].abi).__name__ == "TwoLevel"
    host.define_vm(VmSpec(name="g", type="pv", vcpus=2))
    host.start_vm("g")
    host.check_invariants()


def test_boot_order_must_be_a_permutation() -> None:
    with pytest.raises(ValueError, match="boot_order must list exactly"):
        KernelFlavour(name="k", per_vcpu=["virq:0"], boot_order=["virq:0", "ipi:spinlock"])


def test_bad_boot_order_in_a_file_names_the_file(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("base: xen-4.17\ndom0_kernel:\n  boot_order: ['virq:0']\n")
    with pytest.raises(SpecError, match=r"p\.yaml: field dom0_kernel: .*boot_order"):
        get_profile(str(f))
