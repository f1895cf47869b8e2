"""lsevtchn against a simulated hypervisor: argv, walk, line format and exit codes (reference §9.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evtchn.inspect import format_lsevtchn, parse_domid_arg
from evtchn.inspect.cparse import strtol10
from evtchn.inspect.lsevtchn import format_line
from evtchn.xen import DOMID_SELF, EvtchnStat, EvtchnStatus, Hypervisor
from tests.inspect.hosts import dom0_host, pv_guest

SEED = Path(__file__).parent / "fixtures" / "seed-lsevtchn-domid36.txt"


# ---------------------------------------------------------------- line format (§9.1 table and examples)


@pytest.mark.parametrize(
    ("port", "status", "line"),
    [
        (1, EvtchnStatus(EvtchnStat.VIRQ, 0, virq=0), "   1: VCPU 0: Virtual IRQ 0\n"),
        (2, EvtchnStatus(EvtchnStat.IPI, 0), "   2: VCPU 0: IPI\n"),
        (45, EvtchnStatus(EvtchnStat.PIRQ, 0, pirq=16), "  45: VCPU 0: Physical IRQ 16\n"),
        (
            51,
            EvtchnStatus(EvtchnStat.INTERDOMAIN, 0, dom=3, port=1),
            "  51: VCPU 0: Interdomain (Connected) - Remote Domain 3, Port 1\n",
        ),
        (
            5,
            EvtchnStatus(EvtchnStat.UNBOUND, 0, dom=0),
            "   5: VCPU 0: Interdomain (Waiting connection) - Remote Domain 0\n",
        ),
        (10000, EvtchnStatus(EvtchnStat.IPI, 3), "10000: VCPU 3: IPI\n"),
    ],
)
def test_line_format_is_byte_exact(port: int, status: EvtchnStatus, line: str) -> None:
    assert format_line(port, status) == line


def test_unknown_status_prints_unknown() -> None:
    assert format_line(7, EvtchnStatus(EvtchnStat.CLOSED, 0)) == "   7: VCPU 0: Unknown\n"


# ---------------------------------------------------------------- argv (strtol into domid_t)


@pytest.mark.parametrize(
    ("argv", "domid"),
    [
        (["lsevtchn"], 0),
        (["lsevtchn", "36"], 36),
        (["lsevtchn", "dom0"], 0),
        (["lsevtchn", "12abc"], 12),
        (["lsevtchn", "  7"], 7),
        (["lsevtchn", "+5"], 5),
        (["lsevtchn", "0x10"], 0),
        (["lsevtchn", "5", "extra", "--flag"], 5),
        (["lsevtchn", "-1"], 0xFFFF),
        (["lsevtchn", "65536"], 0),
        (["lsevtchn", "32752"], DOMID_SELF),
        (["lsevtchn", "99999999999999999999999"], 0xFFFF),
    ],
)
def test_domid_argument_reads_like_strtol_into_domid_t(argv: list[str], domid: int) -> None:
    assert parse_domid_arg(argv) == domid


def test_strtol_clamps_to_long() -> None:
    assert strtol10("-99999999999999999999999") == -(2**63)
    assert strtol10("") == 0


# ---------------------------------------------------------------- the walk


def test_seed_guest_lines_match_apart_from_dom0_ports() -> None:
    """The seed's PV guest (§10) rebuilt by hand shows the same eleven lines; only dom0 ports differ."""
    hv = dom0_host(baseline=50)
    pv_guest(hv, 36)
    out, err, rc = format_lsevtchn(hv, 36)
    assert (err, rc) == ("", 0)
    got = out.splitlines()
    want = SEED.read_text().splitlines()
    assert len(got) == len(want) == 11

    def without_dom0_port(line: str) -> str:
        return line.rsplit(", Port ", 1)[0]

    assert [without_dom0_port(x) for x in got] == [without_dom0_port(x) for x in want]
    # With a 50-port dom0 baseline the dom0 ports are exactly the seed's 51-56.
    assert out == SEED.read_text()


