"""Vectorised recognition of the 'e' dump's lines (reference §9.2), every line at once.

    ok, cols, layouts = scan_edump_ports(lines)        # 'e' port lines; cols over all lines
    codes, domids, body = scan_edump_frames(lines, others)   # 'e' framing lines among the rest

Only the common shapes are accepted: an optional "(XEN) " and console timestamp, a port of up to 6
digits, single-digit p/m/s/x and an ABI field of 1 (2L) or 6 (FIFO) characters. Everything else goes to
the per-line reader in `edump.py`, which accepts a superset, so this is only an accelerator: tests check
both agree.
"""

from __future__ import annotations

import numpy as np

from evtchn.inspect import cscan
from evtchn.inspect.swar import (
    ADD,
    BOOL,
    CTZ_BYTES,
    D_EQ,
    FIELD4,
    HI,
    HIGH3,
    I64,
    I_EQ,
    LO7,
    M8,
    N_EQ,
    P_EQ,
    SPACES4,
    U64,
    V_EQ,
    X_EQ,
    Z_EQ,
    ZEROS,
    Lines,
    body_start,
    byte_at,
    bytes_mask,
    const,
    const_rows,
    digit,
    digit_at,
    digits_in,
    field_at,
    is_at,
    join_at,
    long_field,
    number,
    rows,
    swar,
    swar4,
)

# " [p/m" with p and m '0' or '1' (low bit ignored): bytes 0-4.
_G1_MASK = np.uint64(0xFEFFFEFFFF)
_G1_VAL = np.uint64(int.from_bytes(b" [0/0", "little"))
# "]: s=S n" with S left out: bytes 0-4, 6, 7.
_G2_MASK = bytes_mask(0, 1, 2, 3, 4, 6, 7)
_G2_VAL = np.uint64(int.from_bytes(b"]: s=\0 n", "little"))


CHUNK = 1 << 13  # lines per pass: rows and temporaries stay in the L2 cache
_KEYS = ("port", "kind", "vcpu", "rdom", "rport", "num", "xen", "abi", "body")


def scan_edump_ports(lines: Lines) -> tuple[BOOL, dict[str, I64], set[str]]:
    """Recognise the common shape of 'e' port lines.

    Returns (ok per line, columns over all lines (valid where ok), layouts seen). Columns: port,
    kind (EVTCHNSTAT numbering: s - 1), vcpu, rdom, rport (interdomain peer port), num (VIRQ or PIRQ),
    xen, abi (ABI field width, -1 without one); -1 where a line has no such field; and body, where
    each line's text starts after "(XEN) [ts] " (for scan_edump_frames).
    """
    n = len(lines)
    # No port line anywhere: skip the passes. memchr for "]" first (several times faster than the
    # substring search), as lsevtchn output and /proc/interrupts hold no "]" at all.
    data = lines.data  # bytes, bytearray or mmap: all have find (an mmap's `in` takes one byte only)
    if data.find(b"]") < 0 or data.find(b"]: s=") < 0:
        none = np.zeros(0, dtype=np.int64)
        return np.zeros(n, dtype=np.bool_), dict.fromkeys(_KEYS, none), set()
    if cscan.enabled():  # one pass in C over every line (_cscan.c), the same columns
        ok, out, x_first = cscan.edump_ports(data, lines.starts, lines.ends)
        return ok, out, _layouts(ok, out, x_first)
    ok = np.empty(n, dtype=np.bool_)
    x_first = np.empty(n, dtype=np.bool_)
    out = {k: np.empty(n, dtype=np.int64) for k in _KEYS if k != "rport"}
    out["rport"] = np.full(n, -1, dtype=np.int64)
    crlf = data.find(b"\r") >= 0
    xen = data.find(b"(XEN) ") >= 0
    pending: list[tuple[I64, I64, I64, BOOL]] = []
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        part_ok, part, part_x, (idx, q, eol, sec) = _scan_chunk(
            lines, lines.starts[lo:hi], lines.ends[lo:hi], crlf, xen
        )
        ok[lo:hi] = part_ok
        x_first[lo:hi] = part_x
        for k, v in part.items():
            out[k][lo:hi] = v
        if idx.size:
            pending.append((idx + lo, q, eol, sec))
    if pending:
        idx, q, eol, sec = (np.concatenate(parts) for parts in zip(*pending, strict=True))
        _finish(lines, ok, out, x_first, idx, q, eol, sec)
    return ok, out, _layouts(ok, out, x_first)


