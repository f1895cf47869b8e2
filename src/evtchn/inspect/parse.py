"""Parsers for text captured on real hosts: lsevtchn, the 'e' dump, a dom0's /proc/interrupts (§9).

    dump = parse_file("xl-dmesg.txt")       # Dump(tables=[Table(...)], bad=[...], cut=[...], ...)
    dump = parse_text(b"   1: VCPU 0: IPI\n")

One file may hold any mix: several lsevtchn outputs one after another (with or without the shell prompt
that names the domid), an `xl dmesg` with one or more 'e' dumps among other console output (with or
without "(XEN) " prefixes and timestamps; 4.1 `[p/m]` and 4.4+ `[p/m/s]` layouts; the first or last line
cut by a wrapped console ring), and /proc/interrupts. Unknown or garbled lines are reported with their
line numbers and never stop the parse; a file with nothing recognisable is a ParseError.

Large 'e' dumps go through the vectorised scanner in `fastscan.py`; every other line comes here.
"""

from __future__ import annotations

import itertools
import os
import re
import stat
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from evtchn.inspect.cparse import strtol10
from evtchn.inspect.fastscan import (
    FRAME_DOMAIN,
    FRAME_HEADER_NEW,
    FRAME_PRESSED,
    Lines,
    padded_size,
    scan_edump_frames,
    scan_edump_ports,
    scan_lsevtchn_ports,
    split_lines,
)
from evtchn.inspect.model import NONE, BadLine, Columns, Dump, IntArray, Kind, ParseError, Source, Table

# ---------------------------------------------------------------- line grammars

_CONSOLE = re.compile(r"^\(XEN\) (?:\[[^\]]*\] )?")
_E_PRESSED = re.compile(r"^'(.)' pressed -> dumping event-channel info$")
_E_DOMAIN = re.compile(r"^Event channel information for domain (\d+):$")
_E_POLL = re.compile(r"^(?:Polling vCPUs: \{.*\}|Domain \d+ polling vCPUs: [0-9a-f]+)$")
_E_HEADER = re.compile(r"^ {4}port \[p/m(/s)?\]$")
_E_PORT = re.compile(r"^ {4} *(\d+) \[([01])/([01])(?:/([^\]]*))?\]: s=(\d+) n=(\d+)(.*)$")
_E_SUFFIX = {
    2: r" d=(?P<d>\d+)",
    3: r" d=(?P<d>\d+) p=(?P<p>\d+)",
    4: r" p=(?P<p>\d+)(?: i=(?P<i>\d+))?",
    5: r" v=(?P<v>\d+)",
    6: r"",
}
_E_REST_NEW = {s: re.compile(r"^ x=(?P<x>\d+)" + suf + r"(?: Z=\S.*)?$") for s, suf in _E_SUFFIX.items()}
_E_REST_OLD = {
    s: re.compile(r"^" + suf.replace(r"(?: i=(?P<i>\d+))?", "") + r" x=(?P<x>\d+)$")
    for s, suf in _E_SUFFIX.items()
}

_LS_LINE = re.compile(r"^ *(\d+): VCPU (\d+): (.*)$")
_LS_BODY: list[tuple[re.Pattern[str], Kind]] = [
    (re.compile(r"^Interdomain \(Connected\) - Remote Domain (\d+), Port (\d+)$"), Kind.INTERDOMAIN),
    (re.compile(r"^Interdomain \(Waiting connection\) - Remote Domain (\d+)$"), Kind.UNBOUND),
    (re.compile(r"^Virtual IRQ (\d+)$"), Kind.VIRQ),
    (re.compile(r"^Physical IRQ (\d+)$"), Kind.PIRQ),
    (re.compile(r"^IPI$"), Kind.IPI),
    (re.compile(r"^Unknown$"), Kind.UNKNOWN),
]
_LS_COMMAND = re.compile(r"(?:^|[\s/#$>])lsevtchn(?:\s+(\S+))?(?:\s.*)?$")
_LS_ERROR = re.compile(r"^(?:xc_evtchn_status: .*|lsevtchn: failed to open control interface)$")