def test_dom0_line_count_is_its_used_ports() -> None:
    hv = dom0_host(baseline=40)
    pv_guest(hv, 1)
    pv_guest(hv, 2)
    out, _, rc = format_lsevtchn(hv, 0)
    assert rc == 0
    assert len(out.splitlines()) == 40 + 2 * 6 == hv.domain(0).active_evtchns


def test_closed_ports_print_nothing_and_walk_goes_past_them() -> None:
    hv = dom0_host(baseline=10)
    hv.close(0, 3)
    out, _, _ = format_lsevtchn(hv, 0)
    ports = [int(line.split(":")[0]) for line in out.splitlines()]
    assert ports == [1, 2, *range(4, 11)]


@pytest.mark.parametrize(("version", "valid"), [((4, 22), 192), ((4, 5), 256)])
def test_walk_covers_every_allocated_bucket(version: tuple[int, int], valid: int) -> None:
    """Buckets are 64 ports from 4.6, 128 before (§3); the walk lists every port below valid_evtchns."""
    hv = dom0_host(version, baseline=130)
    assert hv.valid_evtchns(0) == valid
    out, err, rc = format_lsevtchn(hv, 0, tool_version=(4, 20))
    assert (err, rc) == ("", 0)
    assert [int(x.split(":")[0]) for x in out.splitlines()] == list(range(1, 131))


def test_missing_domain_pre_420_tool_prints_nothing_and_exits_0() -> None:
    hv = dom0_host()
    assert format_lsevtchn(hv, 9, tool_version=(4, 19)) == ("", "", 0)


def test_missing_domain_420_tool_reports_perror_and_exits_1() -> None:
    hv = dom0_host()
    assert format_lsevtchn(hv, 9, tool_version=(4, 20)) == ("", "xc_evtchn_status: No such process\n", 1)


def test_domid_self_lists_dom0() -> None:
    hv = dom0_host(baseline=5)
    assert format_lsevtchn(hv, DOMID_SELF) == format_lsevtchn(hv, 0)


def _hvm_with_ioreq(version: tuple[int, int]) -> Hypervisor:
    """An HVM guest whose Xen-consumer ioreq port sits at 3, before ordinary ports (§2.9, §9.1)."""
    hv = dom0_host(version, baseline=4)
    hv.create_domain(5, is_hvm=True)
    hv.alloc_unbound(0, 5, 0)
    hv.alloc_unbound(0, 5, 0)
    hv.alloc_unbound_xen(5, 0, 0)
    hv.bind_interdomain(0, 5, 3)
    hv.bind_virq(5, 0, 0)
    hv.bind_ipi(5, 0)
    return hv


def test_xen_415_to_418_pre_420_tool_stops_at_the_xen_owned_port() -> None:
    out, err, rc = format_lsevtchn(_hvm_with_ioreq((4, 17)), 5, tool_version=(4, 17))
    assert (err, rc) == ("", 0)
    assert [int(x.split(":")[0]) for x in out.splitlines()] == [1, 2]


def test_xen_415_to_418_with_420_tool_skips_the_xen_owned_port() -> None:
    out, err, rc = format_lsevtchn(_hvm_with_ioreq((4, 17)), 5, tool_version=(4, 20))
    assert (err, rc) == ("", 0)
    assert [int(x.split(":")[0]) for x in out.splitlines()] == [1, 2, 4, 5]


def test_xen_419_shows_the_xen_owned_port() -> None:
    out, _, _ = format_lsevtchn(_hvm_with_ioreq((4, 19)), 5, tool_version=(4, 19))
    assert out.splitlines()[2] == "   3: VCPU 0: Interdomain (Connected) - Remote Domain 0, Port 5"


def test_no_dom0_fails_like_xc_interface_open() -> None:
    hv = Hypervisor()
    hv.create_domain(1)
    assert format_lsevtchn(hv, 1) == ("", "lsevtchn: failed to open control interface\n", 1)