def _finish(
    lines: Lines, ok: BOOL, out: dict[str, I64], x_first: BOOL, idx: I64, q: I64, eol: I64, sec: BOOL
) -> None:
    """The lines the chunk pass left pending (`q`: where their fields read so far end), all at once:
    the second field of states 3 (" p=P") and 4 (" i=I", 4.2+) unless `sec` says it is read, 4.1's x=
    last, an XSM label " Z=..." running to the end of the line (4.2+). Sets their ok, rport and xen."""
    words, buf = lines.words, lines.buf
    s = out["kind"][idx] + 1
    xf = x_first[idx]
    good = np.ones(idx.shape[0], dtype=np.bool_)
    for lit, state in ((P_EQ, 3), (I_EQ, 4)):
        sub = np.flatnonzero((s == state) & ~sec)
        if not sub.size:
            continue
        qs = q[sub]
        has, val, nv = field_at(words, qs, lit)
        long_field(words, qs, val, nv)
        if state == 3:
            good[sub] = has & (nv > 0)
            q[sub] = qs + 3 + nv
            out["rport"][idx[sub]] = val
        else:
            good[sub] = ~has | (nv > 0)
            q[sub] = np.where(has, qs + 3 + nv, qs)
    okx = out["xen"][idx].view(np.uint64) < 10
    end = xf & okx & (q == eol)
    ok[idx] = good & end
    # The rest: 4.1 prints x= last (and has no ABI field); 4.2+ may end with an XSM label.
    rest = np.flatnonzero(good & ~end)
    if not rest.size:
        return
    idx, q, eol, xf = idx[rest], q[rest], eol[rest], xf[rest]
    x_last = ~xf & is_at(words, q, X_EQ)
    xb, okxb = digit(buf, q + 3)
    x = out["xen"][idx]
    fine = np.where(xf, okx[rest], x_last & okxb)
    out["xen"][idx] = np.where(xf, x, xb)
    q = q + x_last * np.int64(4)
    # " Z=" and then a visible character (the per-line grammar's \S; anything else is its to judge).
    has_z = xf & is_at(words, q, Z_EQ) & (buf[q + 3] - np.uint8(0x21) < 0x5E) & (q + 3 < eol)
    q = np.where(has_z, eol, q)
    ok[idx] = fine & (q == eol) & (xf | (out["abi"][idx] < 0))


def _layouts(ok: BOOL, out: dict[str, I64], x_first: BOOL) -> set[str]:
    layouts: set[str] = set()
    abi = out["abi"]
    if (ok & (abi >= 0)).any():
        layouts.add("4.4")
    plain = ok & (abi < 0)
    if plain.any():
        # An IPI line without ABI field (s=6) reads the same in 4.1 and 4.2-4.3.
        plain &= out["kind"] != 5
        if (plain & x_first).any():
            layouts.add("4.2")
        if (plain & ~x_first).any():
            layouts.add("4.1")
    return layouts


# The first field after " x=X" (4.2+) or after n= (4.1), by state s: its 3-byte key (a state with no
# field, 6, and the states that do not exist get a key no text has).
_NO_KEY = 0xFFFFFF
_FIRST_KEY = np.full(8, _NO_KEY, dtype=np.uint64)
_FIRST_KEY[2] = _FIRST_KEY[3] = D_EQ[1]
_FIRST_KEY[4] = P_EQ[1]
_FIRST_KEY[5] = V_EQ[1]
_MASK3 = np.uint64(0xFFFFFF)


