"""Vectorised recognition of the lines that make up big dumps (reference §9.1, §9.2).

    lines = split_lines(data)                          # line starts/ends over the raw bytes
    ok, cols, layouts = scan_edump_ports(lines)        # 'e' port lines; cols over all lines
    codes, domids = scan_edump_frames(lines, others)   # 'e' framing lines among the rest
    ok2, cols2 = scan_lsevtchn_ports(lines, others)    # lsevtchn lines among the rest

Every line is tried at once with numpy, eight bytes per gather (SWAR digit parsing), so a million-line
dump costs a few dozen passes in C instead of a regex per line. Only the common shapes are accepted:
for 'e' lines an optional "(XEN) " and console timestamp, a port of up to 6 digits, single-digit p/m/s/x
and an ABI field of 1 (2L) or 6 (FIFO) characters. Everything else goes to the per-line parser in
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
    data: bytes | bytearray  # the text, then at least PAD zero bytes
    buf: U8
    words: U64  # words[i] = the 8 bytes starting at byte i (little-endian)
    starts: I64
    ends: I64  # index of each line's terminating newline (or of the end of the text)

    def text(self, i: int) -> str:
        raw = bytes(self.data[int(self.starts[i]) : int(self.ends[i])])
        return raw.rstrip(b"\r").decode("utf-8", "replace")

    def __len__(self) -> int:
        return int(self.starts.shape[0])


def padded_size(n: int) -> int:
    """Bytes to allocate for n bytes of text: room for PAD zero bytes, rounded up to whole words."""
    return n + PAD + (-(n + PAD)) % 8


def split_lines(text: bytes | bytearray, length: int | None = None) -> Lines:
    """Index the lines of `text`. With `length`, `text` is already a zero-padded buffer of
    padded_size(length) bytes holding `length` bytes of text (as parse_file reads it, without a copy)."""
    if length is None:
        n = len(text)
        data: bytes | bytearray = bytes(text) + b"\0" * (padded_size(n) - n)
    else:
        n = length
        data = text
        if len(data) != padded_size(n):
            raise ValueError("split_lines: buffer is not padded_size(length) bytes")
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf[:n] == 10).astype(np.int64, copy=False)
    if n and buf[n - 1] != 10:
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


_CTZ_BYTES = np.uint64(0x0001020304050607)


def _swar(x: U64, ndig: U64) -> I64:
    """Value of the first `ndig` (1..8) digit bytes of x, already xor-ed with '0' (first digit lowest)."""
    v = x << ((np.uint64(64) - (ndig << np.uint64(3))) & np.uint64(63))
    v = ((v & np.uint64(0x0F0F0F0F0F0F0F0F)) * np.uint64(2561)) >> np.uint64(8)
    v = ((v & np.uint64(0x00FF00FF00FF00FF)) * np.uint64(6553601)) >> np.uint64(16)
    v = ((v & np.uint64(0x0000FFFF0000FFFF)) * np.uint64(42949672960001)) >> np.uint64(32)
    res: I64 = v.view(np.int64)
    return res


def _number(words: U64, pos: I64) -> tuple[I64, I64]:
    """Read an unsigned decimal of 1..7 digits at pos: (value, digits); digits 0 means none or too long."""
    x = words[pos] ^ _ZEROS
    nondigit = (((x & _LO7) + _ADD) | x) & _HI
    # The lowest set bit of `nondigit` is bit 8k+7 for the first non-digit byte k: isolate it, shift it
    # to bit 8k and multiply so that byte 7 of the product reads k (no non-digit in 8 bytes reads 0).
    low = nondigit & (~nondigit + np.uint64(1))
    ndig = ((low >> np.uint64(7)) * _CTZ_BYTES) >> np.uint64(56)
    return _swar(x, ndig), ndig.view(np.int64)


_HIGH3 = np.uint64(0xFFFFFF0000000000)


def _field(words: U64, pos: I64, lit: tuple[np.uint64, np.uint64]) -> tuple[BOOL, I64, I64]:
    """A 3-byte key like " d=" and the decimal after it, from one 8-byte read: (key matches, value,
    digits). Digits is 0 when there is none, or 5 when the number may run past the read (the caller
    rereads those few lines with _number)."""
    w = words[pos]
    key = (w & lit[0]) == lit[1]
    x = ((w >> np.uint64(24)) ^ _ZEROS) | _HIGH3
    nondigit = (((x & _LO7) + _ADD) | x) & _HI
    low = nondigit & (~nondigit + np.uint64(1))
    ndig = ((low >> np.uint64(7)) * _CTZ_BYTES) >> np.uint64(56)
    return key, _swar(x, ndig), ndig.view(np.int64)


def _long_field(words: U64, pos: I64, val: I64, nd: I64, sel: I64 | None = None) -> None:
    """Reread, in place, the numbers _field could not finish (5 digits seen in its window)."""
    long = np.flatnonzero(nd == 5)
    if long.size:
        at = long if sel is None else sel[long]
        v2, n2 = _number(words, pos[at] + 3)
        val[long] = v2
        nd[long] = np.where(n2 >= 5, n2, 0)


def _body(lines: Lines, starts: I64, eol: I64) -> I64:
    """Where each line's text starts after an optional "(XEN) " and, behind it, an optional console
    timestamp "[...] " (the first "]" must be followed by a space, as the per-line parser reads it)."""
    buf, words = lines.buf, lines.words
    pre = (words[starts] & _XEN[0]) == _XEN[1]
    b: I64 = starts + pre * np.int64(6)
    stamped = np.flatnonzero(pre & (buf[b] == ord("[")))
    if stamped.size:
        lo, hi = int(starts[stamped[0]]), int(eol[stamped[-1]])
        closes = np.flatnonzero(buf[lo:hi] == ord("]")).astype(np.int64) + lo
        at = b[stamped]
        j = np.searchsorted(closes, at)
        found = j < closes.shape[0]
        end = closes[np.minimum(j, max(closes.shape[0] - 1, 0))] if closes.shape[0] else at
        good = found & (end < eol[stamped]) & (buf[end + 1] == 32)
        b[stamped] = np.where(good, end + 2, at)
    return b


def _bytes_mask(*idx: int) -> np.uint64:
    return np.uint64(sum(0xFF << (8 * i) for i in idx))


def _at(word: U64, i: int) -> U64:
    res: U64 = (word >> np.uint64(8 * i)) & _M8
    return res


def _digit_at(word: U64, i: int) -> tuple[I64, BOOL]:
    c = _at(word, i) - np.uint64(48)
    return c.view(np.int64), c < 10


# " [p/m" with p and m '0' or '1' (low bit ignored): bytes 0-4.
_G1_MASK = np.uint64(0xFEFFFEFFFF)
_G1_VAL = np.uint64(int.from_bytes(b" [0/0", "little"))
# "]: s=S n" with S left out: bytes 0-4, 6, 7.
_G2_MASK = _bytes_mask(0, 1, 2, 3, 4, 6, 7)
_G2_VAL = np.uint64(int.from_bytes(b"]: s=\0 n", "little"))


CHUNK = 1 << 15  # lines per pass: small temporaries are reused by malloc instead of faulted in afresh
_KEYS = ("port", "kind", "vcpu", "rdom", "rport", "num", "xen", "abi")


def scan_edump_ports(lines: Lines) -> tuple[BOOL, dict[str, I64], set[str]]:
    """Recognise the common shape of 'e' port lines.

    Returns (ok per line, columns over all lines (valid where ok), layouts seen). Columns: port,
    kind (EVTCHNSTAT numbering: s - 1), vcpu, rdom, rport (interdomain peer port), num (VIRQ or PIRQ),
    xen, abi (ABI field width, -1 without one); -1 where a line has no such field.
    """
    n = len(lines)
    if b"]: s=" not in lines.data:  # no port line anywhere: skip the passes
        none = np.zeros(0, dtype=np.int64)
        return np.zeros(n, dtype=np.bool_), dict.fromkeys(_KEYS, none), set()
    ok = np.empty(n, dtype=np.bool_)
    out = {k: np.empty(n, dtype=np.int64) for k in _KEYS}
    layouts: set[str] = set()
    crlf = b"\r" in lines.data
    xen = b"(XEN) " in lines.data
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        part_ok, part, part_layouts = _scan_chunk(lines, lines.starts[lo:hi], lines.ends[lo:hi], crlf, xen)
        ok[lo:hi] = part_ok
        for k in _KEYS:
            out[k][lo:hi] = part[k]
        layouts |= part_layouts
    return ok, out, layouts


def _scan_chunk(
    lines: Lines, starts: I64, ends: I64, crlf: bool, xen: bool
) -> tuple[BOOL, dict[str, I64], set[str]]:
    buf, words = lines.buf, lines.words
    n_lines = starts.shape[0]
    # Lines ending "\r\n" end one byte earlier; most files have none, so skip the pass.
    eol = ends - ((ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13)) if crlf else ends
    b = _body(lines, starts, eol) if xen else starts.copy()
    # "    %4u": four spaces, then a right-aligned port (wider from 10000).
    g0 = words[b]
    ok = (g0 & _SPACES4[0]) == _SPACES4[1]
    f = g0 >> np.uint64(32)
    g = (f | np.uint64(0x10101010)) ^ np.uint64(0x30303030)
    ok &= ((((g & _LO7) + _ADD) | g) & np.uint64(0x80808080)) == 0
    port = _swar(g, np.full(n_lines, 4, dtype=np.uint64))
    nd = 1 + (port >= 10) + (port >= 100) + (port >= 1000)
    narrow = ((f & np.uint64(0xF0F0F0F0)) == _FIELD4[nd]) & (port > 0)
    # Ports from 10000 widen the field (FIFO): "    12345 [". Read them on those lines only.
    wide = np.flatnonzero(ok & (buf[b + 8] != 32))
    if wide.size:
        wv, wn = _number(words, b[wide] + 4)
        good = (wn >= 5) & (wn <= 6)
        port[wide] = wv
        b[wide] += np.where(good, wn - 4, 0)
        narrow[wide] = good
    ok &= narrow
    # " [p/m" with p, m in {0, 1}, then "]" (4.1-4.3), "/d]" (4.4+ 2L) or "/xxxxxx]" (4.4+ FIFO).
    g1 = words[b + 8]
    ok &= (g1 & _G1_MASK) == _G1_VAL
    c5 = _at(g1, 5)
    slash = c5 == ord("/")
    two_l = slash & (_at(g1, 7) == ord("]"))
    fifo = slash & ~two_l & (buf[b + 20] == ord("]"))
    ok &= (c5 == ord("]")) | two_l | fifo
    abi = np.where(two_l, 1, np.where(fifo, 6, -1))
    q = b + np.where(two_l, 15, np.where(fifo, 20, 13))
    g2 = words[q]
    ok &= (g2 & _G2_MASK) == _G2_VAL
    s = _at(g2, 5).view(np.int64) - 48
    ok &= (s >= 2) & (s <= 6)
    # " n=" then the notify vCPU: one digit on most lines ("=D " read at once), else reread.
    g3 = words[q + 8]
    d1 = _at(g3, 1) - np.uint64(48)
    single = ((g3 & _M8) == ord("=")) & (d1 < 10) & ((_at(g3, 2) == 32) | (q + 10 == eol))
    vcpu = d1.view(np.int64)
    nn = np.ones(n_lines, dtype=np.int64)
    multi = np.flatnonzero(ok & ~single)
    if multi.size:
        key, mv, mn = _field(words, q[multi] + 6, _N)
        _long_field(words, q[multi] + 6, mv, mn)
        vcpu[multi] = mv
        nn[multi] = np.where(key, mn, 0)
    ok &= nn > 0
    q = q + 9 + nn
    # 4.2+: " x=X" now; 4.1: after the suffix.
    g4 = words[q]
    x_first = (g4 & _X[0]) == _X[1]
    x, okx = _digit_at(g4, 3)
    q += x_first * np.int64(4)
    # Suffix by state: 2 " d=D"; 3 " d=D p=P"; 4 " p=P[ i=I]"; 5 " v=V"; 6 nothing. Each field is read
    # only on the lines that have it.
    rdom = np.full(n_lines, -1, dtype=np.int64)
    rport = np.full(n_lines, -1, dtype=np.int64)
    num = np.full(n_lines, -1, dtype=np.int64)
    for lit, states in ((_D, (2, 3)), (_P, (3, 4)), (_V, (5, 5))):
        sel = np.flatnonzero((s == states[0]) | (s == states[1]))
        if not sel.size:
            continue
        qs = q[sel]
        key, val, nv = _field(words, qs, lit)
        _long_field(words, qs, val, nv)
        ok[sel] &= key & (nv > 0)
        q[sel] = qs + 3 + nv
        if lit is _D:
            rdom[sel] = val
        elif lit is _V:
            num[sel] = val
        else:
            is3 = s[sel] == 3
            rport[sel[is3]] = val[is3]
            num[sel[~is3]] = val[~is3]
    sel = np.flatnonzero(s == 4)
    if sel.size:
        qs = q[sel]
        has_i, val, nv = _field(words, qs, _I)
        _long_field(words, qs, val, nv)
        ok[sel] &= ~has_i | (nv > 0)
        q[sel] = np.where(has_i, qs + 3 + nv, qs)
    x_last = ~x_first & _is(words, q, _X)
    xb, okxb = _digit(buf, q + 3)
    ok &= np.where(x_first, okx, x_last & okxb)
    x = np.where(x_first, x, xb)
    q += x_last * np.int64(4)
    # An XSM label " Z=..." runs to the end of the line (4.2+).
    has_z = x_first & _is(words, q, _Z)
    q = np.where(has_z, eol, q)
    ok &= q == eol
    # 4.1 prints x last and has no ABI field.
    ok &= x_first | (abi < 0)
    layouts: set[str] = set()
    if (ok & (abi >= 0)).any():
        layouts.add("4.4")
    # An IPI line without ABI field (s=6) reads the same in 4.1 and 4.2-4.3.
    plain = ok & (abi < 0) & (s != 6)
    if (plain & x_first).any():
        layouts.add("4.2")
    if (plain & ~x_first).any():
        layouts.add("4.1")
    fields = {
        "port": port,
        "kind": s - 1,
        "vcpu": vcpu,
        "rdom": rdom,
        "rport": rport,
        "num": num,
        "xen": x,
        "abi": abi,
    }
    return ok, fields, layouts


# ---------------------------------------------------------------- framing lines

FRAME_NONE, FRAME_PRESSED, FRAME_DOMAIN, FRAME_POLLING, FRAME_HEADER_OLD, FRAME_HEADER_NEW = range(6)


def _const(words: U64, pos: I64, text: bytes) -> BOOL:
    """Lines whose bytes at `pos` are `text` (any length), compared eight at a time."""
    ok: BOOL = np.ones(pos.shape[0], dtype=np.bool_)
    for k in range(0, len(text), 8):
        mask, value = _lit(text[k : k + 8])
        ok &= (words[pos + k] & mask) == value
    return ok


def scan_edump_frames(lines: Lines, candidates: I64) -> tuple[I64, I64]:
    """Classify the 'e' dump's framing lines among `candidates` (line indices): returns (frame code,
    domid for FRAME_DOMAIN else -1) per candidate. Anything unusual is left to the per-line parser."""
    buf, words = lines.buf, lines.words
    starts, ends = lines.starts[candidates], lines.ends[candidates]
    eol = ends - ((ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13))
    b = _body(lines, starts, eol)
    code = np.zeros(candidates.shape[0], dtype=np.int64)
    domid = np.full(candidates.shape[0], -1, dtype=np.int64)
    first = buf[b]
    pressed = (first == ord("'")) & (buf[b + 2] == ord("'"))
    pressed &= _const(words, b + 3, b" pressed -> dumping event-channel info") & (b + 41 == eol)
    code[pressed] = FRAME_PRESSED
    head = b"Event channel information for domain "
    dom = (first == ord("E")) & _const(words, b, head)
    val, nd = _number(words, b + len(head))
    dom &= (nd > 0) & (nd < 7) & (buf[b + len(head) + np.maximum(nd, 0)] == ord(":"))
    dom &= b + len(head) + nd + 1 == eol
    code[dom] = FRAME_DOMAIN
    domid[dom] = val[dom]
    poll = (
        (first == ord("P"))
        & _const(words, b, b"Polling vCPUs: {")
        & (buf[np.maximum(eol - 1, 0)] == ord("}"))
    )
    code[poll & (eol - b >= 17)] = FRAME_POLLING
    port_hdr = (first == 32) & _const(words, b, b"    port [p/m")
    code[port_hdr & _const(words, b + 13, b"]") & (b + 14 == eol)] = FRAME_HEADER_OLD
    code[port_hdr & _const(words, b + 13, b"/s]") & (b + 16 == eol)] = FRAME_HEADER_NEW
    return code, domid


# ---------------------------------------------------------------- lsevtchn lines

_VCPU = b": VCPU "
_CONNECTED = b"Interdomain (Connected) - Remote Domain "
_WAITING = b"Interdomain (Waiting connection) - Remote Domain "
_VIRQ = b"Virtual IRQ "
_PIRQ = b"Physical IRQ "


_LS_KEYS = ("port", "kind", "vcpu", "rdom", "rport", "num")


def scan_lsevtchn_ports(lines: Lines, cand: I64) -> tuple[BOOL, dict[str, I64]]:
    """Recognise lsevtchn lines (`"%4d: VCPU %u: "` + body, reference §9.1) among the lines `cand`.

    Returns (ok per candidate, columns per candidate: port, kind (EVTCHNSTAT numbering), vcpu, rdom,
    rport, num). Lines with a CR, numbers over 7 digits and the like go to the per-line parser.
    """
    n = cand.shape[0]
    if n <= CHUNK:
        return _scan_ls_chunk(lines, cand)
    ok = np.empty(n, dtype=np.bool_)
    out = {k: np.empty(n, dtype=np.int64) for k in _LS_KEYS}
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        part_ok, part = _scan_ls_chunk(lines, cand[lo:hi])
        ok[lo:hi] = part_ok
        for k in _LS_KEYS:
            out[k][lo:hi] = part[k]
    return ok, out


def _scan_ls_chunk(lines: Lines, cand: I64) -> tuple[BOOL, dict[str, I64]]:
    buf, words = lines.buf, lines.words
    n = cand.shape[0]
    b = lines.starts[cand]
    eol = lines.ends[cand]
    # "%4d": a right-aligned port, wider from 10000; then ": VCPU ".
    f = words[b] & np.uint64(0xFFFFFFFF)
    g = (f | np.uint64(0x10101010)) ^ np.uint64(0x30303030)
    ok = ((((g & _LO7) + _ADD) | g) & np.uint64(0x80808080)) == 0
    port = _swar(g, np.full(n, 4, dtype=np.uint64))
    nd = 1 + (port >= 10) + (port >= 100) + (port >= 1000)
    narrow = ((f & np.uint64(0xF0F0F0F0)) == _FIELD4[nd]) & (port > 0)
    q = b + 4
    wide = np.flatnonzero(ok & (buf[q] != ord(":")))
    if wide.size:
        wv, wn = _number(words, b[wide])
        good = (wn >= 5) & (wn <= 7)
        port[wide] = wv
        q[wide] = b[wide] + np.where(good, wn, 0)
        narrow[wide] = good
    ok &= narrow & _const(words, q, _VCPU)
    vcpu, vn = _number(words, q + len(_VCPU))
    q = q + len(_VCPU) + vn
    ok &= (vn > 0) & ((words[q] & np.uint64(0xFFFF)) == int.from_bytes(b": ", "little"))
    q = q + 2
    kind = np.full(n, 6, dtype=np.int64)  # Unknown
    rdom = np.full(n, -1, dtype=np.int64)
    rport = np.full(n, -1, dtype=np.int64)
    num = np.full(n, -1, dtype=np.int64)
    end = np.full(n, -1, dtype=np.int64)
    first = buf[q]
    # Each body is tried on the lines whose first letter fits; `end` is where a match stops.
    sel = np.flatnonzero(first == ord("I"))
    if sel.size:
        qs = q[sel]
        ipi = _const(words, qs, b"IPI")
        kind[sel[ipi]] = 5
        end[sel[ipi]] = qs[ipi] + 3
        # "Interdomain (C…" or "Interdomain (W…": byte 13 tells which literal to check in full.
        c13 = buf[qs + 13]
        for text, k in ((_CONNECTED, 2), (_WAITING, 1)):
            hit = ~ipi & (c13 == text[13])
            if not hit.any():
                continue
            hit[hit] = _const(words, qs[hit], text)
            hs, hq = sel[hit], qs[hit] + len(text)
            dv, dn = _number(words, hq)
            hq = hq + dn
            good = dn > 0
            kind[hs], rdom[hs] = k, dv
            if k == 2:
                good &= _const(words, hq, b", Port ")
                pv, pn = _number(words, hq + 7)
                good &= pn > 0
                rport[hs] = pv
                hq = hq + 7 + pn
            end[hs] = np.where(good, hq, -1)
    for letter, text, k in ((ord("V"), _VIRQ, 4), (ord("P"), _PIRQ, 3)):
        sel = np.flatnonzero(first == letter)
        if not sel.size:
            continue
        qs = q[sel]
        v, vn2 = _number(words, qs + len(text))
        good = _const(words, qs, text) & (vn2 > 0)
        kind[sel], num[sel] = k, v
        end[sel] = np.where(good, qs + len(text) + vn2, -1)
    sel = np.flatnonzero(first == ord("U"))
    if sel.size:
        qs = q[sel]
        end[sel] = np.where(_const(words, qs, b"Unknown"), qs + 7, -1)
    ok &= end == eol
    cols = {"port": port, "kind": kind, "vcpu": vcpu, "rdom": rdom, "rport": rport, "num": num}
    return ok, cols
