"""Parsers for captured text: lsevtchn, 'e' dumps, /proc/interrupts (reference §9, §10)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evtchn.inspect import Kind, ParseError, analyze, format_edump, format_lsevtchn, parse_file, parse_text
from evtchn.inspect.assemble import UNKNOWN_LINE
from evtchn.inspect.detect import read_lines
from evtchn.inspect.model import Dump, Source, Table
from evtchn.inspect.readers import edump_scan
from evtchn.inspect.readers import lsevtchn as lsevtchn_reader
from evtchn.inspect.readers.edump_scan import scan_edump_ports
from evtchn.inspect.readers.lsevtchn import scan_lsevtchn_ports
from evtchn.inspect.swar import split_lines
from tests.inspect.hosts import dom0_host, pv_guest

FIXTURES = Path(__file__).parent / "fixtures"
SEED = FIXTURES / "seed-lsevtchn-domid36.txt"
QUBES_FIFO = """\
(XEN)        1 [0/0/  -   ]: s=5 n=0 x=0 v=0
(XEN)        2 [0/1/  -   ]: s=6 n=0 x=0
(XEN)       15 [0/0/  -   ]: s=3 n=0 x=0 d=7 p=10
(XEN)       22 [0/0/  -   ]: s=2 n=0 x=0 d=0
"""


def _kinds(t: Table) -> list[str]:
    return [Kind(k).label for k in t.kind.tolist()]


def test_seed_fixture() -> None:
    dump = parse_file(SEED)
    assert dump.bad == [] and dump.cut == []
    (t,) = dump.tables
    assert (t.source, t.domid, len(t)) == (Source.LSEVTCHN, None, 11)
    assert t.port.tolist() == list(range(1, 12))
    assert _kinds(t) == ["interdomain"] * 2 + ["virq", "ipi", "ipi", "virq", "ipi"] + ["interdomain"] * 4
    to_dom0 = (t.kind == Kind.INTERDOMAIN) & (t.remote_dom == 0)
    assert int(to_dom0.sum()) == 6
    assert t.remote_port[to_dom0].tolist() == [51, 52, 55, 53, 54, 56]
    assert t.number[t.kind == Kind.VIRQ].tolist() == [0, 1]
    assert dump.accounted() == dump.lines == 11


def test_prompt_line_names_the_domain() -> None:
    text = "[root@xs62 ~]# /usr/lib/xen/bin/lsevtchn 36\n" + SEED.read_text()
    dump = parse_text(text)
    assert [t.domid for t in dump.tables] == [36]
    assert dump.recognised == 1


def test_concatenated_lsevtchn_outputs() -> None:
    hv = dom0_host(baseline=20)
    pv_guest(hv, 3)
    pv_guest(hv, 4)
    text = "".join(format_lsevtchn(hv, d).stdout for d in (0, 3, 4))
    dump = parse_text(text)
    assert [len(t) for t in dump.tables] == [32, 11, 11]
    # Anonymous tables: dom0's is recognised from where its channels lead.
    assert dump.tables[0].domid == 0 and dump.tables[0].domid_inferred
    text = "".join(f"$ lsevtchn {d}\n" + format_lsevtchn(hv, d).stdout for d in (0, 3, 4))
    assert [t.domid for t in parse_text(text).tables] == [0, 3, 4]


def test_real_fifo_sample_without_header() -> None:
    dump = parse_text(QUBES_FIFO)
    (t,) = dump.tables
    assert (t.source, t.domid, t.fifo) == (Source.EDUMP, None, True)
    assert _kinds(t) == ["virq", "ipi", "interdomain", "unbound"]
    assert t.remote_dom.tolist() == [-1, -1, 7, 0]
    assert t.remote_port.tolist() == [-1, -1, 10, -1]
    assert dump.layouts == {"4.4"}


@pytest.mark.parametrize("layout", ["4.1", "4.2", "4.4"])
@pytest.mark.parametrize("prefix", [False, True])
def test_formatted_dumps_parse_back(layout: str, prefix: bool) -> None:
    hv = dom0_host(baseline=30)
    for d in (1, 2, 3):
        pv_guest(hv, d)
    hv.bind_pirq(0, 9)
    dump = parse_text(format_edump(hv, layout=layout, prefix=prefix))  # type: ignore[arg-type]
    assert dump.bad == [] and dump.cut == [] and dump.layouts == {layout}
    assert [t.domid for t in dump.tables] == [0, 1, 2, 3]
    dom0 = dump.tables[0]
    assert len(dom0) == hv.domain(0).active_evtchns
    assert dom0.remote_counts() == {1: 6, 2: 6, 3: 6}
    assert dom0.kind_counts()[Kind.PIRQ] == 1
    assert dump.accounted() == dump.lines


def test_timestamps_are_stripped() -> None:
    hv = dom0_host(baseline=5)
    pv_guest(hv, 1)
    plain = format_edump(hv, prefix=True)
    stamped = "".join(
        line.replace("(XEN) ", f"(XEN) [2024-05-01 10:00:{i % 60:02d}.{i:03d}] ", 1)
        for i, line in enumerate(plain.splitlines(keepends=True))
    )
    lines = split_lines(stamped.encode())
    ok, _cols, _layouts = scan_edump_ports(lines)
    assert int(ok.sum()) == sum(hv.domain(d).active_evtchns for d in hv.domains)  # the scanner took them
    a, b = parse_text(plain), parse_text(stamped)
    assert [(t.domid, t.port.tolist(), t.kind.tolist()) for t in a.tables] == [
        (t.domid, t.port.tolist(), t.kind.tolist()) for t in b.tables
    ]
    assert b.bad == []


def test_xl_dmesg_noise_is_counted_not_reported() -> None:
    hv = dom0_host(baseline=5)
    text = (
        "(XEN) Xen version 4.17.3 (mockbuild@) (gcc) debug=n Tue Jan  2 2024\n"
        "(XEN) Command line: dom0_mem=4096M\n"
        + format_edump(hv, prefix=True)
        + "(XEN) *** Serial input to DOM0\n"
    )
    dump = parse_text(text)
    # The version banner is evidence for the ABI (Xen >= 4.4 may run FIFO), the rest is other output.
    assert dump.bad == [] and dump.other == 2
    assert [(e.kind, e.value, e.lineno) for e in dump.evidence] == [("xen-version", "4.17", 1)]


def test_wrapped_ring_cuts_first_and_last_line() -> None:
    hv = dom0_host(baseline=40)
    pv_guest(hv, 1)
    text = format_edump(hv, prefix=True)
    lines = text.splitlines(keepends=True)
    # The ring kept only the tail: the dump starts mid-way through dom0's table, mid-line.
    start = next(i for i, line in enumerate(lines) if "      20 [" in line)
    cut = lines[start][11:] + "".join(lines[start + 1 :])
    cut = cut[: -len(lines[-1]) // 2]
    dump = parse_text(cut)
    assert dump.bad == []
    assert [b.lineno for b in dump.cut] == [1, cut.count("\n") + 1]
    head = dump.tables[0]
    assert head.domid == 0 and head.domid_inferred  # peers in domain 1 point back at it
    assert head.port.tolist()[0] == 21
    a = analyze(dump)
    assert a.dom0_partial and a.dom0_total == hv.domain(0).active_evtchns - 20
    assert any("lower bound" in n for n in a.notes)


def test_garbled_lines_are_reported_with_line_numbers() -> None:
    hv = dom0_host(baseline=5)
    lines = format_edump(hv).splitlines(keepends=True)
    lines.insert(5, "       9 [0/0/0]: s=9 n=0 x=0\n")
    lines.insert(7, "random words here\n")
    lines.insert(8, "       7 [0/0/0]: s=3 n=0 x=0 d=\n")
    dump = parse_text("".join(lines) + "       8 [0/0/0]: s=6 n=0 x=0\n")
    assert [(b.lineno, b.reason) for b in dump.bad] == [
        (6, "unknown state s=9"),
        (8, UNKNOWN_LINE),
        (9, "fields after s=3 do not match any layout"),
    ]
    assert len(dump.tables[0]) == 6
    assert dump.accounted() == dump.lines


@pytest.mark.parametrize("fast", [True, False])
def test_numbers_past_32_bits_are_garbled_lines_not_a_crash(fast: bool) -> None:
    """No tool prints a number wider than a 32-bit C integer; such a line is reported, never a crash."""
    big = "9" * 20
    e = format_edump(dom0_host(baseline=3)).splitlines(keepends=True)
    e[4:4] = [
        f"      {n} [0/0/0]: {f}\n"
        for n, f in (
            (7, f"s=3 n=0 x=0 d={big} p=5"),
            (8, f"s=3 n=0 x=0 d=1 p={big}"),
            (9, f"s=5 n={big} x=0 v=0"),
        )
    ]
    ls = SEED.read_text().splitlines(keepends=True)
    ls[2:2] = [
        f"  12: VCPU 0: Interdomain (Connected) - Remote Domain {big}, Port 3\n",
        f"{big}: VCPU 0: IPI\n",
        f"  13: VCPU 0: Virtual IRQ {big}\n",
    ]
    irq = (FIXTURES / "proc-interrupts-dom0.txt").read_text().splitlines(keepends=True)
    irq.insert(2, f" 999:          5  xen-dyn    -event     vif{big}.0-q0\n")
    for lines, kept, at in ((e, 3, 5), (ls, 11, 3), (irq, 17, 3)):
        dump = parse_text("".join(lines), fast=fast)
        bad = [(b.lineno, b.reason) for b in dump.bad]
        n = 1 if lines is irq else 3
        assert bad == [(at + k, "a number does not fit in 32 bits") for k in range(n)]
        assert sum(len(t) for t in dump.tables) == kept
        analyze(dump).to_json()


def test_proc_interrupts() -> None:
    dump = parse_file(FIXTURES / "proc-interrupts-dom0.txt")
    assert dump.bad == []
    (t,) = dump.tables
    assert (t.source, t.domid) == (Source.INTERRUPTS, 0)
    assert {k.label: n for k, n in t.kind_counts().items()} == {
        "pirq": 4,
        "virq": 4,
        "ipi": 3,
        "interdomain": 6,
    }
    assert t.remote_counts() == {5: 2}
    assert t.names is not None and "evtchn:xenstored" in t.names
    assert dump.accounted() == dump.lines


def test_not_a_known_format_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "notes.txt"
    p.write_text("hello\nworld\n")
    with pytest.raises(
        ParseError, match=r"notes.txt: no lsevtchn, .* it looks like text starting 'hello' \(2"
    ):
        parse_file(p)
    with pytest.raises(ParseError, match="cannot read"):
        parse_file(tmp_path / "missing.txt")
    with pytest.raises(ParseError):
        parse_text("")


def test_pipes_and_zero_size_files_are_read_to_the_end(tmp_path: Path) -> None:
    """`evtchn analyze <(lsevtchn 0)` or /dev/stdin is a pipe, and /proc/interrupts reports size 0:
    all are read as streams, not as empty files."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(SEED.read_bytes()))
    writer.start()
    try:
        (t,) = parse_file(fifo).tables
    finally:
        writer.join()
    assert len(t) == 11 and t.remote_port.tolist()[-1] == 56
    proc = Path("/proc/self/status")  # a /proc file: size 0, text when read
    if proc.exists():
        with pytest.raises(ParseError, match=r"it looks like .* \((?!0 )\d+ unrecognised lines\)"):
            parse_file(proc)


