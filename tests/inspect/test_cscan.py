"""The compiled line scanner (`_cscan.c`) against the numpy scanners it replaces and the per-line parser.

Every line the C scanner takes must read as the per-line parser reads it (readers/edump.py,
readers/lsevtchn.py); every line the numpy scanner takes the C scanner takes too, with the same
columns; line splitting and quiet-line recognition give the same arrays both ways; whole parses agree
with the fallback forced (EVTCHN_NO_CSCAN=1) and with the per-line parser. Lines come from the
strategies of test_parse.py (formatted lines of every layout, one-byte near misses, odd shapes) plus
bytes the formatter never prints (NUL, CR, long numbers, very long lines).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evtchn.inspect import cscan, parse_text
from evtchn.inspect.model import Dump
from evtchn.inspect.quiet import quiet_lines
from evtchn.inspect.readers import edump as edump_reader
from evtchn.inspect.readers import lsevtchn as lsevtchn_reader
from evtchn.inspect.readers.base import TOO_BIG
from evtchn.inspect.readers.edump_scan import scan_edump_ports
from evtchn.inspect.readers.lsevtchn import scan_lsevtchn_ports
from evtchn.inspect.swar import Lines, body_start, split_lines
from tests.inspect.test_parse import (
    _FRAME_LINE,
    _LOG_LINE,
    _LS_LINE,
    _NEAR_MISS,
    _ODD_PORT_LINE,
    _PORT_LINE,
    _tables,
)

pytestmark = pytest.mark.skipif(cscan._mod is None, reason="the C scanner is not built")


@contextmanager
def numpy_only() -> Iterator[None]:
    with patch.dict(os.environ, {cscan.ENV_OFF: "1"}):
        assert not cscan.enabled()
        yield


@contextmanager
def c_scanner() -> Iterator[None]:
    with patch.dict(os.environ, {cscan.ENV_OFF: ""}):
        assert cscan.enabled()
        yield


def _both_splits(data: bytes) -> tuple[Lines, Lines]:
    with c_scanner():
        c = split_lines(data)
    with numpy_only():
        n = split_lines(data)
    return c, n


def _eol(lines: Lines, i: int) -> int:
    s, e = int(lines.starts[i]), int(lines.ends[i])
    return e - 1 if e > s and lines.data[e - 1] == 13 else e


def _check_edump(lines: Lines) -> None:
    with c_scanner():
        c_ok, c_cols, c_layouts = scan_edump_ports(lines)
    with numpy_only():
        n_ok, n_cols, n_layouts = scan_edump_ports(lines)
    if not n_cols["port"].shape[0]:  # no "]: s=" anywhere: both skip the scan
        assert not c_cols["port"].shape[0] and not c_ok.any()
        return
    # Where each line's text starts is the same on every line (scan_edump_frames reads it).
    assert c_cols["body"].tolist() == n_cols["body"].tolist()
    assert not (n_ok & ~c_ok).any(), "a line the numpy scanner takes, the C scanner leaves"
    for k in ("port", "kind", "vcpu", "rdom", "rport", "num", "xen", "abi"):
        assert c_cols[k][n_ok].tolist() == n_cols[k][n_ok].tolist(), k
    assert n_layouts <= c_layouts
    for i in np.flatnonzero(c_ok).tolist():
        b = int(c_cols["body"][i])
        text = bytes(lines.data[b : _eol(lines, i)]).decode("utf-8", "replace")
        got = edump_reader.port_line(text)
        assert not isinstance(got, str), (text, got)
        row, layout, abi = got
        want = (row.port, row.kind, row.vcpu, row.rdom, row.rport, row.number, row.xen, abi)
        keys = ("port", "kind", "vcpu", "rdom", "rport", "num", "xen", "abi")
        have = tuple(int(c_cols[k][i]) for k in keys)
        assert have == want, text
        if layout:
            assert layout in c_layouts


def _check_ls(lines: Lines) -> None:
    cand = np.arange(len(lines), dtype=np.int64)
    with c_scanner():
        c_ok, c_cols = scan_lsevtchn_ports(lines, cand)
    with numpy_only():
        n_ok, n_cols = scan_lsevtchn_ports(lines, cand)
    assert not (n_ok & ~c_ok).any(), "a line the numpy scanner takes, the C scanner leaves"
    for k in ("port", "kind", "vcpu", "rdom", "rport", "num"):
        assert c_cols[k][n_ok].tolist() == n_cols[k][n_ok].tolist(), k
    for i in np.flatnonzero(c_ok).tolist():
        text = lines.text(i)
        m = lsevtchn_reader._LS_LINE.match(text)
        assert m is not None, text
        row = lsevtchn_reader.port_line(m)
        assert not isinstance(row, str), (text, row)
        want = (row.port, row.kind, row.vcpu, row.rdom, row.rport, row.number)
        have = tuple(int(c_cols[k][i]) for k in ("port", "kind", "vcpu", "rdom", "rport", "num"))
        assert have == want, text


def _check_quiet(lines: Lines) -> None:
    idx = np.arange(len(lines), dtype=np.int64)
    eol = np.array([_eol(lines, i) for i in range(len(lines))], dtype=np.int64)
    body = body_start(lines, lines.starts, eol)
    with c_scanner():
        c = quiet_lines(lines, idx, body)
    with numpy_only():
        n = quiet_lines(lines, idx, body)
    assert c.tolist() == n.tolist()


def _outcome(d: Dump) -> object:
    return (
        _tables(d),
        [(b.lineno, b.reason) for b in d.bad],
        d.recognised,
        d.layouts,
        d.accounted(),
        d.blank,
        d.other,
        d.notes,
    )


def _check_parse(data: bytes) -> None:
    with c_scanner():
        c = parse_text(data)
    with numpy_only():
        n = parse_text(data)
    slow = parse_text(data, fast=False)
    assert _outcome(c) == _outcome(n)
    assert _tables(c) == _tables(slow)
    assert [(b.lineno, b.reason) for b in c.bad] == [(b.lineno, b.reason) for b in slow.bad]


def check_all(data: bytes) -> None:
    c, n = _both_splits(data)
    assert c.starts.tolist() == n.starts.tolist()
    assert c.ends.tolist() == n.ends.tolist()
    _check_edump(c)
    _check_ls(c)
    _check_quiet(c)


# Bytes the formatter never prints, in the places the scanners look.
_ODD_BYTES = st.builds(
    lambda line, at, junk: line[: at % max(len(line), 1)] + junk + line[at % max(len(line), 1) :],
    st.one_of(_PORT_LINE, _LS_LINE, _LOG_LINE),
    st.integers(0, 200),
    st.sampled_from(["\0", "\r", "\r\r", "é", "١", "9" * 12, "0" * 30, "]", " Z=\0"]),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            _PORT_LINE, _NEAR_MISS, _ODD_PORT_LINE, _ODD_BYTES, _FRAME_LINE, _LS_LINE, _LS_LINE, _LOG_LINE
        ),
        max_size=60,
    ),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
)
def test_c_scanner_agrees_with_numpy_and_line_parser(lines: list[str], eol: str, last_newline: bool) -> None:
    text = "Event channel information for domain 3:\n" + "".join(lines).replace("\n", eol)
    if not last_newline:
        text = text.rstrip("\r\n")
    data = text.encode("utf-8", "surrogateescape")
    check_all(data)
    _check_parse(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\n",
        b"\n\n\r\n",
        b"    1 [0/0/1]: s=5 n=0 x=0 v=0",  # no final newline
        b"    1 [0/0/1]: s=5 n=0 x=0 v=0\r\n   2: VCPU 0: IPI\r\n",
        b"    1 [0/0/1]: s=5 n=0 x=0 v=0\0\n   2: VCPU 0: IPI\0\n\0\n",
        b"    1 [0/0/1]: s=5 n=0 x=0 v=" + b"7" * 5000 + b"\n",  # past int()'s 4300 digits
        b"    " + b"1" * 5000 + b" [0/0/1]: s=5 n=0 x=0 v=0\n",
        b"   " + b"1" * 5000 + b": VCPU 0: IPI\n",
        b"    4294967296 [0/0/1]: s=5 n=0 x=0 v=0\n   4294967296: VCPU 0: IPI\n",
        b"    999999999 [0/0/1]: s=5 n=0 x=0 v=0\n   999999999: VCPU 0: IPI\n",
        b"(XEN) [" + b"1" * 200_000 + b"]     1 [0/0/1]: s=5 n=0 x=0 v=0\n",  # a very long line
        b"(XEN) [    1.000000]     1 [0/0/1]: s=5 n=0 x=0 v=0 Z=" + b"x" * 100_000 + b"\n",
        b"    1 [0/0/" + b"?" * 70_000 + b"]: s=5 n=0 x=0 v=0\n",
        b"(XEN)     1 [0/0/1]: s=5 n=0 x=0 v=0\n(XEN) [    1.000000]     2 [0/0]: s=4 n=1 p=3 x=1\n",
        b"[    1.234567] mapping failed\n[    1.234567] all fine\n(XEN) [   1.2] Xen version 4.17\n",
    ],
)
def test_edge_cases(data: bytes) -> None:
    check_all(data)
    try:
        _check_parse(data)
    except Exception as e:  # a file of nothing known: both ways the same error
        with numpy_only(), pytest.raises(type(e)):
            parse_text(data)


def test_huge_numbers_are_garbled_lines_both_ways() -> None:
    """Numbers past 32 bits (or int()'s digit limit) are left to the per-line parser: a bad line."""
    head = b"Event channel information for domain 0:\n    1 [0/0/1]: s=5 n=0 x=0 v="
    data = head + b"7" * 5000 + b"\n    2 [0/0/1]: s=6 n=0 x=0\n"  # not the last line: that one may be cut
    for scanner in (c_scanner, numpy_only):
        with scanner():
            d = parse_text(data)
        assert [(b.lineno, b.reason) for b in d.bad] == [(2, TOO_BIG)]
        assert d.ports == 1


def test_fallback_is_forced_by_the_environment() -> None:
    with numpy_only():
        assert cscan.name().startswith("numpy")
    with c_scanner():
        assert cscan.name().startswith("C")