_IRQ_HEADER = re.compile(r"^\s*(?:CPU\d+\s*)+$")
_IRQ_ROW = re.compile(r"^\s*(\d+):((?:\s+\d+)*)\s+(\S.*)$")
_IRQ_SUMMARY = re.compile(r"^\s*[A-Za-z][A-Za-z0-9]{1,5}:(?:\s+\d+)*(?:\s+\S.*)?$")
_VIF = re.compile(r"^vif(\d+)\.\d+")
# Linux action names of per-CPU VIRQs and IPIs (§9.3) and of dom0's global VIRQs (§6).
_PERCPU_VIRQ = {"timer": 0, "debug": 1}
_GLOBAL_VIRQ = {"hvc_console": 2, "xen-pcpu": 9, "mce": 16}
# Every number the tools print is a 32-bit C integer; a longer one is a garbled line, not a port.
_U32_MAX = 0xFFFF_FFFF
_TOO_BIG = "a number does not fit in 32 bits"


def _int(text: str) -> int:
    """A captured decimal field; past 20 digits it is only "too big" (and int() would refuse > 4300)."""
    return int(text) if len(text) <= 20 else _U32_MAX + 1


def _too_big(row: _Row) -> bool:
    return max(row.port, row.vcpu, row.rdom, row.rport, row.number, row.xen) > _U32_MAX


# ---------------------------------------------------------------- per-line results


@dataclass(slots=True)
class _Row:
    """One port from a line, in the common column set."""

    port: int
    kind: int
    vcpu: int
    rdom: int = NONE
    rport: int = NONE
    number: int = NONE
    xen: int = NONE
    name: str = ""


@dataclass(slots=True)
class _Chunk:
    """Ports for one table: slow rows, or a fast block of lines [a, b) from the scanner."""

    rows: list[_Row] = field(default_factory=list)
    block: tuple[int, int] | None = None
    store: str = "e"  # the block's columns: "e" (lines) or "ls" (lsevtchn rows)


def _e_port(body: str) -> tuple[_Row, str, int] | str:
    """An 'e' port line (prefix removed) → (row, layout, ABI width) or the reason it is not one."""
    m = _E_PORT.match(body)
    if m is None:
        return "not a port line"
    port, _pend, _mask, abi, s_txt, n_txt, rest = m.groups()
    s = _int(s_txt)
    if s not in _E_SUFFIX:
        return f"unknown state s={s}"
    new = _E_REST_NEW[s].match(rest)
    old = None if new or abi is not None else _E_REST_OLD[s].match(rest)
    hit = new or old
    if hit is None:
        return f"fields after s={s} do not match any layout"
    g = hit.groupdict()

    def num(key: str) -> int:
        v = g.get(key)
        return _int(v) if v is not None else NONE

    number = num("v") if s == 5 else num("p") if s == 4 else NONE
    row = _Row(
        port=_int(port),
        kind=s - 1,
        vcpu=_int(n_txt),
        rdom=num("d"),
        rport=num("p") if s == 3 else NONE,
        number=number,
        xen=_int(g["x"]),
    )
    if _too_big(row):
        return _TOO_BIG
    # An IPI line ("s=6 n=0 x=0") reads the same in 4.1 and 4.2-4.3.
    layout = "4.4" if abi is not None else ("" if s == 6 else "4.1" if old else "4.2")
    return row, layout, len(abi) if abi is not None else -1


def _ls_port(m: re.Match[str]) -> _Row | str:
    port, vcpu, body = _int(m.group(1)), _int(m.group(2)), m.group(3)
    for rx, kind in _LS_BODY:
        b = rx.match(body)
        if b is None:
            continue
        row = _Row(port=port, kind=int(kind), vcpu=vcpu)
        if kind == Kind.INTERDOMAIN:
            row.rdom, row.rport = _int(b.group(1)), _int(b.group(2))
        elif kind == Kind.UNBOUND:
            row.rdom = _int(b.group(1))
        elif kind in (Kind.VIRQ, Kind.PIRQ):
            row.number = _int(b.group(1))
        return _TOO_BIG if _too_big(row) else row
    return "unknown lsevtchn line body"