def test_crlf_and_no_final_newline() -> None:
    text = SEED.read_text().replace("\n", "\r\n").rstrip("\r\n")
    (t,) = parse_text(text).tables
    assert len(t) == 11 and t.remote_port.tolist()[-1] == 56


# ---------------------------------------------------------------- properties


def _tables(d: Dump) -> list[tuple[object, ...]]:
    return [
        (
            t.source,
            t.domid,
            t.port.tolist(),
            t.kind.tolist(),
            t.vcpu.tolist(),
            t.remote_dom.tolist(),
            t.remote_port.tolist(),
            t.number.tolist(),
            t.xen.tolist(),
            t.fifo,
        )
        for t in d.tables
    ]


_PORT_LINE = st.builds(
    lambda port, p, m, abi, s, n, x, d, rp, layout, pre: _e_line(
        port, p, m, abi, s, n, x, d, rp, layout, pre
    ),
    st.integers(1, 131071),
    st.integers(0, 1),
    st.integers(0, 1),
    st.sampled_from(["0", "1", "?     ", "  -   ", "B -   ", "  12  ", "B 9999", "  131071"]),
    st.integers(2, 6),
    st.integers(0, 130),
    st.integers(0, 12),
    st.integers(0, 32767),
    st.integers(0, 131071),
    st.sampled_from(["4.1", "4.2", "4.4"]),
    st.sampled_from(["", "(XEN) ", "(XEN) [  12.345] "]),
)


