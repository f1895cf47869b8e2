"""Assembly: scanned blocks and per-line verdicts, in line order, become the tables of a Dump (§9).

The vectorised scanners (`readers/edump_scan.py`, `readers/lsevtchn.py`) take most lines as blocks of
column rows; the lines left over go through the per-line readers in `READERS`. A file that is nothing but
clean 'e' dumps, or nothing but lsevtchn output, is built at once (`whole_dumps`, `whole_lsevtchn`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from evtchn.inspect.cparse import strtol10
from evtchn.inspect.domids import infer_domids
from evtchn.inspect.findings import Evidence, Message
from evtchn.inspect.looks import looks_like
from evtchn.inspect.model import BadLine, Columns, Dump, IntArray, ParseError, Source, Table
from evtchn.inspect.readers import edump, interrupts, lsevtchn, messages, xenstore_ls
from evtchn.inspect.readers.base import Chunk, OpenTable, Sink, Verdict
from evtchn.inspect.readers.edump_scan import FRAME_DOMAIN, FRAME_HEADER_NEW, FRAME_PRESSED, FRAME_QUIET
from evtchn.inspect.readers.lsevtchn import LS_COMMAND, LS_ERROR
from evtchn.inspect.swar import Lines

CONSOLE = re.compile(r"^\(XEN\) (?:\[[^\]]*\] )?")
UNKNOWN_LINE = "not lsevtchn, 'e' dump, /proc/interrupts, xenstore-ls or a known error message"
_CLAIMABLE = set(" '0123456789")  # first characters of lines the dump readers could take
_FRAMING = re.compile(r"^(?:Event ch|Polling |Domain \d)")  # …and 'e' framing (see quiet.py)
_CLAIMABLE_2ND = set(" 0123456789C")  # …and after one space (see quiet.py)
Reader = Callable[[Sink, int, str], Verdict]
# The per-line readers, asked in this order (an 'e' line is never an lsevtchn one, and so on).
READERS: tuple[Reader, ...] = (edump.line, lsevtchn.line, interrupts.line, xenstore_ls.line, messages.line)


class Builder(Sink):
    """Turns scanned blocks and per-line events, in line order, into tables (see detect.parse_lines)."""

    def __init__(self, lines: Lines, fields: dict[str, IntArray], name: str) -> None:
        super().__init__(Dump(lines=len(lines), files=[name] if name else []), name)
        self.lines = lines
        self.fields = fields
        self.ls_fields: dict[str, IntArray] = {}
        self._stores: dict[str, Columns] = {}
        self._abi_any: IntArray | None = None
        self._abi_fifo: IntArray | None = None
        self._fifo_calls = 0
        self.prebuilt: list[Table] | None = None
        self.ls_lines: IntArray = np.zeros(0, dtype=np.int64)
        self.handled = 0  # slow lines a reader took (ports and the rest)

    # -- scanned blocks

    def fast_block(self, a: int, b: int) -> None:
        if a >= b:
            return
        self.e_seen = True
        t = self.edump_table(a + 1)
        t.chunks.append(Chunk(block=(a, b)))
        t.last_port = int(self.fields["port"][b - 1])

    def ls_block(self, la: int, lb: int) -> None:
        """lsevtchn rows [la, lb) of the scanner's compacted columns: a port that does not increase
        starts a new table, as in several outputs one after another."""
        ports = self.ls_fields["port"]
        cuts = [la, *(np.flatnonzero(ports[la + 1 : lb] <= ports[la : lb - 1]) + la + 1).tolist(), lb]
        for j in range(len(cuts) - 1):
            s0, e0 = cuts[j], cuts[j + 1]
            if j > 0 or self.ls is None or int(ports[s0]) <= self.ls.last_port:
                self.ls = self.new(Source.LSEVTCHN, self.ls_domid, int(self.ls_lines[s0]) + 1)
                self.ls_domid = None
            self.ls.chunks.append(Chunk(block=(s0, e0), store="ls"))
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
        """A framing line the scanner recognised (edump_scan.FRAME_*), or a quiet console line."""
        if code == FRAME_QUIET:
            self.dump.other += 1
            return
        self.e_seen = True
        self.handled += 1
        if code == FRAME_PRESSED:
            self.edump = None
        elif code == FRAME_DOMAIN:
            self.edump = self.new(Source.EDUMP, domid, i + 1)
        elif code == FRAME_HEADER_NEW:
            self.dump.layouts.add("4.4")

    # -- one slow line

    def line(self, i: int) -> None:
        """Offer one line (console prefix removed) to each reader in turn."""
        lineno = i + 1
        raw = self.lines.text(i)
        text = raw
        prefixed = False
        m = CONSOLE.match(text)
        if m:
            text = text[m.end() :]
            prefixed = True
        if not text.strip():
            self.dump.blank += 1
            return
        for reader in READERS:
            verdict = reader(self, lineno, text)
            if verdict is False:
                self.dump.other += 1  # a log line that belongs to no dump
                return
            if verdict is True:
                self.handled += 1
                return
            if isinstance(verdict, str):
                self.bad(lineno, raw, verdict)
                return
        if prefixed and not text.startswith("    "):
            self.dump.other += 1  # the rest of `xl dmesg`
            return
        self.bad(lineno, raw, UNKNOWN_LINE)

    # -- finish

    def whole_dumps(self, events: IntArray, codes: IntArray, domids: IntArray) -> bool:
        """Build every table at once when the file is nothing but clean 'e' dumps: each run of port
        lines follows its own "Event channel information for domain N:" header, and every other line
        is framing or blank. Returns False (having changed nothing) otherwise."""
        lines = self.lines
        n = len(lines)
        if not (codes == FRAME_DOMAIN).any():
            return False
        quiet = codes == FRAME_QUIET
        framed = (codes != 0) & ~quiet
        blank = np.zeros(events.shape[0], dtype=np.bool_)
        told: list[tuple[int, str, Message | Evidence]] = []
        log_lines = 0
        if not (framed | quiet).all():
            width = lines.ends[events] - lines.starts[events]
            blank = (
                ~framed & ~quiet & ((width == 0) | ((width == 1) & (lines.buf[lines.starts[events]] == 13)))
            )
            rest = events[~(framed | quiet | blank)]
            if rest.shape[0] > 4096:
                return False
            for i in rest.tolist():  # lines with a word a reader looks for: only messages may be here
                text = lines.text(i)
                m = CONSOLE.match(text)
                body = text[m.end() :] if m else text
                log = messages.is_log_line(body)
                free = body[:1] not in _CLAIMABLE or (body[:1] == " " and body[1:2] not in _CLAIMABLE_2ND)
                free = free and _FRAMING.match(body) is None
                if ' = "' in body or "lsevtchn" in body or not (log or free):
                    return False  # another reader may want it: the per-line walk decides
                got = messages.classify(body)
                if got is not None:
                    told.append((i + 1, body, got))
                elif log:
                    log_lines += 1
                else:
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
        if ((owner < 0) | (owner <= last_pressed[runs])).any() or (np.diff(owner) <= 0).any():
            return False
        heads = np.flatnonzero(codes == FRAME_DOMAIN)
        lo = np.zeros(heads.shape[0], dtype=np.int64)
        hi = np.zeros(heads.shape[0], dtype=np.int64)
        slot = np.searchsorted(heads, owner)
        lo[slot], hi[slot] = gap_a[runs + 1], gap_b[runs + 1]
        # Each table's widest ABI field (-1: none, 1: 2L, 6: FIFO): max over [lo0, hi0, lo1, ...][::2].
        widest = np.full(heads.shape[0], -1, dtype=np.int64)
        full = np.flatnonzero(hi > lo)
        if full.size:
            cuts = np.stack((lo[full], hi[full]), axis=1).ravel()
            cuts = cuts[:-1] if cuts[-1] == n else cuts
            widest[full] = np.maximum.reduceat(self.fields["abi"], cuts)[::2]
        any_abi = (widest >= 0).tolist()
        fifo = (widest >= 6).tolist()
        store = self._store("e")
        name = self.name
        # Positional (names, domid_inferred, fifo, file): keywords cost a third more per table.
        self.prebuilt = [
            Table(Source.EDUMP, dom, line, store, a, b, None, False, f if seen else None, name)
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
        self.handled += int(framed.sum()) + len(told)
        self.dump.blank += int(blank.sum())
        self.dump.other += int(quiet.sum()) + log_lines
        for lineno, body, got in told:
            messages.record(self, lineno, body, got)
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
            c = LS_COMMAND.search(text)
            if c and not text.startswith(" "):
                prompts.append((i, strtol10(c.group(1)) & 0xFFFF if c.group(1) else 0))
            elif LS_ERROR.match(text):
                notes.append(f"line {i + 1}: lsevtchn reported {text!r}")
            else:
                return False
        rows = self.ls_lines
        ports = self.ls_fields["port"]
        named: dict[int, int] = {}
        for line, domid in prompts:
            named[int(np.searchsorted(rows, line))] = domid  # a later prompt before the same row wins
        cut = np.flatnonzero(ports[1:] <= ports[:-1]) + 1
        if named:
            cut = np.union1d(cut, np.array([r for r in named if 0 < r < rows.shape[0]], dtype=np.int64))
        firsts, ends = np.concatenate(([0], cut)), np.concatenate((cut, [rows.shape[0]]))
        store = self._store("ls")
        name = self.name
        self.prebuilt = [
            Table(Source.LSEVTCHN, named.get(a), line + 1, store, a, b, None, False, None, name)
            for a, b, line in zip(firsts.tolist(), ends.tolist(), rows[firsts].tolist(), strict=True)
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
            infer_domids(d.tables)
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
            if t.source is Source.INTERRUPTS and not len(table):
                d.notes.append(
                    f"{table.where}: a /proc/interrupts with no Xen event-channel IRQ (xen-dyn, xen-percpu, "
                    "xen-pirq): not a Xen domain's, left out"
                )
                continue
            if len(table) or t.source is not Source.EDUMP or t.domid is not None:
                if t.source is Source.INTERRUPTS:
                    interrupts.settle(table)
                d.tables.append(table)
        xs = d.xenstore
        if xs is not None and not xs.useful:
            # `key = "value"` lines under no path a domain or device lives at: TOML, INI, not xenstore.
            d.xenstore = None
            d.recognised -= len(xs.seen)
            d.bad.extend(BadLine(n, text, UNKNOWN_LINE, self.name) for n, text in xs.seen)
            d.bad.sort(key=lambda b: b.lineno)
        if not (d.tables or self.e_seen or d.messages or d.xenstore or d.evidence):
            raise ParseError(
                f"{self.name or 'input'}: no lsevtchn, 'e' dump, /proc/interrupts, xenstore-ls or known "
                f"error message: it looks like {looks_like(self.lines)} "
                f"({len(d.bad)} unrecognised line{'s' if len(d.bad) != 1 else ''})"
            )
        infer_domids(d.tables)
        return d

    def _store(self, name: str) -> Columns:
        """The scanner's columns as one shared Columns ("e": per line; "ls": per lsevtchn row)."""
        got = self._stores.get(name)
        if got is None:
            f = self.fields if name == "e" else self.ls_fields
            got = Columns(*(f[src] for _key, src in FAST_COLUMNS))
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

    def _build(self, t: OpenTable) -> Table:
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
        cols: dict[str, list[IntArray]] = {key: [] for key, _src in FAST_COLUMNS}
        names: list[str] = []
        for ch in t.chunks:
            if ch.block is not None:
                a, b = ch.block
                f = self.fields if ch.store == "e" else self.ls_fields
                for key, src in FAST_COLUMNS:
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

        cols_all = Columns(*(cat(key) for key, _src in FAST_COLUMNS))
        return Table(
            t.source,
            t.domid,
            t.line,
            cols_all,
            0,
            len(cols_all.port),
            names=names if t.source is Source.INTERRUPTS else None,
            fifo=t.fifo,
            layout=t.layout,
            file=self.name,
        )


# Table column ← scanner column.
FAST_COLUMNS = (
    ("port", "port"),
    ("kind", "kind"),
    ("vcpu", "vcpu"),
    ("rdom", "rdom"),
    ("rport", "rport"),
    ("num", "num"),
    ("xen", "xen"),
)