def _irq_row(m: re.Match[str]) -> _Row | str | None:
    """A numbered /proc/interrupts row: a port if its chip is a Xen one, None for other interrupts,
    or the reason the row is garbled."""
    rest = m.group(3).split()
    chip = rest[0]
    if not chip.startswith("xen-"):
        return None
    handler = ""
    names: list[str] = []
    for tok in rest[1:]:
        if not handler and tok.startswith("-"):
            handler = tok[1:]
        elif handler or not tok.isdigit():
            names.append(tok)
    name = " ".join(names)
    base = re.sub(r"\d+$", "", names[0].rstrip(",")) if names else ""
    row = _Row(port=NONE, kind=int(Kind.INTERDOMAIN), vcpu=NONE, name=name)
    if chip == "xen-pirq":
        row.kind = int(Kind.PIRQ)
    elif chip == "xen-percpu":
        is_virq = handler == "virq" or (handler != "ipi" and base in _PERCPU_VIRQ)
        row.kind = int(Kind.VIRQ if is_virq else Kind.IPI)
        row.number = _PERCPU_VIRQ.get(base, NONE) if is_virq else NONE
    elif base in _GLOBAL_VIRQ:
        row.kind, row.number = int(Kind.VIRQ), _GLOBAL_VIRQ[base]
    else:
        vif = _VIF.match(name)
        row.rdom = _int(vif.group(1)) if vif else NONE
    return _TOO_BIG if _too_big(row) else row


# ---------------------------------------------------------------- assembly


@dataclass(slots=True)
class _Open:
    source: Source
    domid: int | None
    line: int
    chunks: list[_Chunk] = field(default_factory=list)
    last_port: int = -1
    fifo: bool | None = None

    def add_row(self, row: _Row) -> None:
        if not self.chunks or self.chunks[-1].block is not None:
            self.chunks.append(_Chunk())
        self.chunks[-1].rows.append(row)
        self.last_port = row.port


