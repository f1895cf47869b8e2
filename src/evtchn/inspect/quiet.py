"""Vectorised recognition of console and log lines that belong to no dump ("quiet" lines).

A serial console log is mostly such lines: Xen's own "(XEN) [ts] ..." boot messages and the dom0
kernel's "[    1.234567] ..." log. Offering each to every reader costs microseconds a line; this finds
them all at once instead, so only lines a reader could want are walked one by one:

- a "(XEN) " line (after its optional timestamp) whose text cannot start an 'e' dump, lsevtchn or
  /proc/interrupts line (not a quote or digit, nor a space before a space, digit or 'C', nor 'e'
  framing: "Event ch…", "Polling …", "Domain …"), or a kernel log line;
- that holds none of the words a reader looks for anywhere in a line (error messages and banners,
  `lsevtchn` prompts, xenstore-ls's ` = "`).
"""

from __future__ import annotations

import numpy as np

from evtchn.inspect import cscan
from evtchn.inspect.readers.messages import KEYWORDS
from evtchn.inspect.swar import ADD, BOOL, HI, I64, LO7, XEN, ZEROS, Lines, body_start, const, lit

_WORDS = tuple(k.encode() for k in (*KEYWORDS, "lsevtchn", ' = "'))
# Each word's anchors: the byte pairs at an offset in it and one further, rare in console logs (the
# first at least). One of the two sits at an even offset of the text wherever the word does, so a pass
# over the pairs at even offsets (half the lookups of every offset) finds where to compare whole words.
_ANCHORS = tuple(
    (word, off, word[off] | word[off + 1] << 8, word[off + 1] | word[off + 2] << 8)
    for word, off in zip(_WORDS, (2, 20, 4, 5, 4, 8, 7, 7, 0, 6, 3, 5, 1), strict=True)
)
_ANCHOR_PAIR = np.zeros(1 << 16, dtype=np.bool_)
for _w, _off, _first, _second in _ANCHORS:
    _ANCHOR_PAIR[_first] = _ANCHOR_PAIR[_second] = True
_NOT_FIRST = np.zeros(256, dtype=np.bool_)
for _c in b" '0123456789\r":
    _NOT_FIRST[_c] = True
# After one leading space, these could still start an indented dump, lsevtchn or interrupts line.
_NOT_SECOND = np.zeros(256, dtype=np.bool_)
for _c in b" 0123456789C\r\n":
    _NOT_SECOND[_c] = True
_KERNEL_SECOND = np.zeros(256, dtype=np.bool_)
for _c in b" 0123456789":
    _KERNEL_SECOND[_c] = True


def quiet_lines(lines: Lines, idx: I64, body: I64 | None = None) -> BOOL:
    """For each line index in `idx`: True when it is a quiet line (see the module doc). `body`: where
    each line's text starts after "(XEN) [ts] ", when the caller has it (swar.body_start)."""
    if cscan.enabled():  # one pass in C (_cscan.c): the same shapes, the same words
        return cscan.quiet(lines.data, lines.starts, lines.ends, idx, _WORDS)
    out: BOOL = np.zeros(idx.shape[0], dtype=np.bool_)
    if not idx.size:
        return out
    buf, words = lines.buf, lines.words
    starts, ends = lines.starts[idx], lines.ends[idx]
    pre = (words[starts] & XEN[0]) == XEN[1]
    b = body_start(lines, starts, ends) if body is None else body
    first = buf[b]
    xen_ok = pre & (b < ends) & (~_NOT_FIRST[first] | ((first == 32) & ~_NOT_SECOND[buf[b + 1]]))
    # 'e' framing a scanner left (odd domids, "Domain N polling vCPUs" of older Xens): the walk decides.
    xen_ok &= ~const(words, b, b"Event ch") & ~const(words, b, b"Polling ")
    xen_ok &= ~(const(words, b, b"Domain ") & ((buf[b + 7] - np.uint8(48)) < 10))
    kernel = (buf[starts] == ord("[")) & _KERNEL_SECOND[buf[starts + 1]] & (ends > starts + 1)
    at = np.flatnonzero(kernel)
    if at.size:
        kernel[at] = kernel_stamped(lines, starts[at], ends[at])
    cand = np.flatnonzero(xen_ok | kernel)
    if not cand.size:
        return out
    out[cand] = True
    # Look for the readers' words in the candidates' bytes, joined run by run of consecutive lines.
    lines_c = idx[cand]
    breaks = np.flatnonzero(np.diff(lines_c) != 1) + 1
    run_first = np.concatenate(([0], breaks))
    run_last = np.concatenate((breaks, [lines_c.shape[0]])) - 1
    lo = lines.starts[lines_c[run_first]]
    hi = lines.ends[lines_c[run_last]] + 1
    data = lines.data
    blob = b"".join(bytes(data[a:z]) for a, z in zip(lo.tolist(), hi.tolist(), strict=True))
    offsets = np.concatenate(([0], np.cumsum(hi - lo)))
    pos = find_words(blob)
    if pos.size:
        run = np.searchsorted(offsets, pos, side="right") - 1
        byte = lo[run] + (pos - offsets[run])
        line = np.searchsorted(lines.starts, byte, side="right") - 1
        out[cand[np.isin(lines_c, line)]] = False
    return out


