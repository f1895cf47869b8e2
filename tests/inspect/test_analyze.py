"""The analyser and `evtchn analyze`: dom0 ports by kind and domain, limit, headroom, exit codes (§9, §10)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from evtchn.cli import main as evtchn_main
from evtchn.inspect import analyze, format_edump, format_lsevtchn, parse_file, parse_text
from evtchn.xen import DOMID_SELF
from tests.inspect.hosts import dom0_host, pv_guest, pv_guest_partial

FIXTURES = Path(__file__).parent / "fixtures"
SEED = FIXTURES / "seed-lsevtchn-domid36.txt"


def _host_text(n_guests: int = 5, baseline: int = 60) -> str:
    hv = dom0_host(baseline=baseline)
    for d in range(1, n_guests + 1):
        pv_guest(hv, d)
    # One bigger guest: two extra frontends bound by dom0 (8 dom0 ports).
    pv_guest(hv, 40)
    for _ in range(2):
        hv.bind_interdomain(0, 40, hv.alloc_unbound(40, DOMID_SELF, 0))
    return format_lsevtchn(hv, 0).stdout


def test_seed_sample_has_six_ports_connected_to_dom0() -> None:
    a = analyze(parse_file(SEED))
    (g,) = a.guests
    assert (g.domid, g.ports, g.to_dom0, g.dom0_ports) == (None, 11, 6, [51, 52, 55, 53, 54, 56])
    assert a.dom0_total is None and a.headroom is None


def test_seed_sample_with_its_prompt_gives_the_per_vm_cost() -> None:
    text = "[root@xs62 ~]# /usr/lib/xen/bin/lsevtchn 36\n" + SEED.read_text()
    a = analyze(parse_text(text))
    assert a.held_by_domain == {36: 6}
    assert a.vm_cost == 6


def test_dom0_counts_cost_and_headroom() -> None:
    a = analyze(parse_text(_host_text()))
    assert a.dom0_source == "lsevtchn" and a.dom0_total == 60 + 5 * 6 + 8
    assert a.by_kind == {"interdomain": 38, "virq": 2, "ipi": 58}
    assert a.interdomain_by_domain == {1: 6, 2: 6, 3: 6, 4: 6, 5: 6, 40: 8}
    assert a.vm_cost == 6 and a.vm_cost_source.startswith("most common in the dump (5 of 6")
    # Nothing in a bare lsevtchn of this dom0 says its ABI (no port above 1023, no VIRQ_DEBUG): no single
    # limit is reported, and every plausible ABI gets its own headroom (issue 11).
    assert (a.abi, a.limit, a.free, a.headroom) == (None, None, None, None)
    assert a.abi_candidates == ["2l-32", "2l-64", "fifo"] and "pass --abi" in a.abi_evidence[-1]
    assert {k: (h.free, h.headroom) for k, h in a.by_abi.items()} == {
        "2l-32": (1023 - 98, (1023 - 98) // 6),
        "2l-64": (4095 - 98, (4095 - 98) // 6),
        "fifo": (131071 - 98, (131071 - 98) // 6),
    }
    assert a.worst_headroom() == (1023 - 98) // 6


def test_explicit_abi_and_cost() -> None:
    a = analyze(parse_text(_host_text()), abi="2l-32", vm_cost=7, vm_cost_source="--vm-cost")
    assert (a.limit, a.free, a.headroom, a.abi_inferred) == (1023, 1023 - 98, (1023 - 98) // 7, False)


def test_blog_arithmetic_150_and_570() -> None:
    """§10: a baseline B of 50-100 leaves ⌊(1023−B)/6⌋ VMs before 6.2 and ⌊(4095−B)/7⌋ in 6.2."""
    text = format_lsevtchn(dom0_host(baseline=80), 0).stdout
    assert analyze(parse_text(text), abi="2l-32", vm_cost=6).headroom == 157
    assert analyze(parse_text(text), abi="2l-64", vm_cost=7).headroom == 573


def test_abi_inference() -> None:
    """The ABI comes from evidence only (issue 11): a port above 1023 rules out 32-bit 2L but not FIFO."""
    big = analyze(parse_text(format_lsevtchn(dom0_host(baseline=1100), 0).stdout))
    assert (big.abi, big.abi_candidates) == (None, ["2l-64", "fifo"])
    assert any("port 1100" in e for e in big.abi_evidence)
    hv = dom0_host(baseline=4)
    hv.init_control(0, 100, 0, 0)
    a = analyze(parse_text(format_edump(hv)))
    assert a.abi == "fifo" and a.limit == 131071 and a.abi_inferred
    huge = analyze(parse_text(format_lsevtchn(dom0_host(baseline=4200, fifo_pages=5), 0).stdout))
    assert huge.abi == "fifo"


def test_abi_evidence_in_order() -> None:
    base = format_lsevtchn(dom0_host(baseline=60), 0).stdout
    # Linux's own banner (§12), pasted from dmesg alongside.
    fifo = "[    0.386745] xen:events: Using FIFO-based ABI\n" + base
    assert analyze(parse_text(fifo)).abi == "fifo"
    two = "[    0.386745] xen:events: Using 2-level ABI\n" + base
    assert analyze(parse_text(two)).abi_candidates == ["2l-32", "2l-64"]
    # A Xen older than 4.4 has no FIFO; the 'e' dump's 4.1 layout says the same.
    old = "(XEN) Xen version 4.1.3 (root@xs) (gcc 4.4)\n" + base
    assert analyze(parse_text(old)).abi_candidates == ["2l-32", "2l-64"]
    hv = dom0_host(version=(4, 1), baseline=1100)
    assert analyze(parse_text(format_edump(hv, layout="4.1"))).abi == "2l-64"
    # VIRQ_DEBUG: Linux binds it only for 2L (arch/x86/xen/smp.c).
    hv = dom0_host(baseline=60)
    hv.bind_virq(0, 1, 0)
    assert analyze(parse_text(format_lsevtchn(hv, 0).stdout)).abi_candidates == ["2l-32", "2l-64"]
    # What the user says wins over everything in the input.
    a = analyze(parse_text(fifo), abi="2l-64")
    assert (a.abi, a.abi_inferred, a.abi_evidence) == ("2l-64", False, ["--abi 2l-64"])
    p = analyze(parse_text(base), profile_abi=("2l-32", "xenserver-6.1"))
    assert (p.abi, p.limit, p.abi_inferred) == ("2l-32", 1023, False)


def test_full_32_bit_dom0_is_called_exhausted() -> None:
    """The issue's XenServer 6.1 dom0: 1023 of 1023 ports, the last VM holding 3 of its 6 (§8.3a)."""
    hv = dom0_host(version=(4, 1), baseline=1023 - 21 * 6 - 3)
    for d in range(1, 22):
        pv_guest(hv, d, backend_order=(1, 2, 0, 3))
    last = pv_guest_partial(hv, 22, connect=1)
    assert last == 3
    text = format_lsevtchn(hv, 0).stdout
    a = analyze(parse_text(text))
    assert a.dom0_total == 1023 and a.abi is None
    assert a.by_abi["2l-32"].free == 0 and a.by_abi["2l-32"].exhausted and a.by_abi["2l-32"].headroom == 0
    assert a.by_abi["2l-64"].free == 3072
    assert a.exhausted is not None and "exactly 1023 ports" in a.exhausted and "64-bit dom0" in a.exhausted
    assert [(s.domid, s.holds, s.siblings_hold) for s in a.short] == [(22, 3, 6)]
    res = CliRunner().invoke(evtchn_main, ["analyze", "-"], input=text)
    assert res.exit_code == 0, res.output
    assert "EXHAUSTED" in res.stdout and "2l-32" in res.stdout and "unknown" in res.stdout
    doc = json.loads(CliRunner().invoke(evtchn_main, ["analyze", "-", "--json"], input=text).stdout)
    assert doc["abi"] is None and doc["abi_known"] is False and doc["limit"] is None
    assert doc["headroom_vms"] is None and doc["headroom_by_abi"]["2l-32"]["exhausted"] is True
    assert doc["short_domains"][0]["domid"] == 22
    # Told the ABI, the same count is plainly exhausted.
    b = analyze(parse_text(text), abi="2l-32")
    assert (
        b.headroom == 0
        and b.exhausted is not None
        and b.exhausted.startswith("dom0's event channels are exhausted")
    )