class _Builder:
    """Turns scanned blocks and per-line events, in line order, into tables (see _parse_lines)."""

    def __init__(self, lines: Lines, fields: dict[str, IntArray], name: str) -> None:
        self.lines = lines
        self.fields = fields
        self.name = name
        self.ls_fields: dict[str, IntArray] = {}
        self._stores: dict[str, Columns] = {}
        self._abi_any: IntArray | None = None
        self._abi_fifo: IntArray | None = None
        self._fifo_calls = 0
        self.prebuilt: list[Table] | None = None
        self.ls_lines: IntArray = np.zeros(0, dtype=np.int64)
        self.dump = Dump(lines=len(lines), files=[name] if name else [])
        self.tables: list[_Open] = []
        self.edump: _Open | None = None
        self.ls: _Open | None = None
        self.irq: _Open | None = None
        self.ls_domid: int | None = None
        self.e_seen = False
        self.handled = 0  # slow lines a handler took (ports and the rest)
        self.slow_rows = 0

    # -- tables

    def _new(self, source: Source, domid: int | None, lineno: int) -> _Open:
        t = _Open(source, domid, lineno)
        self.tables.append(t)
        return t

    def _edump_table(self, lineno: int) -> _Open:
        if self.edump is None:
            self.edump = self._new(Source.EDUMP, None, lineno)
        return self.edump

    def fast_block(self, a: int, b: int) -> None:
        if a >= b:
            return
        self.e_seen = True
        t = self._edump_table(a + 1)
        t.chunks.append(_Chunk(block=(a, b)))
        t.last_port = int(self.fields["port"][b - 1])

    def ls_block(self, la: int, lb: int) -> None:
        """lsevtchn rows [la, lb) of the scanner's compacted columns: a port that does not increase
        starts a new table, as in several outputs one after another."""
        ports = self.ls_fields["port"]
        cuts = [la, *(np.flatnonzero(ports[la + 1 : lb] <= ports[la : lb - 1]) + la + 1).tolist(), lb]
        for j in range(len(cuts) - 1):
            s0, e0 = cuts[j], cuts[j + 1]
            if j > 0 or self.ls is None or int(ports[s0]) <= self.ls.last_port:
                self.ls = self._new(Source.LSEVTCHN, self.ls_domid, int(self.ls_lines[s0]) + 1)
                self.ls_domid = None
            self.ls.chunks.append(_Chunk(block=(s0, e0), store="ls"))
            self.ls.last_port = int(ports[e0 - 1])

    def gap(self, a: int, b: int, la: int, lb: int) -> None:
        """Lines [a, b) between two per-line events: 'e' port lines, and lsevtchn rows [la, lb)."""
        if lb == la:
            self.fast_block(a, b)
        elif lb - la == b - a:
            self.ls_block(la, lb)
        else:  # both kinds interleaved: take maximal runs of each
            ls_at = self.ls_lines[la:lb].tolist()
            i, k = a, 0
            while i < b:
                if k < len(ls_at) and ls_at[k] == i:
                    k0 = k
                    while k < len(ls_at) and ls_at[k] == i + (k - k0):
                        k += 1
                    self.ls_block(la + k0, la + k)
                    i += k - k0
                else:
                    nxt = ls_at[k] if k < len(ls_at) else b
                    self.fast_block(i, nxt)
                    i = nxt

    def frame(self, i: int, code: int, domid: int) -> None:
        """A framing line the scanner recognised (fastscan.FRAME_*)."""
        self.e_seen = True
        self.handled += 1
        if code == FRAME_PRESSED:
            self.edump = None
        elif code == FRAME_DOMAIN:
            self.edump = self._new(Source.EDUMP, domid, i + 1)
        elif code == FRAME_HEADER_NEW:
            self.dump.layouts.add("4.4")

    # -- one slow line

    def bad(self, lineno: int, text: str, reason: str) -> None:
        self.dump.bad.append(BadLine(lineno, text, reason, self.name))

    def line(self, i: int) -> None:
        lineno = i + 1
        raw = self.lines.text(i)
        text = raw
        prefixed = False
        m = _CONSOLE.match(text)
        if m:
            text = text[m.end() :]
            prefixed = True
        if not text.strip():
            self.dump.blank += 1
            return
        for handler in self._handlers:
            verdict = handler(self, lineno, text)
            if verdict is True:
                self.handled += 1
                return
            if isinstance(verdict, str):
                self.bad(lineno, raw, verdict)
                return
        if prefixed and not text.startswith("    "):
            self.dump.other += 1  # the rest of `xl dmesg`
            return
        self.bad(lineno, raw, "not lsevtchn, 'e' dump or /proc/interrupts output")

    def _edump_line(self, lineno: int, text: str) -> bool | str | None:
        first = text[0]
        if first == "'" and _E_PRESSED.match(text):
            self.e_seen = True
            self.edump = None
            return True
        m = _E_DOMAIN.match(text) if first == "E" else None
        if m:
            self.e_seen = True
            self.edump = self._new(Source.EDUMP, _int(m.group(1)), lineno)
            return True
        if (first in "PD" and _E_POLL.match(text)) or (first == " " and _E_HEADER.match(text)):
            self.e_seen = True
            if text.endswith("/s]"):
                self.dump.layouts.add("4.4")  # "port [p/m]" is both 4.1's and 4.2's
            return True
        if not text.startswith("    ") or "]: s=" not in text:
            return None
        got = _e_port(text)
        if isinstance(got, str):
            return got
        row, layout, abi = got
        self.e_seen = True
        if layout:
            self.dump.layouts.add(layout)
        t = self._edump_table(lineno)
        if abi >= 0:
            t.fifo = bool(t.fifo) or abi >= 6
        t.add_row(row)
        self.slow_rows += 1
        return True

    def _ls_line(self, lineno: int, text: str) -> bool | str | None:
        m = _LS_LINE.match(text)
        if m:
            got = _ls_port(m)
            if isinstance(got, str):
                return got
            if self.ls is None or got.port <= self.ls.last_port:
                self.ls = self._new(Source.LSEVTCHN, self.ls_domid, lineno)
                self.ls_domid = None
            self.ls.add_row(got)
            self.slow_rows += 1
            return True
        c = _LS_COMMAND.search(text)
        if c and not text.startswith(" "):
            self.ls_domid = strtol10(c.group(1)) & 0xFFFF if c.group(1) else 0
            self.ls = None
            return True
        if _LS_ERROR.match(text):
            self.dump.notes.append(f"line {lineno}: lsevtchn reported {text!r}")
            return True
        return None

    def _irq_line(self, lineno: int, text: str) -> bool | str | None:
        if _IRQ_HEADER.match(text):
            self.irq = self._new(Source.INTERRUPTS, 0, lineno)
            return True
        m = _IRQ_ROW.match(text)
        if m:
            row = _irq_row(m)
            if isinstance(row, str):
                return row
            if self.irq is None:
                if row is None:
                    return None  # a numbered line with no Xen chip and no CPU header: not ours
                self.irq = self._new(Source.INTERRUPTS, 0, lineno)
            if row is not None:
                self.irq.add_row(row)
                self.slow_rows += 1
            return True
        if self.irq is not None and _IRQ_SUMMARY.match(text):
            return True  # NMI:, LOC:, ERR:, MIS: …
        return None

    _handlers: tuple[Callable[[_Builder, int, str], bool | str | None], ...] = (
        _edump_line,
        _ls_line,
        _irq_line,
    )

    # -- finish

    def whole_dumps(self, events: IntArray, codes: IntArray, domids: IntArray) -> bool:
        """Build every table at once when the file is nothing but clean 'e' dumps: each run of port
        lines follows its own "Event channel information for domain N:" header, and every other line
        is framing or blank. Returns False (having changed nothing) otherwise."""
        lines = self.lines
        n = len(lines)
        if not (codes == FRAME_DOMAIN).any():
            return False
        framed = codes != 0
        if not framed.all():
            width = lines.ends[events] - lines.starts[events]
            blank = ~framed & ((width == 0) | ((width == 1) & (lines.buf[lines.starts[events]] == 13)))
            if not (framed | blank).all():
                return False
        gap_a = np.concatenate(([0], events + 1))
        gap_b = np.concatenate((events, [n]))
        if gap_a[0] < gap_b[0]:
            return False  # ports before any header: a cut dump, for the per-line path
        k = np.arange(events.shape[0])
        last_dom = np.maximum.accumulate(np.where(codes == FRAME_DOMAIN, k, -1))
        last_pressed = np.maximum.accumulate(np.where(codes == FRAME_PRESSED, k, -1))
        runs = np.flatnonzero(gap_a[1:] < gap_b[1:])  # run after event r
        owner = last_dom[runs]
        if ((owner < 0) | (owner <= last_pressed[runs])).any() or np.unique(owner).shape[0] != runs.shape[0]:
            return False
        heads = np.flatnonzero(codes == FRAME_DOMAIN)
        lo = np.zeros(heads.shape[0], dtype=np.int64)
        hi = np.zeros(heads.shape[0], dtype=np.int64)
        slot = np.searchsorted(heads, owner)
        lo[slot], hi[slot] = gap_a[runs + 1], gap_b[runs + 1]
        abi = self.fields["abi"]
        c_any = np.concatenate(([0], np.cumsum(abi >= 0)))
        c_fifo = np.concatenate(([0], np.cumsum(abi >= 6)))
        any_abi = (c_any[hi] - c_any[lo] > 0).tolist()
        fifo = (c_fifo[hi] - c_fifo[lo] > 0).tolist()
        store = self._store("e")
        name = self.name
        self.prebuilt = [
            Table(Source.EDUMP, dom, line, store, a, b, fifo=f if seen else None, file=name)
            for dom, line, a, b, f, seen in zip(
                domids[heads].tolist(),
                (events[heads] + 1).tolist(),
                lo.tolist(),
                hi.tolist(),
                fifo,
                any_abi,
                strict=True,
            )
        ]
        self.e_seen = True
        self.handled += int(framed.sum())
        self.dump.blank += int((~framed).sum())
        if (codes == FRAME_HEADER_NEW).any():
            self.dump.layouts.add("4.4")
        return True

    def whole_lsevtchn(self, events: IntArray) -> bool:
        """Build every table at once when the file is nothing but lsevtchn output: scanned rows, and
        between them only prompts naming the command, the tool's error lines and blank lines. A prompt
        names the table after it; a port that does not increase starts a new one (as _ls_line does).
        Returns False (having changed nothing) otherwise."""
        prompts: list[tuple[int, int]] = []  # (line, domid)
        notes: list[str] = []
        blank = 0
        for i in events.tolist():
            text = self.lines.text(i)
            if not text.strip():
                blank += 1
                continue
            c = _LS_COMMAND.search(text)
            if c and not text.startswith(" "):
                prompts.append((i, strtol10(c.group(1)) & 0xFFFF if c.group(1) else 0))
            elif _LS_ERROR.match(text):
                notes.append(f"line {i + 1}: lsevtchn reported {text!r}")
            else:
                return False
        rows = self.ls_lines
        ports = self.ls_fields["port"]
        named: dict[int, int] = {}
        for line, domid in prompts:
            named[int(np.searchsorted(rows, line))] = domid  # a later prompt before the same row wins
        starts = set((np.flatnonzero(ports[1:] <= ports[:-1]) + 1).tolist())
        starts.add(0)
        starts.update(r for r in named if r < rows.shape[0])
        cuts = [*sorted(starts), int(rows.shape[0])]
        store = self._store("ls")
        self.prebuilt = [
            Table(Source.LSEVTCHN, named.get(a), int(rows[a]) + 1, store, a, b, file=self.name)
            for a, b in itertools.pairwise(cuts)
        ]
        self.handled += len(prompts) + len(notes)
        self.dump.blank += blank
        self.dump.notes.extend(notes)
        return True

    def finish(self) -> Dump:
        d = self.dump
        if self.prebuilt is not None:
            d.recognised = self.handled
            d.tables = self.prebuilt
            _infer_domids(d.tables)
            return d
        d.recognised = self.handled - self.slow_rows
        if self.e_seen:
            # A wrapped console ring cuts the first line; a capture taken mid-dump cuts the last.
            n = len(self.lines)
            for lineno in (1, n):
                hit = [b for b in d.bad if b.lineno == lineno]
                if hit and (lineno == 1 or n > 1):
                    d.bad.remove(hit[0])
                    d.cut.append(BadLine(lineno, hit[0].text, "cut by a wrapped console ring", self.name))
        for t in self.tables:
            table = self._build(t)
            if len(table) or t.source is not Source.EDUMP or t.domid is not None:
                d.tables.append(table)
        if not d.tables and not self.e_seen:
            raise ParseError(
                f"{self.name or 'input'}: no lsevtchn, 'e' dump or /proc/interrupts lines found "
                f"({len(d.bad)} unrecognised line{'s' if len(d.bad) != 1 else ''})"
            )
        _infer_domids(d.tables)
        return d

    def _store(self, name: str) -> Columns:
        """The scanner's columns as one shared Columns ("e": per line; "ls": per lsevtchn row)."""
        got = self._stores.get(name)
        if got is None:
            f = self.fields if name == "e" else self.ls_fields
            got = Columns(*(f[src] for _key, src in _FAST_COLUMNS))
            self._stores[name] = got
        return got

    def _fifo(self, a: int, b: int) -> bool | None:
        """Whether 'e' lines [a, b) show FIFO's ABI field (None: no ABI field at all, before 4.4)."""
        self._fifo_calls += 1
        if self._fifo_calls < 64:  # a few tables: look at them; many: prefix sums once
            abi = self.fields["abi"][a:b]
            return bool((abi >= 6).any()) if (abi >= 0).any() else None
        if self._abi_any is None:
            abi = self.fields["abi"]
            self._abi_any = np.concatenate(([0], np.cumsum(abi >= 0)))
            self._abi_fifo = np.concatenate(([0], np.cumsum(abi >= 6)))
        assert self._abi_fifo is not None
        if self._abi_any[b] == self._abi_any[a]:
            return None
        return bool(self._abi_fifo[b] > self._abi_fifo[a])

    def _build(self, t: _Open) -> Table:
        for ch in t.chunks:
            if ch.block is not None and ch.store == "e":
                shows = self._fifo(*ch.block)
                if shows is not None:
                    t.fifo = bool(t.fifo) or shows
        if len(t.chunks) == 1 and t.chunks[0].block is not None:
            # One scanned block: a row range of the shared columns, no copy.
            ch = t.chunks[0]
            assert ch.block is not None
            return Table(
                t.source, t.domid, t.line, self._store(ch.store), *ch.block, fifo=t.fifo, file=self.name
            )
        cols: dict[str, list[IntArray]] = {key: [] for key, _src in _FAST_COLUMNS}
        names: list[str] = []
        for ch in t.chunks:
            if ch.block is not None:
                a, b = ch.block
                f = self.fields if ch.store == "e" else self.ls_fields
                for key, src in _FAST_COLUMNS:
                    cols[key].append(f[src][a:b])
            else:
                rows = ch.rows
                cols["port"].append(np.array([r.port for r in rows], dtype=np.int64))
                cols["kind"].append(np.array([r.kind for r in rows], dtype=np.int64))
                cols["vcpu"].append(np.array([r.vcpu for r in rows], dtype=np.int64))
                cols["rdom"].append(np.array([r.rdom for r in rows], dtype=np.int64))
                cols["rport"].append(np.array([r.rport for r in rows], dtype=np.int64))
                cols["num"].append(np.array([r.number for r in rows], dtype=np.int64))
                cols["xen"].append(np.array([r.xen for r in rows], dtype=np.int64))
                names.extend(r.name for r in rows)

        def cat(key: str) -> IntArray:
            parts = cols[key]
            if not parts:
                return np.zeros(0, dtype=np.int64)
            return parts[0] if len(parts) == 1 else np.concatenate(parts)

        cols_all = Columns(*(cat(key) for key, _src in _FAST_COLUMNS))
        return Table(
            t.source,
            t.domid,
            t.line,
            cols_all,
            0,
            len(cols_all.port),
            names=names if t.source is Source.INTERRUPTS else None,
            fifo=t.fifo,
            file=self.name,
        )