def _e_line(
    port: int, p: int, m: int, abi: str, s: int, n: int, x: int, d: int, rp: int, layout: str, pre: str
) -> str:
    suffix = {
        2: f" d={d}",
        3: f" d={d} p={rp}",
        4: f" p={rp}" + (f" i={d}" if layout != "4.1" else ""),
        5: f" v={rp % 24}",
        6: "",
    }[s]
    if layout == "4.1":
        return f"{pre}    {port:4d} [{p}/{m}]: s={s} n={n}{suffix} x={x}\n"
    mid = f"[{p}/{m}]" if layout == "4.2" else f"[{p}/{m}/{abi}]"
    return f"{pre}    {port:4d} {mid}: s={s} n={n} x={x}{suffix}\n"


_FRAME_LINE = st.builds(
    lambda pre, text: pre + text + "\n",
    st.sampled_from(["", "(XEN) "]),
    st.one_of(
        st.sampled_from(
            [
                "'e' pressed -> dumping event-channel info",
                "'*' pressed -> dumping event-channel info",
                "    port [p/m/s]",
                "    port [p/m]",
                "    port [p/m/s",
                "Polling vCPUs: {}",
                "Polling vCPUs: {0-3,7}",
                "Polling vCPUs: {0",
                "Domain 3 polling vCPUs: 00000000",
            ]
        ),
        st.integers(0, 10**8).map(lambda d: f"Event channel information for domain {d}:"),
    ),
)