def test_loopback_channels_are_not_a_vm() -> None:
    hv = dom0_host(baseline=3)
    hv.bind_interdomain(0, DOMID_SELF, hv.alloc_unbound(0, DOMID_SELF, DOMID_SELF))
    a = analyze(parse_text("# lsevtchn 0\n" + format_lsevtchn(hv, 0).stdout))
    assert a.interdomain_by_domain == {0: 2} and a.held_by_domain == {}


def test_proc_interrupts_analysis() -> None:
    a = analyze(parse_file(FIXTURES / "proc-interrupts-dom0.txt"))
    assert a.dom0_source == "interrupts" and a.dom0_total == 17
    assert a.held_by_domain == {5: 2} and a.unattributed == 4
    assert a.by_consumer["evtchn:xenstored"] == 1 and a.by_consumer["netback (vif)"] == 2
    # Per-CPU actions (timer0, timer1) are one consumer; a device's own digits stay (i8042 is not "i").
    assert a.by_consumer["timer"] == 2 and a.by_consumer["resched"] == 1
    assert {"i8042", "rtc0", "eth0"} <= set(a.by_consumer)


def test_proc_interrupts_alone_infers_no_per_vm_cost() -> None:
    """Only vif backends name their VM in /proc/interrupts (dom5 shows 2 of its ports): that is no VM's
    cost, so the headroom needs --vm-cost, --spec or the guests' own tables, not a 2-port guess."""
    irq = parse_file(FIXTURES / "proc-interrupts-dom0.txt")
    a = analyze(irq)
    assert (a.vm_cost, a.headroom) == (None, None) and "--vm-cost" in a.vm_cost_source
    # debug0 (VIRQ_DEBUG) says 2-level, not which word size: both 2L limits, side by side.
    six = analyze(irq, vm_cost=6)
    assert six.headroom is None and six.by_abi["2l-64"].headroom == (4095 - 17) // 6
    assert six.by_abi["2l-32"].headroom == (1023 - 17) // 6 and "fifo" not in six.by_abi
    seed = parse_text("# lsevtchn 36\n" + SEED.read_text())
    b = analyze(irq.merge(seed), abi="2l-64")
    assert (b.dom0_source, b.vm_cost, b.headroom) == ("interrupts", 6, (4095 - 17) // 6)


def test_cli_min_free_on_proc_interrupts_needs_a_cost() -> None:
    r = CliRunner().invoke(
        evtchn_main, ["analyze", str(FIXTURES / "proc-interrupts-dom0.txt"), "--min-free", "1"]
    )
    assert r.exit_code == 2 and "no per-VM cost" in r.stderr


def test_a_domain_dumped_twice_is_one_guest_from_its_latest_table() -> None:
    """`xl dmesg` after pressing 'e' twice: each guest once, as the later dump shows it."""
    hv = dom0_host(baseline=10)
    pv_guest(hv, 3)
    first = format_edump(hv, prefix=True)
    pv_guest(hv, 4)
    hv.close(3, 8)  # guest 3 lost a device between the two dumps
    a = analyze(parse_text(first + format_edump(hv, prefix=True)))
    assert [(g.domid, g.to_dom0) for g in a.guests] == [(3, 5), (4, 6)]
    assert a.held_by_domain == {3: 6, 4: 6}  # dom0 still holds the closed channel's end, unbound (§2.7)


def test_edump_preferred_over_lsevtchn() -> None:
    hv = dom0_host(baseline=10)
    pv_guest(hv, 1)
    text = format_lsevtchn(hv, 0).stdout + format_edump(hv)
    assert analyze(parse_text(text)).dom0_source == "edump"


# ---------------------------------------------------------------- the command


@pytest.fixture
def dom0_file(tmp_path: Path) -> Path:
    p = tmp_path / "lsevtchn-0.txt"
    p.write_text(_host_text())
    return p


def test_cli_table(dom0_file: Path) -> None:
    res = CliRunner().invoke(evtchn_main, ["analyze", str(dom0_file)])
    assert res.exit_code == 0, res.output
    assert "dom0 ports in use" in res.stdout and "  98 " in res.stdout.replace("│", " ")
    # The ABI is unknown: every plausible one gets a row, none is reported as the limit.
    assert "unknown: 2l-32 / 2l-64 / fifo" in res.stdout and "headroom for every plausible ABI" in res.stdout
    assert str((4095 - 98) // 6) in res.stdout and str((1023 - 98) // 6) in res.stdout
    assert res.stdout.startswith("input: lsevtchn\n")
    told = CliRunner().invoke(evtchn_main, ["analyze", str(dom0_file), "--abi", "2l-64"])
    assert "headroom (VMs)" in told.stdout and str((4095 - 98) // 6) in told.stdout


def test_cli_json(dom0_file: Path) -> None:
    res = CliRunner().invoke(evtchn_main, ["analyze", str(dom0_file), "--json", "--abi", "2l-32"])
    assert res.exit_code == 0
    out = json.loads(res.stdout)
    assert out["dom0"]["total"] == 98 and out["dom0"]["held_by_domain"]["40"] == 8
    assert out["limit"] == 1023 and out["headroom_vms"] == (1023 - 98) // 6
    assert out["unrecognised"] == []


@pytest.mark.parametrize(("min_free", "code"), [(100, 0), (154, 0), (155, 1), (1000, 1)])
def test_cli_min_free_exit_code(dom0_file: Path, min_free: int, code: int) -> None:
    # (1023 - 98) // 6 == 154 VMs still fit.
    res = CliRunner().invoke(
        evtchn_main, ["analyze", str(dom0_file), "--abi", "2l-32", "--min-free", str(min_free)]
    )
    assert res.exit_code == code
    if code:
        assert res.stderr == f"evtchn: headroom 154 VMs is below --min-free {min_free}\n"


def test_cli_min_free_with_json_keeps_stdout_json(dom0_file: Path) -> None:
    args = ["analyze", str(dom0_file), "--abi", "2l-32", "--json", "--min-free", "155"]
    res = CliRunner().invoke(evtchn_main, args)
    assert (res.exit_code, res.stderr) == (1, "")
    assert json.loads(res.stdout)["headroom_vms"] == 154


def test_cli_spec_cost(dom0_file: Path, tmp_path: Path) -> None:
    """The seed's example HVM VM (3 disks, 1 NIC, 1 vCPU) costs 7 dom0 ports on XenServer 6.2 (§10)."""
    spec = tmp_path / "seed.yaml"
    spec.write_text(
        "name: seed\ntype: hvm\nvcpus: 1\ndisks:\n  - userdevice: 0\n  - userdevice: 1\n  - userdevice: 2\n"
        "nics:\n  - devid: 0\npv_drivers: true\n"
    )
    res = CliRunner().invoke(evtchn_main, ["analyze", str(dom0_file), "--spec", str(spec), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["vm_cost"] == 7 and out["headroom_vms"] is None
    assert out["headroom_by_abi"]["2l-64"]["headroom_vms"] == (4095 - 98) // 7
    # Naming the host's profile also says its ABI: XenServer 6.2's dom0 has 4096 2L channels (§13.2).
    res = CliRunner().invoke(
        evtchn_main, ["analyze", str(dom0_file), "--spec", str(spec), "--profile", "xenserver-6.2", "--json"]
    )
    out = json.loads(res.stdout)
    assert (out["abi"], out["headroom_vms"]) == ("2l-64", (4095 - 98) // 7)
    assert out["abi_evidence"] == ["profile xenserver-6.2 runs dom0 with the 2-level, 64-bit dom0 ABI"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--vm-cost", "3", "--spec", "x.yaml"], "give either --vm-cost or --spec, not both"),
        (["--min-free", "3"], "cannot check --min-free: no dom0 table in the input"),
    ],
)
def test_cli_usage_errors(args: list[str], message: str) -> None:
    res = CliRunner().invoke(evtchn_main, ["analyze", str(SEED), *args])
    assert res.exit_code == 2
    assert res.stderr == f"evtchn: {message}\n"


def test_cli_bad_spec_is_one_line(dom0_file: Path, tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: b\nvcpus: [1\n")
    res = CliRunner().invoke(evtchn_main, ["analyze", str(dom0_file), "--spec", str(spec)])
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and "bad.yaml:" in res.stderr


def test_cli_unknown_format_and_missing_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_text("nothing to see\n")
    res = CliRunner().invoke(evtchn_main, ["analyze", str(junk)])
    assert res.exit_code == 2
    assert (
        res.stderr
        == f"evtchn: {junk}: no lsevtchn, 'e' dump, /proc/interrupts, xenstore-ls or known error message: "
        "it looks like text starting 'nothing to see' (1 unrecognised line)\n"
    )
    res = CliRunner().invoke(evtchn_main, ["analyze", str(tmp_path / "gone.txt")])
    assert res.exit_code == 2 and res.stderr.startswith(f"evtchn: {tmp_path / 'gone.txt'}: cannot read")


def test_cli_reports_garbled_lines_with_numbers(tmp_path: Path) -> None:
    p = tmp_path / "dump.txt"
    p.write_text(_host_text() + "  99: VCPU 0: Something odd\n")
    res = CliRunner().invoke(evtchn_main, ["analyze", str(p)])
    assert res.exit_code == 0
    assert f"unrecognised: {p}:99: unknown lsevtchn line body" in res.stdout


def test_cli_prints_captured_text_verbatim_not_as_rich_markup(tmp_path: Path) -> None:
    """A pasted shell session or a mangled FIFO field is text: '[root@xs62 ~]' is not a style tag, and
    '[/  -   ]' (a closing tag to rich) must not crash the table."""
    p = tmp_path / "session.txt"
    lines = ["[root@xs62 ~]# xl list\n", "       7 [0/  -   ]: s=6 n=0 x=0\n", "       8 [/  -   ]: s=6\n"]
    p.write_text("".join(lines) + SEED.read_text())
    res = CliRunner().invoke(evtchn_main, ["analyze", str(p)])
    assert res.exit_code == 0, res.output
    for n, line in enumerate(lines, start=1):
        assert f"{p}:{n}: " in res.stdout and repr(line.rstrip("\n")) in res.stdout


def test_cli_reads_stdin() -> None:
    res = CliRunner().invoke(evtchn_main, ["analyze", "-", "--json"], input=_host_text())
    assert res.exit_code == 0 and json.loads(res.stdout)["dom0"]["total"] == 98


def test_toolstack_host_attribution_matches_its_own_accounting() -> None:
    """On a toolstack host (reference §7), analysing `lsevtchn 0` and the 'e' dump attributes to each
    running VM exactly the dom0 ports the toolstack's cost model gives it (§7.3), and the total is the
    host's dom0 use."""
    from evtchn.toolstack.host import Host
    from evtchn.toolstack.spec import DiskSpec, NicSpec, VmSpec

    host = Host.create("xenserver-6.2")
    for i, (kind, disks, nics) in enumerate([("pv", 1, 1), ("hvm", 3, 1), ("pv", 2, 2)]):
        spec = VmSpec(
            name=f"vm{i}",
            type=kind,
            vcpus=1,
            disks=[DiskSpec(userdevice=d) for d in range(disks)],
            nics=[NicSpec(devid=n) for n in range(nics)],
            pv_drivers=True,
        )
        host.define_vm(spec)
        host.start_vm(spec.name)
    from evtchn.toolstack.costs import vm_cost

    hv = host.hv
    expected = {
        vm.domid: vm_cost(host.profile, host.hardware, vm.spec).total
        for vm in host.vms.values()
        if vm.domid is not None
    }
    assert len(expected) == 3
    for text in (format_lsevtchn(hv, 0).stdout, format_edump(hv, layout="4.1", prefix=True)):
        a = analyze(parse_text(text))
        assert a.dom0_total == host.dom0_ports_used()
        assert a.held_by_domain == expected