# Table column ← scanner column.
_FAST_COLUMNS = (
    ("port", "port"),
    ("kind", "kind"),
    ("vcpu", "vcpu"),
    ("rdom", "rdom"),
    ("rport", "rport"),
    ("num", "num"),
    ("xen", "xen"),
)


def _infer_domids(tables: list[Table]) -> None:
    """Name tables the text left anonymous (a headerless lsevtchn, the cut head of an 'e' dump).

    First from peers: a port P with `d=G p=Q` whose domain G's table shows port Q pointing back at port
    P names the owner. Failing that, a table whose channels lead to other domains rather than to
    domain 0, or that has none (a bare `lsevtchn` with its default domid 0), or that holds physical
    IRQs, is taken as dom0's when no table claims domain 0 (marked `domid_inferred`).
    """
    known = {(t.source, t.domid): t for t in tables if t.domid is not None}
    has_dom0 = any(t.domid == 0 for t in tables if t.source is not Source.INTERRUPTS)
    for t in tables:
        if t.domid is not None or t.source is Source.INTERRUPTS:
            continue
        if not known:
            if has_dom0:
                continue
            inter = np.zeros(0, dtype=np.int64)
        else:
            inter = np.flatnonzero(t.kind == int(Kind.INTERDOMAIN))
        votes: Counter[int] = Counter()
        for j in inter[:16].tolist():
            peer = known.get((t.source, int(t.remote_dom[j])))
            if peer is None:
                continue
            hit = np.flatnonzero(peer.port == t.remote_port[j])
            if hit.size and peer.remote_port[hit[0]] == t.port[j]:
                votes[int(peer.remote_dom[hit[0]])] += 1
        if votes:
            t.domid, t.domid_inferred = votes.most_common(1)[0][0], True
            continue
        if has_dom0:
            continue
        remotes = t.remote_dom[(t.kind == int(Kind.INTERDOMAIN)) | (t.kind == int(Kind.UNBOUND))]
        pirqs = bool((t.kind == int(Kind.PIRQ)).any())  # physical IRQs: the hardware domain
        if not has_dom0 and (pirqs or remotes.size == 0 or int((remotes != 0).sum()) * 2 > remotes.size):
            t.domid, t.domid_inferred = 0, True
            has_dom0 = True