_LS_LINE = st.builds(
    lambda port, vcpu, body, a, b: f"{port:4d}: VCPU {vcpu}: " + body.format(a=a, b=b) + "\n",
    st.integers(1, 2_000_000),
    st.integers(0, 130),
    st.sampled_from(
        [
            "Interdomain (Connected) - Remote Domain {a}, Port {b}",
            "Interdomain (Waiting connection) - Remote Domain {a}",
            "Virtual IRQ {a}",
            "Physical IRQ {b}",
            "IPI",
            "Unknown",
            "IPI ",
            "Interdomain (Connected) - Remote Domain {a}",
            "Virtual IRQ",
        ]
    ),
    st.integers(0, 40000),
    st.integers(0, 10**8),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            _PORT_LINE,
            _PORT_LINE,
            _FRAME_LINE,
            _LS_LINE,
            _LS_LINE,
            st.just("# lsevtchn 7\n"),
            st.text(max_size=60).map(lambda t: t.replace("\n", " ") + "\n"),
        ),
        max_size=40,
    )
)
def test_fast_scanner_agrees_with_line_parser(lines: list[str]) -> None:
    text = "Event channel information for domain 3:\n" + "".join(lines)
    fast, slow = parse_text(text), parse_text(text, fast=False)
    assert _tables(fast) == _tables(slow)
    assert [(b.lineno, b.reason) for b in fast.bad] == [(b.lineno, b.reason) for b in slow.bad]
    assert (fast.recognised, fast.layouts, fast.accounted()) == (
        slow.recognised,
        slow.layouts,
        slow.accounted(),
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(_PORT_LINE, _PORT_LINE, _FRAME_LINE, st.just("\n")), max_size=40))
def test_whole_dump_assembly_agrees_with_line_parser(lines: list[str]) -> None:
    """Files of nothing but 'e' lines take the all-at-once table assembly; it must agree too."""

    def outcome(fast: bool) -> object:
        try:
            d = parse_text("".join(lines), fast=fast)
        except ParseError as e:
            return str(e)
        return _tables(d), d.recognised, d.blank, d.layouts, len(d.bad), len(d.cut)

    assert outcome(True) == outcome(False)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            _LS_LINE,
            _LS_LINE,
            _LS_LINE,
            st.integers(0, 70000).map(lambda d: f"[root@host ~]# /usr/lib/xen/bin/lsevtchn {d}\n"),
            st.sampled_from(
                ["# lsevtchn\n", "$ lsevtchn abc\n", "\n", "xc_evtchn_status: No such process\n"]
            ),
        ),
        max_size=40,
    )
)
def test_whole_lsevtchn_assembly_agrees_with_line_parser(lines: list[str]) -> None:
    """Files of nothing but lsevtchn output take the all-at-once table assembly; it must agree too."""

    def outcome(fast: bool) -> object:
        try:
            d = parse_text("".join(lines), fast=fast)
        except ParseError as e:
            return str(e)
        return _tables(d), d.recognised, d.blank, d.notes, len(d.bad)

    assert outcome(True) == outcome(False)


