"""Vectorised recognition of 'e' dump port lines, the bulk of a large dump (reference §9.2).

    lines = split_lines(data)                 # line starts/ends over the raw bytes
    ok, fields = scan_edump_ports(lines)      # ok[i]: line i is a port line; fields over the ok lines

Every line is tried at once with numpy, eight bytes per gather, so a million-line dump costs a few dozen
passes in C instead of a regex per line. Only the common shape is accepted here: an optional "(XEN) "
prefix (no timestamp), a port below 10000, single-digit p/m/s/x and an ABI field of 1 (2L) or 6 (FIFO)
characters. Everything else (headers, timestamps, other formats, garbage) goes to the per-line parser in
`parse.py`, which accepts a superset, so this is only an accelerator: tests check both agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
BOOL = npt.NDArray[np.bool_]

PAD = 64  # zero bytes after the text so 8-byte reads past the last line stay inside the buffer


@dataclass(slots=True)
class Lines:
    data: bytes  # the text plus PAD zero bytes
    buf: U8
    words: U64  # words[i] = the 8 bytes starting at byte i (little-endian)
    starts: I64
    ends: I64  # index of each line's terminating newline (or of the end of the text)

    def text(self, i: int) -> str:
        raw = self.data[int(self.starts[i]) : int(self.ends[i])]
        return raw.rstrip(b"\r").decode("utf-8", "replace")

    def __len__(self) -> int:
        return int(self.starts.shape[0])


def split_lines(text: bytes) -> Lines:
    n = len(text)
    data = text + b"\0" * (PAD + (-(n + PAD)) % 8)
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf[:n] == 10).astype(np.int64, copy=False)
    if n and text[-1:] != b"\n":
        ends = np.append(ends, np.int64(n))
    starts = np.empty_like(ends)
    if starts.shape[0]:
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
    words8 = np.frombuffer(data, dtype="<u8")
    words = np.lib.stride_tricks.as_strided(words8, shape=(len(data) - 8,), strides=(1,))
    return Lines(data, buf, words, starts, ends)


def _lit(text: bytes) -> tuple[np.uint64, np.uint64]:
    """(mask, value) to compare the first len(text) ≤ 8 bytes of a word against `text`."""
    value = int.from_bytes(text, "little")
    mask = (1 << (8 * len(text))) - 1
    return np.uint64(mask), np.uint64(value)


_SPACES4 = _lit(b"    ")
_XEN = _lit(b"(XEN) ")
_BR = _lit(b" [")
_S = _lit(b"]: s=")
_N = _lit(b" n=")
_X = _lit(b" x=")
_D = _lit(b" d=")
_P = _lit(b" p=")
_I = _lit(b" i=")
_V = _lit(b" v=")
_Z = _lit(b" Z=")
_M8 = np.uint64(0xFF)
_HI = np.uint64(0x8080808080808080)
_LO7 = np.uint64(0x7F7F7F7F7F7F7F7F)
_ADD = np.uint64(0x7676767676767676)
_ZEROS = np.uint64(0x3030303030303030)
# Expected high nibbles of a %4u field with 1..4 digits, first character in the low byte.
_FIELD4 = np.array([0, 0x30202020, 0x30302020, 0x30303020, 0x30303030], dtype=np.uint64)


def _is(words: U64, pos: I64, lit: tuple[np.uint64, np.uint64]) -> BOOL:
    res: BOOL = (words[pos] & lit[0]) == lit[1]
    return res


def _digit(buf: U8, pos: I64) -> tuple[I64, BOOL]:
    c = buf[pos] - np.uint8(48)
    return c.astype(np.int64), c < 10


def _swar(x: U64, ndig: I64) -> I64:
    """Value of the first `ndig` (1..8) digit bytes of x, already xor-ed with '0' (first digit lowest)."""
    shift = ((np.int64(8) - ndig) * 8) & 63
    v = x << shift.astype(np.uint64)
    v = ((v & np.uint64(0x0F0F0F0F0F0F0F0F)) * np.uint64(2561)) >> np.uint64(8)
    v = ((v & np.uint64(0x00FF00FF00FF00FF)) * np.uint64(6553601)) >> np.uint64(16)
    v = ((v & np.uint64(0x0000FFFF0000FFFF)) * np.uint64(42949672960001)) >> np.uint64(32)
    return v.astype(np.int64)


def _number(words: U64, pos: I64) -> tuple[I64, I64]:
    """Read an unsigned decimal of 1..7 digits at pos: (value, digits); digits ≤ 0 means none/too long."""
    x = words[pos] ^ _ZEROS
    nondigit = (((x & _LO7) + _ADD) | x) & _HI
    # The lowest set bit of `nondigit` is bit 8k+7 for the first non-digit byte k; read k off the
    # exponent of its exact float value (0 → a negative count: no terminator within 8 bytes).
    low = nondigit & (~nondigit + np.uint64(1))
    exp = (low.astype(np.float64).view(np.int64) >> 52) - 1023
    ndig = (exp - 7) >> 3
    return _swar(x, ndig), ndig


def _bytes_mask(*idx: int) -> np.uint64:
    return np.uint64(sum(0xFF << (8 * i) for i in idx))


def _at(word: U64, i: int) -> U64:
    res: U64 = (word >> np.uint64(8 * i)) & _M8
    return res


def _digit_at(word: U64, i: int) -> tuple[I64, BOOL]:
    c = _at(word, i) - np.uint64(48)
    return c.astype(np.int64), c < 10


# " [p/m" with p and m left out: bytes 0, 1, 3.
_G1_MASK = _bytes_mask(0, 1, 3)
_G1_VAL = np.uint64(int.from_bytes(b" [\0/", "little"))
# "]: s=S n" with S left out: bytes 0-4, 6, 7.
_G2_MASK = _bytes_mask(0, 1, 2, 3, 4, 6, 7)
_G2_VAL = np.uint64(int.from_bytes(b"]: s=\0 n", "little"))


def scan_edump_ports(lines: Lines) -> tuple[BOOL, dict[str, I64]]:
    """Recognise the common shape of 'e' port lines. Fields (over all lines; valid where ok): port,
    pend, mask, s, n, x, d, p, i, v (-1 when absent), abi (width of the ABI field, -1 without one) and
    layout (41, 42, 44, or 0 when it cannot tell 4.1 from 4.2)."""
    buf, words = lines.buf, lines.words
    starts, ends = lines.starts, lines.ends
    eol = ends - ((ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13))
    b = starts + np.where(_is(words, starts, _XEN), 6, 0)
    # "    %4u": four spaces, then a right-aligned port below 10000.
    g0 = words[b]
    ok = (g0 & _SPACES4[0]) == _SPACES4[1]
    f = g0 >> np.uint64(32)
    g = (f | np.uint64(0x10101010)) ^ np.uint64(0x30303030)
    ok &= ((((g & _LO7) + _ADD) | g) & np.uint64(0x80808080)) == 0
    port = _swar(g, np.full(g.shape[0], 4, dtype=np.int64))
    nd = 1 + (port >= 10) + (port >= 100) + (port >= 1000)
    ok &= ((f & np.uint64(0xF0F0F0F0)) == _FIELD4[nd]) & (port > 0)
    # " [p/m" then "]" (4.1-4.3), "/d]" (4.4+ 2L) or "/xxxxxx]" (4.4+ FIFO).
    g1 = words[b + 8]
    ok &= (g1 & _G1_MASK) == _G1_VAL
    pend, okp = _digit_at(g1, 2)
    mask, okm = _digit_at(g1, 4)
    ok &= okp & okm & (pend < 2) & (mask < 2)
    c5 = _at(g1, 5)
    slash = c5 == ord("/")
    two_l = slash & (_at(g1, 7) == ord("]"))
    fifo = slash & ~two_l & (buf[b + 20] == ord("]"))
    ok &= (c5 == ord("]")) | two_l | fifo
    abi = np.where(two_l, 1, np.where(fifo, 6, -1))
    q = b + np.where(two_l, 15, np.where(fifo, 20, 13))
    g2 = words[q]
    ok &= (g2 & _G2_MASK) == _G2_VAL
    s, oks = _digit_at(g2, 5)
    ok &= oks & (s >= 2) & (s <= 6)
    g3 = words[q + 8]
    ok &= (g3 & _M8) == ord("=")
    n, nn = _number(words, q + 9)
    ok &= (nn > 0) & (nn < 7)
    q = q + 9 + nn
    # 4.2+: " x=X" now; 4.1: after the suffix.
    g4 = words[q]
    x_first = (g4 & _X[0]) == _X[1]
    x, okx = _digit_at(g4, 3)
    q = np.where(x_first, q + 4, q)
    # Suffix by state: 2 " d=D"; 3 " d=D p=P"; 4 " p=P[ i=I]"; 5 " v=V"; 6 nothing. Each field is read
    # only on the lines that have it.
    none = np.full(b.shape[0], -1, dtype=np.int64)
    d, p, i, v = none.copy(), none.copy(), none.copy(), none.copy()
    for lit, col, states in ((_D, d, (2, 3)), (_P, p, (3, 4)), (_V, v, (5,))):
        hit = s == states[0]
        for st in states[1:]:
            hit |= s == st
        sel = np.flatnonzero(hit)
        if sel.size:
            qs = q[sel]
            good = _is(words, qs, lit)
            val, nv = _number(words, qs + 3)
            good &= (nv > 0) & (nv < 8)
            ok[sel] &= good
            col[sel] = val
            q[sel] = qs + 3 + nv
    sel = np.flatnonzero(s == 4)
    if sel.size:
        qs = q[sel]
        has_i = _is(words, qs, _I)
        val, nv = _number(words, qs + 3)
        ok[sel] &= ~has_i | ((nv > 0) & (nv < 8))
        i[sel] = np.where(has_i, val, -1)
        q[sel] = np.where(has_i, qs + 3 + nv, qs)
    x_last = ~x_first & _is(words, q, _X)
    xb, okxb = _digit(buf, q + 3)
    ok &= np.where(x_first, okx, x_last & okxb)
    x = np.where(x_first, x, xb)
    q = np.where(x_last, q + 4, q)
    # An XSM label " Z=..." runs to the end of the line (4.2+).
    has_z = x_first & _is(words, q, _Z)
    q = np.where(has_z, eol, q)
    ok &= q == eol
    # 4.1 prints x last and has no ABI field.
    ok &= x_first | (abi < 0)
    fields = {
        "port": port,
        "pend": pend,
        "mask": mask,
        "s": s,
        "n": n,
        "x": x,
        "d": d,
        "p": p,
        "i": i,
        "v": v,
        "abi": abi,
        # 0: an IPI line without ABI field reads the same in 4.1 and 4.2-4.3.
        "layout": np.where(abi >= 0, 44, np.where(s == 6, 0, np.where(x_first, 42, 41))),
    }
    return ok, fields