# ---------------------------------------------------------------- entry points


def parse_text(text: str | bytes, *, name: str = "", fast: bool = True) -> Dump:
    """Parse captured text (any mix of the three formats). `name` labels bad lines and errors;
    `fast=False` sends every line through the per-line parser (the reference the scanner is tested on)."""
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    return _parse_lines(split_lines(data), name=name, fast=fast)


def _parse_lines(lines: Lines, *, name: str, fast: bool) -> Dump:
    """Scan 'e' port lines, then lsevtchn lines and 'e' framing lines among the rest, all vectorised;
    walk what is left (framing lines, prompts, /proc/interrupts, garbage) in line order, placing the
    scanned rows between them into tables. A file of clean 'e' dumps skips the walk altogether."""
    ok, fields, layouts = scan_edump_ports(lines)
    if not fast:
        ok[:] = False
        layouts = set()
    b = _Builder(lines, fields, name)
    b.dump.layouts.update(layouts)
    slow = np.flatnonzero(~ok)
    ls_ok, ls_cols = scan_lsevtchn_ports(lines, slow)
    if not fast:
        ls_ok[:] = False
    b.ls_lines = slow[ls_ok]
    b.ls_fields = {k: v[ls_ok] for k, v in ls_cols.items()}
    b.ls_fields["xen"] = np.full(b.ls_lines.shape[0], NONE, dtype=np.int64)
    # Per-line events (framing lines and lines for the per-line parser); between them, fast rows.
    events = slow[~ls_ok]
    codes, domids = scan_edump_frames(lines, events)
    if not fast:
        codes[:] = 0
    elif b.ls_lines.shape[0] == 0:
        if b.whole_dumps(events, codes, domids):
            return b.finish()
    elif not ok.any() and events.shape[0] <= 4 * b.ls_lines.shape[0] + 16 and b.whole_lsevtchn(events):
        return b.finish()
    gap_a = np.concatenate(([0], events + 1))
    gap_b = np.concatenate((events, [len(lines)]))
    gap_la = np.searchsorted(b.ls_lines, gap_a)
    gap_lb = np.searchsorted(b.ls_lines, gap_b)
    spans = zip(gap_a.tolist(), gap_b.tolist(), gap_la.tolist(), gap_lb.tolist(), strict=True)
    for (i, code, domid), (ga, gb, la, lb) in zip(
        zip(events.tolist(), codes.tolist(), domids.tolist(), strict=True), spans, strict=False
    ):
        if ga < gb:
            b.gap(ga, gb, la, lb)
        if code:
            b.frame(i, code, domid)
        else:
            b.line(i)
    ga, gb, la, lb = int(gap_a[-1]), int(gap_b[-1]), int(gap_la[-1]), int(gap_lb[-1])
    if ga < gb:
        b.gap(ga, gb, la, lb)
    return b.finish()


def parse_file(path: str | Path) -> Dump:
    """Read and parse one file; unreadable files and files in no known format raise ParseError."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
                # A pipe (`<(lsevtchn 0)`, /dev/stdin) or /proc/interrupts, whose size reads as 0.
                return _parse_lines(split_lines(f.read()), name=str(p), fast=True)
            size = st.st_size
            buf = bytearray(padded_size(size))
            got = f.readinto(memoryview(buf)[:size])
    except OSError as e:
        raise ParseError(f"{p}: cannot read: {e.strerror or e}") from None
    except ValueError:  # open() refuses a name with a NUL byte
        raise ParseError(f"{p}: cannot read: the file name holds a NUL byte") from None
    if got != size:
        raise ParseError(f"{p}: cannot read: the file changed while it was read")
    return _parse_lines(split_lines(buf, size), name=str(p), fast=True)


def parse_files(paths: list[str] | list[Path]) -> Dump:
    dump = Dump()
    for p in paths:
        dump = dump.merge(parse_file(p))
    return dump
