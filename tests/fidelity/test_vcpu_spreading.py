"""Which vCPU a channel is delivered to, as `lsevtchn`'s `VCPU n` column and the 'e' dump's `n=` show it.

What was read (Linux, for facts only):
- linux commit 93b6adbf0420 "xen/events: Implement irq distribution" (tip irq/core 2020-12-12, so v5.11):
  drivers/xen/events/events_base.c keeps channels_on_cpu[] per CPU; select_target_cpu() takes the online
  CPU in the affinity mask with the fewest channels (strict `<`, so the lowest CPU on a tie); the IRQ core
  calls it from irq_startup -> irq_setup_affinity -> set_affinity_irq -> xen_rebind_evtchn_to_cpu, which
  issues EVTCHNOP_bind_vcpu. The same commit drops xen_irq_init's "By default all event channels notify
  CPU#0" affinity mask.
- bind_evtchn_to_irq_chip(): "New interdomain events are initially bound to vCPU0 ... important for UP
  guests because the affinity setting is not invoked on them", so the new channel counts on CPU 0 first.
- Per-CPU VIRQs and IPIs use xen_percpu_chip (no irq_set_affinity) and IRQF_PERCPU: they stay put.
- linux commit 26599cd34323 "xen/events: Remove disfunct affinity spreading": drivers/xen/evtchn.c's
  evtchn_bind_interdom_next_vcpu() (the /dev/xen/evtchn round robin, per-CPU bind_last_selected_cpu,
  since v4.13) could only ever pick CPU 0, because every new channel's affinity mask was cpumask_of(0).
  So before 5.11 every channel stays on vCPU 0; from 5.11 /dev/xen/evtchn users (xenstored, xenconsoled,
  qemu) are spread by the same select_target_cpu() as kernel backends and PIRQs.
- xen common/event_channel.c evtchn_bind_vcpu (reference §2.10): UNBOUND, INTERDOMAIN, PIRQ and global
  VIRQs move; IPIs and per-vCPU VIRQs get EINVAL.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from evtchn.cli import main
from evtchn.inspect.lsevtchn import format_lsevtchn
from evtchn.toolstack import BUILTIN_PROFILES, DiskSpec, Host, NicSpec, VmSpec
from evtchn.toolstack.kernel import channels_on_cpu
from evtchn.xen import XenError
from evtchn.xen.constants import ECS

LINE = re.compile(r"^\s*(\d+): VCPU (\d+): (.*)$")


def _lines(host: Host, domid: int) -> list[tuple[int, int, str]]:
    out = format_lsevtchn(host.hv, domid).stdout.splitlines()
    return [(int(m[1]), int(m[2]), m[3]) for m in map(LINE.match, out) if m]


def _guest(host: Host, vcpus: int = 4) -> int:
    spec = VmSpec(name="g", type="pv", vcpus=vcpus, disks=[DiskSpec(userdevice=0)], nics=[NicSpec()])
    host.define_vm(spec)
    domid = host.start_vm("g").domid
    assert domid is not None
    return domid


def _naive_least_loaded(per_cpu: int, cpus: int, n: int) -> list[int]:
    """An independent model of select_target_cpu() over `n` channels bound after `per_cpu` per-CPU ones on
    each CPU: each new channel counts on CPU 0, then goes to the first CPU with the fewest."""
    load = [per_cpu] * cpus
    out = []
    for _ in range(n):
        load[0] += 1
        best = 0
        for c in range(cpus):
            if load[c] < load[best]:
                best = c
        load[0] -= 1
        load[best] += 1
        out.append(best)
    return out


def test_linux_61_dom0_spreads_its_global_virqs_pirqs_and_daemon_ports() -> None:
    host = Host.create("xen-4.17")  # default hardware: dom0 with 4 vCPUs; Linux 6.1 dom0 (>= 5.11)
    lines = _lines(host, 0)
    per_cpu = [(p, v, what) for p, v, what in lines if what in ("IPI", "Virtual IRQ 0")]
    # Timer VIRQ and the IPIs stay on the vCPU they were bound for: 6 per vCPU, ports 1-24.
    assert [v for _, v, _ in per_cpu] == [0] * 6 + [1] * 6 + [2] * 6 + [3] * 6
    rest = [(p, v, what) for p, v, what in lines if p > 24]
    # Global VIRQs (console 2, pcpu 9, mce 16), then the PIRQs: least loaded, ties to the lowest vCPU.
    assert rest[:4] == [
        (25, 1, "Virtual IRQ 2"),
        (26, 2, "Virtual IRQ 9"),
        (27, 3, "Virtual IRQ 16"),
        (28, 0, "Physical IRQ 1"),
    ]
    assert [v for _, v, _ in rest] == _naive_least_loaded(6, 4, len(rest))
    # So every vCPU ends up with a quarter of dom0's channels, give or take one.
    counts = Counter(v for _, v, _ in lines)
    assert max(counts.values()) - min(counts.values()) <= 1


def test_older_dom0_kernel_leaves_everything_on_vcpu_0() -> None:
    # XenServer 8's 4.19 dom0 (< 5.11): xen_irq_init forced every new IRQ's affinity to CPU 0.
    host = Host.create("xenserver-8")
    lines = _lines(host, 0)
    assert all(v == 0 for _, v, what in lines if what not in ("IPI", "Virtual IRQ 0"))
    assert {v for _, v, what in lines if what == "IPI"} == {0, 1, 2, 3}


def test_linux_61_guest_spreads_store_console_and_frontends() -> None:
    host = Host.create("xen-4.17")
    domid = _guest(host, vcpus=4)
    lines = _lines(host, domid)
    by_port = {p: (v, what) for p, v, what in lines}
    # Ports 1, 2: xenstore and console (allocated by the toolstack, bound by the guest after its CPUs'
    # 6 per-CPU binds each: timer, spinlock (SMP), resched, callfunc, callfuncsingle, irq_work).
    assert by_port[1] == (1, "Interdomain (Connected) - Remote Domain 0, Port 93")
    assert by_port[2][0] == 2
    frontends = [v for p, v, what in lines if p > 26]
    # blkfront 4 queues + netfront 4 split queues = 12 channels, continuing the least-loaded order.
    assert len(frontends) == 12
    assert [1, 2, *frontends] == _naive_least_loaded(6, 4, 14)
    # dom0's ends of the same channels are dom0's own choice (its backends and daemons).
    dom0 = {p: v for p, v, _ in _lines(host, 0)}
    assert dom0[93] == 1  # xenstored's end of the guest's store channel


def test_older_guest_kernel_keeps_its_channels_on_vcpu_0() -> None:
    # XenServer 6.2: a 2.6.32-era PV guest.
    host = Host.create("xenserver-6.2")
    domid = _guest(host, vcpus=4)
    lines = _lines(host, domid)
    assert all(v == 0 for _, v, what in lines if what.startswith("Interdomain"))
    assert {v for _, v, what in lines if what == "IPI"} == {0, 1, 2, 3}


def test_a_one_vcpu_guest_is_not_rebound() -> None:
    # "the affinity setting is not invoked on [UP guests]": everything on vCPU 0.
    host = Host.create("xen-4.17")
    domid = _guest(host, vcpus=1)
    assert {v for _, v, _ in _lines(host, domid)} == {0}


def test_the_dump_shows_the_same_vcpu_and_xen_keeps_per_cpu_ports_put() -> None:
    host = Host.create("xen-4.17")
    lines = _lines(host, 0)
    for p, v, _ in lines:
        assert host.hv.dump_port(0, p).notify_vcpu == v
    # EVTCHNOP_bind_vcpu on an IPI or the per-vCPU timer VIRQ is EINVAL (reference §2.10).
    ipi = next(p for p, _, what in lines if what == "IPI")
    with pytest.raises(XenError, match="EINVAL"):
        host.hv.bind_vcpu(0, ipi, 2)
    assert host.hv.domains[0].ports.state[ipi] == ECS.IPI


def test_placement_follows_closes_and_counts_only_kernel_channels() -> None:
    host = Host.create("xen-4.17")
    before = channels_on_cpu(host.hv, 0, 4)
    domid = _guest(host, vcpus=2)
    host.destroy_vm("g")
    # The backends and daemons closed their ports: the per-CPU counts are back where they were.
    assert channels_on_cpu(host.hv, 0, 4) == before
    assert domid not in host.hv.domains


def test_placement_survives_the_host_file(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    spec = tmp_path / "g.yaml"
    spec.write_text(
        "name: g\ntype: pv\nvcpus: 4\nmemory_mib: 512\ndisks:\n  - {userdevice: 0}\nnics:\n  - {}\n"
    )

    def cli(*args: str) -> str:
        r = CliRunner().invoke(main, [*args, "--host", str(path)])
        assert r.exit_code == 0, r.output
        return r.stdout

    cli("host", "create", "--profile", "xen-4.17")
    cli("vm", "create", str(spec))
    cli("vm", "start", "g")
    first = cli("lsevtchn", "1"), cli("lsevtchn", "0")
    # A second guest started from the reloaded host continues from the stored placement.
    spec.write_text(spec.read_text().replace("name: g", "name: h"))
    cli("vm", "create", str(spec))
    cli("vm", "start", "h")
    assert (cli("lsevtchn", "1"), cli("lsevtchn", "0")[: len(first[1])]) == first
    # The same steps in one process give the same table: nothing was lost on the way through the store.
    host = Host.create("xen-4.17")
    for name in ("g", "h"):
        host.define_vm(
            VmSpec(
                name=name,
                type="pv",
                vcpus=4,
                memory_mib=512,
                disks=[DiskSpec(userdevice=0)],
                nics=[NicSpec()],
            )
        )
        host.start_vm(name)
    assert format_lsevtchn(host.hv, 0).stdout == cli("lsevtchn", "0")
    assert format_lsevtchn(host.hv, 2).stdout == cli("lsevtchn", "2")


def test_profiles_say_which_kernels_spread() -> None:
    spread = {
        name: (p.dom0_kernel.irq_affinity, p.pv_guest_kernel.irq_affinity)
        for name, p in BUILTIN_PROFILES.items()
    }
    assert spread["xen-4.17"] == spread["xen-xl"] == ("least_loaded", "least_loaded")
    assert spread["xenserver-8"] == ("cpu0", "least_loaded")  # 4.19 dom0; modern Linux guests
    assert spread["xenserver-6.2"] == spread["xenserver-6.1"] == spread["xenserver-6.5"] == ("cpu0", "cpu0")
    assert "93b6adbf0420" in BUILTIN_PROFILES["xen-4.17"].sources["dom0_kernel"]