def test_repeated_dumps_with_empty_domains() -> None:
    hv = dom0_host(baseline=7)
    hv.create_domain(4)  # no ports at all
    pv_guest(hv, 5)
    text = (format_edump(hv, prefix=True) + "\n") * 3
    fast, slow = parse_text(text), parse_text(text, fast=False)
    assert _tables(fast) == _tables(slow)
    assert [(t.domid, len(t)) for t in fast.tables] == [(0, 13), (4, 0), (5, 11)] * 3
    assert fast.accounted() == fast.lines


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(st.text(max_size=80), st.binary(max_size=80).map(lambda b: b.decode("latin-1"))),
        max_size=30,
    )
)
def test_garbage_never_crashes_and_every_line_is_accounted(chunks: list[str]) -> None:
    text = SEED.read_text() + "\n".join(chunks) + "\n" + QUBES_FIFO
    dump = parse_text(text)
    assert dump.accounted() == dump.lines
    for b in dump.bad:
        assert 1 <= b.lineno <= dump.lines
    assert sum(len(t) for t in dump.tables) >= 11


@pytest.mark.parametrize("layout", ["4.1", "4.2", "4.4"])
def test_scanner_takes_every_port_line_of_a_formatted_dump(layout: str) -> None:
    """The vectorised scanner, not the per-line fallback, reads the simulator's dumps (incl. FIFO)."""
    fifo = layout == "4.4"
    hv = dom0_host(baseline=12000 if fifo else 900, vcpus=12, fifo_pages=12 if fifo else 0)
    for d in (1, 20000):
        pv_guest(hv, d)
    lines = split_lines(format_edump(hv, layout=layout, prefix=True).encode())  # type: ignore[arg-type]
    ok, cols, layouts = scan_edump_ports(lines)
    assert layouts == {layout}
    ports = sum(hv.domain(d).active_evtchns for d in hv.domains)
    assert int(ok.sum()) == ports
    assert cols["port"][ok].max() == max(p.port for p in hv.dump_domain(0))
    assert set(cols["vcpu"][ok].tolist()) == set(range(12))
    assert 20000 in cols["rdom"][ok].tolist()


def test_scanner_takes_every_lsevtchn_line() -> None:
    hv = dom0_host(baseline=11000, vcpus=12, fifo_pages=11)
    hv.bind_pirq(0, 9)
    hv.alloc_unbound(0, 0, 5)
    for d in (1, 20000):
        pv_guest(hv, d)
    text = "".join(format_lsevtchn(hv, d).stdout for d in (0, 1, 20000))
    lines = split_lines(text.encode())
    ok, cols = scan_lsevtchn_ports(lines, np.arange(len(lines)))
    assert ok.all()
    assert set(cols["kind"].tolist()) == {1, 2, 3, 4, 5}
    assert cols["port"].max() == 11000 + 2 + 12 and 20000 in cols["rdom"].tolist()
    dump = parse_text(text)
    assert [len(t) for t in dump.tables] == [hv.domain(d).active_evtchns for d in (0, 1, 20000)]


def test_fast_path_handles_a_large_clean_dump() -> None:
    hv = dom0_host(baseline=1500, vcpus=4)
    text = format_edump(hv, prefix=True)
    dump = parse_text(text)
    assert len(dump.tables[0]) == 1500 and dump.bad == []
    assert np.array_equal(dump.tables[0].port, np.arange(1, 1501))