_SP = np.uint64(0x2020202020202020)
_FRACTION = lit(b".\0\0\0\0\0\0]")  # "." and "]" around six digits
_FRACTION_MASK = np.uint64(0xFF000000000000FF)
_SIX = np.uint64(0x00FFFFFFFFFFFF00) & HI


def kernel_stamped(lines: Lines, at: I64, eol: I64) -> BOOL:
    r"""Which lines at `at` (each starting "[") open with the kernel's printk timestamp
    "[%5lu.%06lu]", the seconds 5 to 8 characters wide: spaces, then digits (the per-line reader's
    `[ *\d+\.\d+\]` in the shape Linux prints; any other is left to it)."""
    words = lines.words
    ok: BOOL = np.zeros(at.shape[0], dtype=np.bool_)
    todo = np.arange(at.shape[0])
    for k in range(5, 9):
        a, e = at[todo], eol[todo]
        kmask = np.uint64((1 << (8 * k)) - 1)
        f = words[a + 1] & kmask
        x = f ^ ZEROS
        nondigit = (((x & LO7) + ADD) | x) & HI & kmask
        y = f ^ _SP
        space = ~(((y & LO7) + LO7) | y) & HI & kmask
        run = (space >> np.uint64(7)) * np.uint64(0xFF)  # the spaces as 0xFF bytes: a prefix run or none
        good = (
            ((nondigit & ~space) == 0) & ((nondigit >> np.uint64(8 * k - 8)) == 0) & ((run & (run + 1)) == 0)
        )
        frac = words[a + k + 1]
        z = frac ^ ZEROS
        good &= ((frac & _FRACTION_MASK) == _FRACTION[1]) & (((((z & LO7) + ADD) | z) & _SIX) == 0)
        good &= a + k + 9 <= e
        ok[todo[good]] = True
        todo = todo[~good]
        if not todo.size:
            break
    return ok


def find_words(blob: bytes) -> I64:
    """Where in `blob` any of the readers' words starts (as `blob.find` would find them, word by word),
    sorted with repeats: one numpy pass over the byte pairs at even offsets instead of a substring
    search per word."""
    n = len(blob)
    padded = blob + bytes(32 + n % 2)
    pairs = np.lib.stride_tricks.as_strided(np.frombuffer(padded, dtype="<u2"), shape=(n + 1,), strides=(1,))
    even = np.frombuffer(padded, dtype="<u2")[: (n + 1) // 2]
    at = np.flatnonzero(_ANCHOR_PAIR[even]) * 2
    if not at.size:
        return np.zeros(0, dtype=np.int64)
    raw = np.frombuffer(padded, dtype=np.uint8)
    code = even[at >> 1]
    found: list[I64] = []
    for word, off, first, second in _ANCHORS:
        a = at[code == first]  # the first anchor at an even offset: the second one byte on
        a = a[pairs[a + 1] == second] - off
        b = at[(code == second) & (at > 0)]  # the second at an even offset: the first one byte back
        b = b[pairs[b - 1] == first] - off - 1
        start = np.concatenate((a, b))
        start = start[start >= 0]
        ok = np.ones(start.shape[0], dtype=np.bool_)
        for j, ch in enumerate(word):
            ok &= raw[start + j] == ch
        found.append(start[ok])
    return np.sort(np.concatenate(found)).astype(np.int64, copy=False)