def _scan_chunk(
    lines: Lines, starts: I64, ends: I64, crlf: bool, xen: bool
) -> tuple[BOOL, dict[str, I64], BOOL, tuple[I64, I64, I64, BOOL]]:
    buf, words = lines.buf, lines.words
    # Lines ending "\r\n" end one byte earlier; most files have none, so skip the pass.
    eol = ends - ((ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13)) if crlf else ends
    b = body_start(lines, starts, eol) if xen else starts.copy()
    # Two row gathers per line: the body's first 24 bytes ("    PPPP [p/m/abi   ]"), then 32 bytes from
    # "]: s=" (state, n=, x= and the fields after it); the rest are shifts of their words.
    head = rows(lines, b, 24)
    # "    %4u": four spaces, then a right-aligned port (wider from 10000).
    g0 = head[:, 0]
    ok = (g0 & SPACES4[0]) == SPACES4[1]
    f = g0 >> np.uint64(32)
    g = (f | np.uint64(0x10101010)) ^ np.uint64(0x30303030)
    ok &= ((((g & LO7) + ADD) | g) & np.uint64(0x80808080)) == 0
    port = swar4(g)
    nd = 1 + (port >= 10) + (port >= 100) + (port >= 1000)
    narrow = ((f & np.uint64(0xF0F0F0F0)) == FIELD4[nd]) & (port > 0)
    # Ports from 10000 widen the field (FIFO): "    12345 [". Read them on those lines only.
    wide = np.flatnonzero(ok & ((head[:, 1] & M8) != 32))
    body = b
    if wide.size:
        b = b.copy()
        wv, wn = number(words, b[wide] + 4)
        good = (wn >= 5) & (wn <= 6)
        port[wide] = wv
        b[wide] += np.where(good, wn - 4, 0)
        narrow[wide] = good
        head[wide] = rows(lines, b[wide], 24)
    ok &= narrow
    # " [p/m" with p, m in {0, 1}, then "]" (4.1-4.3), "/d]" (4.4+ 2L) or "/xxxxxx]" (4.4+ FIFO).
    g1 = head[:, 1]
    ok &= (g1 & _G1_MASK) == _G1_VAL
    c5 = byte_at(g1, 5)
    slash = c5 == ord("/")
    two_l = slash & (byte_at(g1, 7) == ord("]"))
    fifo = slash & ~two_l & (byte_at(head[:, 2], 4) == ord("]"))
    ok &= (c5 == ord("]")) | two_l | fifo
    abi = np.where(two_l, 1, np.where(fifo, 6, -1))
    q = b + (13 + 2 * two_l + 7 * fifo)
    tail = rows(lines, q, 32)
    t1, t2 = tail[:, 1], tail[:, 2]
    g2 = tail[:, 0]
    ok &= (g2 & _G2_MASK) == _G2_VAL
    s8 = byte_at(g2, 5) - np.uint64(48)
    ok &= (s8 - np.uint64(2)) <= 4  # s in 2..6 (below 2 wraps around)
    s = s8.view(np.int64)
    # " n=" then the notify vCPU: one or two digits on most lines ("=D " or "=DD "), else reread.
    c1 = byte_at(t1, 1) - np.uint64(48)
    b2 = byte_at(t1, 2)
    c2 = b2 - np.uint64(48)
    lead = ((t1 & M8) == ord("=")) & (c1 < 10)
    one = lead & ((b2 == 32) | (q + 10 == eol))
    two = lead & ~one & (c2 < 10) & ((byte_at(t1, 3) == 32) | (q + 11 == eol))
    nn = one + two * np.int64(2)
    vcpu = np.where(two, c1 * np.uint64(10) + c2, c1).view(np.int64)
    # After n=: " x=X" (4.2+) or the first field (4.1), `rel` bytes into the tail.
    rel = 9 + nn
    g4 = join_at(t1, t2, (rel - 8).view(np.uint64))
    multi = np.flatnonzero(ok & (nn == 0))
    if multi.size:
        key, mv, mn = field_at(words, q[multi] + 6, N_EQ)
        long_field(words, q[multi] + 6, mv, mn)
        vcpu[multi] = mv
        mn = np.where(key, mn, 0)
        ok[multi] &= mn > 0
        rel[multi] = 9 + mn
        g4[multi] = words[q[multi] + rel[multi]]
    x_first = (g4 & X_EQ[0]) == X_EQ[1]
    x, okx = digit_at(g4, 3)
    rel += x_first * np.int64(4)
    # Suffix by state: 2 " d=D"; 3 " d=D p=P"; 4 " p=P[ i=I]"; 5 " v=V"; 6 nothing. The first field
    # is read from the tail on every line at once, the second by _finish.
    first = join_at(t1, t2, (rel - 8).view(np.uint64))
    if multi.size:
        first[multi] = words[q[multi] + rel[multi]]
    key = (first & _MASK3) == _FIRST_KEY[s & 7]
    x_ = ((first >> np.uint64(24)) ^ ZEROS) | HIGH3
    nondigit = (((x_ & LO7) + ADD) | x_) & HI
    low = nondigit & (~nondigit + np.uint64(1))
    nv = (((low >> np.uint64(7)) * CTZ_BYTES) >> np.uint64(56)).view(np.int64)
    val = swar(x_, nv.view(np.uint64))
    long_field(words, q + rel, val, nv)
    has_field = s != 6
    ok &= ~has_field | (key & (nv > 0))
    rel += has_field * (3 + nv)
    rdom = np.where((s == 2) | (s == 3), val, -1)
    num = np.where((s == 4) | (s == 5), val, -1)
    # The second field (s=3 " p=P", s=4 " i=I"): from the tail where such lines are many, else left to
    # _finish with the other rare shapes (a few gathers for all chunks beat thirty calls per chunk).
    is3, is4 = s == 3, s == 4
    two = is3 | is4
    second = int(np.count_nonzero(two)) * 16 >= starts.shape[0]
    if second:
        rport = _second_field(lines, tail, q, rel, is3, two, ok)
    q += rel
    # Most lines end here: 4.2+ with x= read and one field or none. The rest (a second field, 4.1's
    # x= last, an XSM label, garbage) are left to _finish, all chunks' at once.
    done = x_first & okx & (q == eol)
    if not second:
        done &= (s != 3) & (s != 4)
    idx = np.flatnonzero(ok & ~done)
    ok &= done
    fields = {
        "port": port,
        "kind": s - 1,
        "vcpu": vcpu,
        "rdom": rdom,
        "num": num,
        "xen": x,
        "abi": abi,
        "body": body,
    }
    if second:
        fields["rport"] = rport
    return ok, fields, x_first, (idx, q[idx], eol[idx], np.full(idx.shape[0], second))