def test_a_big_file_is_scanned_as_its_text_is(tmp_path: Path) -> None:
    """parse_file reads a big capture into mapped memory rather than bytes: the scanners still take
    every port line (the fast path, not the per-line fallback) and the result is parse_text's."""
    hv = dom0_host(baseline=12000, vcpus=12, fifo_pages=12)
    for d in (1, 2, 3):
        pv_guest(hv, d)
    text = format_edump(hv, prefix=True) * 4
    path = tmp_path / "big-dump.txt"
    path.write_text(text)
    assert path.stat().st_size > 1 << 20
    ok, _cols, _layouts = scan_edump_ports(read_lines(path))
    assert int(ok.sum()) == 4 * sum(hv.domain(d).active_evtchns for d in hv.domains)
    got, want = parse_file(path), parse_text(text)
    assert [(t.domid, t.line, t.port.tolist(), t.remote_dom.tolist()) for t in got.tables] == [
        (t.domid, t.line, t.port.tolist(), t.remote_dom.tolist()) for t in want.tables
    ]
    ls = "".join(format_lsevtchn(hv, d).stdout for d in sorted(hv.domains)) * 8
    path.write_text(ls)
    assert path.stat().st_size > 1 << 20
    lines = read_lines(path)
    ok_ls, _ = scan_lsevtchn_ports(lines, np.arange(len(lines)))
    assert ok_ls.all()


def _mutate(line: str, at: int, how: int, ch: str) -> str:
    """A near miss: one character of a good line replaced, dropped or doubled (a cut or garbled
    capture), so the scanners' byte tests meet every position of every shape."""
    body = line.rstrip("\n")
    if not body:
        return line
    i = at % len(body)
    if how == 0:
        body = body[:i] + ch + body[i + 1 :]
    elif how == 1:
        body = body[:i] + body[i + 1 :]
    else:
        body = body[:i] + body[i] + body[i:]
    return body + "\n"


# Kernel and Xen console log lines (Linux prints "[%5lu.%06lu] ", wider after 27 hours up).
_LOG_LINE = st.builds(
    lambda pre, sec, frac, text: f"{pre}[{sec:5d}.{frac:06d}] {text}\n",
    st.sampled_from(["", "(XEN) "]),
    st.integers(0, 10**8 - 1),
    st.integers(0, 999999),
    st.sampled_from(["pci 0000:00:1f.0: [8086:1000] type 00", "Xen version 4.17.3", "x", "    12 [0/0]"]),
)
_NEAR_MISS = st.builds(
    _mutate,
    st.one_of(_PORT_LINE, _LS_LINE, _LOG_LINE),
    st.integers(0, 200),
    st.integers(0, 2),
    st.sampled_from(list(" 0159]:=/[-pxnsdviZ\r\t")),
)
# Shapes the simple strategies above do not make: an XSM label after x= (4.2+), CRLF endings,
# leading zeros, vCPUs of three digits, ports past the %4u field.
_ODD_PORT_LINE = st.builds(
    lambda port, n, tail, crlf: (
        f"(XEN)     {port} [0/0/1]: s=5 n={n} x=0 v=1{tail}" + ("\r\n" if crlf else "\n")
    ),
    st.sampled_from(["1", "0001", "  17", "123456", "1234567", "99999"]),
    st.sampled_from(["0", "7", "12", "099", "127", "1234567"]),
    st.sampled_from(["", " Z=system_u:system_r:domU_t", " Z=", " x=1"]),
    st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(_PORT_LINE, _PORT_LINE, _NEAR_MISS, _ODD_PORT_LINE, _FRAME_LINE, _LS_LINE, _LOG_LINE),
        max_size=60,
    ),
    st.integers(1, 9),
)
def test_scanners_agree_with_line_parser_across_chunks(lines: list[str], chunk: int) -> None:
    """The scanners work through a big file in chunks, leaving rare shapes (a second field where few
    lines have one, 4.1's x= last, XSM labels) to one pass over every chunk's leftovers: with chunks
    of a few lines, every line sits near a chunk edge and both ways of reading the second field are
    taken. Whatever the scanners take must read as the per-line parser reads it."""
    text = "Event channel information for domain 3:\n" + "".join(lines)
    with patch.object(edump_scan, "CHUNK", chunk), patch.object(lsevtchn_reader, "CHUNK", chunk):
        fast = parse_text(text)
    slow = parse_text(text, fast=False)
    assert _tables(fast) == _tables(slow)
    assert [(b.lineno, b.reason) for b in fast.bad] == [(b.lineno, b.reason) for b in slow.bad]
    assert (fast.recognised, fast.layouts, fast.accounted()) == (
        slow.recognised,
        slow.layouts,
        slow.accounted(),
    )
