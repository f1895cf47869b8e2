"""The one detection step: every input kind is offered to its reader, in line order (reference §9).

    dump = parse_file("xl-dmesg.txt")       # Dump(tables=[Table(...)], bad=[...], cut=[...], ...)
    dump = parse_text(b"   1: VCPU 0: IPI\n")

One file may hold any mix: several lsevtchn outputs one after another (with or without the shell prompt
that names the domid), an `xl dmesg` with one or more 'e' dumps among other console output (with or
without "(XEN) " prefixes and timestamps; 4.1 `[p/m]` and 4.4+ `[p/m/s]` layouts; the first or last line
cut by a wrapped console ring), and /proc/interrupts. Unknown or garbled lines are reported with their
line numbers and never stop the parse; a file with nothing recognisable is a ParseError.

The readers live in `evtchn.inspect.readers`, one module per input kind.
"""

from __future__ import annotations

import mmap
import os
import stat
from pathlib import Path

import numpy as np

from evtchn.inspect.assemble import Builder
from evtchn.inspect.model import NONE, Dump, ParseError
from evtchn.inspect.quiet import quiet_lines
from evtchn.inspect.readers.edump_scan import FRAME_QUIET, scan_edump_frames, scan_edump_ports
from evtchn.inspect.readers.lsevtchn import scan_lsevtchn_ports
from evtchn.inspect.swar import Lines, padded_size, split_lines
from evtchn.inspect.unwrap import unwrap


def parse_text(text: str | bytes, *, name: str = "", fast: bool = True) -> Dump:
    """Parse captured text (any mix of the three formats). `name` labels bad lines and errors;
    `fast=False` sends every line through the per-line parser (the reference the scanner is tested on)."""
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    return _parse_or_unwrap(split_lines(data), name=name, fast=fast)


# Pasted text is retried unwrapped only when read as it is it leaves lines unrecognised, and only up to
# this size: pasted text is small, and a big capture read straight is never slowed down.
UNWRAP_LIMIT = 8 << 20


def _parse_or_unwrap(lines: Lines, *, name: str, fast: bool) -> Dump:
    """Parse the text; if lines are left unrecognised (or nothing is), try it unwrapped (`unwrap.py`)
    with and without removing a common indentation, and keep whichever reads best. The result says
    what was undone in `Dump.unwrapped`."""
    error: ParseError | None = None
    try:
        dump: Dump | None = parse_lines(lines, name=name, fast=fast)
    except ParseError as e:
        dump, error = None, e
    size = int(lines.ends[-1]) if len(lines) else 0
    if (dump is not None and not dump.bad) or size > UNWRAP_LIMIT:
        if dump is None:
            assert error is not None
            raise error
        return dump
    raw = bytes(lines.data[:size])

    def score(d: Dump) -> tuple[int, int]:
        return (len(d.bad), -(d.ports + len(d.messages) + (d.xenstore.lines if d.xenstore else 0)))

    best, best_notes = dump, list[str]()
    for dedent in (False, True):
        got = unwrap(raw, dedent=dedent)
        if got is None:
            continue
        try:
            cand = parse_lines(split_lines(got[0]), name=name, fast=fast)
        except ParseError:
            continue
        if best is None or score(cand) < score(best):
            best, best_notes = cand, got[1]
    if best is None:
        assert error is not None
        raise error
    best.unwrapped = best_notes
    return best


def parse_lines(lines: Lines, *, name: str, fast: bool) -> Dump:
    """Scan 'e' port lines, then lsevtchn lines and 'e' framing lines among the rest, all vectorised;
    walk what is left (framing lines, prompts, /proc/interrupts, garbage) in line order, placing the
    scanned rows between them into tables. A file of clean 'e' dumps skips the walk altogether."""
    ok, fields, layouts = scan_edump_ports(lines)
    if not fast:
        ok[:] = False
        layouts = set()
    b = Builder(lines, fields, name)
    b.dump.layouts.update(layouts)
    slow = np.flatnonzero(~ok)
    ls_ok, ls_cols = scan_lsevtchn_ports(lines, slow)
    if not fast:
        ls_ok[:] = False
    b.ls_lines = slow[ls_ok]
    every = bool(ls_ok.all())  # a file of nothing but lsevtchn lines: the columns as they are
    b.ls_fields = {k: v if every else v[ls_ok] for k, v in ls_cols.items()}
    b.ls_fields["xen"] = np.full(b.ls_lines.shape[0], NONE, dtype=np.int64)
    # Per-line events (framing lines and lines for the per-line parser); between them, fast rows.
    events = slow[~ls_ok]
    starts = fields["body"]
    codes, domids, body = scan_edump_frames(lines, events, starts[events] if starts.shape[0] else None)
    if fast:
        zero = np.flatnonzero(codes == 0)
        codes[zero[quiet_lines(lines, events[zero], body[zero])]] = FRAME_QUIET
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
    return _parse_or_unwrap(read_lines(path), name=str(path), fast=True)


def read_lines(path: str | Path) -> Lines:
    """One file's lines (ParseError when it cannot be read). A regular file is read at once into
    zero-padded memory; a pipe or /proc file to its end."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
                # A pipe (`<(lsevtchn 0)`, /dev/stdin) or /proc/interrupts, whose size reads as 0.
                return split_lines(f.read())
            size = st.st_size
            buf = _padded_buffer(size)
            got = f.readinto(memoryview(buf)[:size])
    except OSError as e:
        raise ParseError(f"{p}: cannot read: {e.strerror or e}") from None
    if got != size:
        raise ParseError(f"{p}: cannot read: the file changed while it was read")
    return split_lines(buf, size)


_POPULATE = getattr(mmap, "MAP_POPULATE", 0)


def _padded_buffer(size: int) -> bytearray | mmap.mmap:
    """Zeroed memory of padded_size(size) bytes to read a file of `size` bytes into. On Linux it is
    mapped with MAP_POPULATE: one call maps every page, where a fresh bytearray takes a page fault per
    4 KiB while the file is read into it (about a tenth of a big capture's parse time)."""
    n = padded_size(size)
    if _POPULATE and n >= 1 << 20:
        try:
            return mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _POPULATE)
        except OSError:
            pass
    return bytearray(n)


def parse_files(paths: list[str] | list[Path]) -> Dump:
    dump = Dump()
    for p in paths:
        dump = dump.merge(parse_file(p))
    return dump