def _second_field(lines: Lines, tail: U64, q: I64, rel: I64, is3: BOOL, two: BOOL, ok: BOOL) -> I64:
    """The second field of every line of states 3 and 4 (`two`), `rel` bytes after `q`, from the
    tail rows (every line at once: they are many). Updates rel and ok in place, returns rport."""
    upper = rel >= 16
    lo = np.where(upper, tail[:, 2], tail[:, 1])
    hi = np.where(upper, tail[:, 3], tail[:, 2])
    w2 = join_at(lo, hi, (rel & 7).view(np.uint64))
    far = np.flatnonzero(two & ok & (rel > 24))  # past the 32-byte tail
    if far.size:
        w2[far] = lines.words[q[far] + rel[far]]
    has2 = (w2 & _MASK3) == np.where(is3, P_EQ[1], I_EQ[1])
    val2, nv2 = digits_in(w2 >> np.uint64(24))
    long = np.flatnonzero(two & (nv2 == 5))
    if long.size:
        v5, n5 = val2[long], nv2[long]
        long_field(lines.words, q[long] + rel[long], v5, n5)
        val2[long], nv2[long] = v5, n5
    # s=3 needs " p=P"; s=4 may have " i=I" (4.2+ print the Xen IRQ behind the PIRQ).
    ok &= ~two | np.where(is3, has2 & (nv2 > 0), ~has2 | (nv2 > 0))
    rel += (two & has2) * (3 + nv2)
    rport: I64 = np.where(is3, val2, -1)
    return rport


# ---------------------------------------------------------------- framing lines

FRAME_NONE, FRAME_PRESSED, FRAME_DOMAIN, FRAME_POLLING, FRAME_HEADER_OLD, FRAME_HEADER_NEW = range(6)
FRAME_QUIET = 6  # not 'e' framing: a console or log line of no dump (set by evtchn.inspect.quiet)


def scan_edump_frames(lines: Lines, candidates: I64, body: I64 | None = None) -> tuple[I64, I64, I64]:
    """Classify the 'e' dump's framing lines among `candidates` (line indices): returns, per candidate,
    the frame code, the domid for FRAME_DOMAIN (else -1) and where the text starts after "(XEN) [ts] "
    (`body`, when the caller has it from scan_edump_ports).
    Anything unusual is left to the per-line parser. Each shape is checked only on the lines whose
    first character fits (most lines fit none)."""
    buf, words = lines.buf, lines.words
    starts, ends = lines.starts[candidates], lines.ends[candidates]
    eol = ends - ((ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13))
    b = body_start(lines, starts, eol) if body is None else body
    code = np.zeros(candidates.shape[0], dtype=np.int64)
    domid = np.full(candidates.shape[0], -1, dtype=np.int64)
    first = buf[b]
    sel = np.flatnonzero((first == ord("'")) & (buf[b + 2] == ord("'")))
    if sel.size:
        bs = b[sel]
        hit = const_rows(lines, bs + 3, b" pressed -> dumping event-channel info") & (bs + 41 == eol[sel])
        code[sel[hit]] = FRAME_PRESSED
    head = b"Event channel information for domain "
    sel = np.flatnonzero(first == ord("E"))
    if sel.size:
        bs = b[sel]
        val, nd = number(words, bs + len(head))
        dom = const_rows(lines, bs, head) & (nd > 0) & (nd < 7)
        dom &= buf[bs + len(head) + np.maximum(nd, 0)] == ord(":")
        dom &= bs + len(head) + nd + 1 == eol[sel]
        code[sel[dom]] = FRAME_DOMAIN
        domid[sel[dom]] = val[dom]
    sel = np.flatnonzero(first == ord("P"))
    if sel.size:
        bs, es = b[sel], eol[sel]
        poll = (
            const(words, bs, b"Polling vCPUs: {") & (buf[np.maximum(es - 1, 0)] == ord("}")) & (es - bs >= 17)
        )
        code[sel[poll]] = FRAME_POLLING
    sel = np.flatnonzero((first == 32) & (buf[b + 4] == ord("p")))
    if sel.size:
        bs, es = b[sel], eol[sel]
        port_hdr = const(words, bs, b"    port [p/m")
        code[sel[port_hdr & const(words, bs + 13, b"]") & (bs + 14 == es)]] = FRAME_HEADER_OLD
        code[sel[port_hdr & const(words, bs + 13, b"/s]") & (bs + 16 == es)]] = FRAME_HEADER_NEW
    return code, domid, b
