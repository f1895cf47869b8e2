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

from evtchn.inspect.swar import (
    ADD,
    BOOL,
    D_EQ,
    FIELD4,
    I64,
    I_EQ,
    LO7,
    M8,
    N_EQ,
    P_EQ,
    SPACES4,
    V_EQ,
    X_EQ,
    Z_EQ,
    Lines,
    body_start,
    byte_at,
    bytes_mask,
    const,
    digit,
    digit_at,
    field_at,
    is_at,
    long_field,
    number,
    swar,
)

# " [p/m" with p and m '0' or '1' (low bit ignored): bytes 0-4.
_G1_MASK = np.uint64(0xFEFFFEFFFF)
_G1_VAL = np.uint64(int.from_bytes(b" [0/0", "little"))
# "]: s=S n" with S left out: bytes 0-4, 6, 7.
_G2_MASK = bytes_mask(0, 1, 2, 3, 4, 6, 7)
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
    # No port line anywhere: skip the passes. memchr for "]" first (several times faster than the
    # substring search), as lsevtchn output and /proc/interrupts hold no "]" at all.
    if b"]" not in lines.data or b"]: s=" not in lines.data:
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
    b = body_start(lines, starts, eol) if xen else starts.copy()
    # "    %4u": four spaces, then a right-aligned port (wider from 10000).
    g0 = words[b]
    ok = (g0 & SPACES4[0]) == SPACES4[1]
    f = g0 >> np.uint64(32)
    g = (f | np.uint64(0x10101010)) ^ np.uint64(0x30303030)
    ok &= ((((g & LO7) + ADD) | g) & np.uint64(0x80808080)) == 0
    port = swar(g, np.full(n_lines, 4, dtype=np.uint64))
    nd = 1 + (port >= 10) + (port >= 100) + (port >= 1000)
    narrow = ((f & np.uint64(0xF0F0F0F0)) == FIELD4[nd]) & (port > 0)
    # Ports from 10000 widen the field (FIFO): "    12345 [". Read them on those lines only.
    wide = np.flatnonzero(ok & (buf[b + 8] != 32))
    if wide.size:
        wv, wn = number(words, b[wide] + 4)
        good = (wn >= 5) & (wn <= 6)
        port[wide] = wv
        b[wide] += np.where(good, wn - 4, 0)
        narrow[wide] = good
    ok &= narrow
    # " [p/m" with p, m in {0, 1}, then "]" (4.1-4.3), "/d]" (4.4+ 2L) or "/xxxxxx]" (4.4+ FIFO).
    g1 = words[b + 8]
    ok &= (g1 & _G1_MASK) == _G1_VAL
    c5 = byte_at(g1, 5)
    slash = c5 == ord("/")
    two_l = slash & (byte_at(g1, 7) == ord("]"))
    fifo = slash & ~two_l & (buf[b + 20] == ord("]"))
    ok &= (c5 == ord("]")) | two_l | fifo
    abi = np.where(two_l, 1, np.where(fifo, 6, -1))
    q = b + np.where(two_l, 15, np.where(fifo, 20, 13))
    g2 = words[q]
    ok &= (g2 & _G2_MASK) == _G2_VAL
    s = byte_at(g2, 5).view(np.int64) - 48
    ok &= (s >= 2) & (s <= 6)
    # " n=" then the notify vCPU: one digit on most lines ("=D " read at once), else reread.
    g3 = words[q + 8]
    d1 = byte_at(g3, 1) - np.uint64(48)
    single = ((g3 & M8) == ord("=")) & (d1 < 10) & ((byte_at(g3, 2) == 32) | (q + 10 == eol))
    vcpu = d1.view(np.int64)
    nn = np.ones(n_lines, dtype=np.int64)
    multi = np.flatnonzero(ok & ~single)
    if multi.size:
        key, mv, mn = field_at(words, q[multi] + 6, N_EQ)
        long_field(words, q[multi] + 6, mv, mn)
        vcpu[multi] = mv
        nn[multi] = np.where(key, mn, 0)
    ok &= nn > 0
    q = q + 9 + nn
    # 4.2+: " x=X" now; 4.1: after the suffix.
    g4 = words[q]
    x_first = (g4 & X_EQ[0]) == X_EQ[1]
    x, okx = digit_at(g4, 3)
    q += x_first * np.int64(4)
    # Suffix by state: 2 " d=D"; 3 " d=D p=P"; 4 " p=P[ i=I]"; 5 " v=V"; 6 nothing. Each field is read
    # only on the lines that have it.
    rdom = np.full(n_lines, -1, dtype=np.int64)
    rport = np.full(n_lines, -1, dtype=np.int64)
    num = np.full(n_lines, -1, dtype=np.int64)
    for lit, states in ((D_EQ, (2, 3)), (P_EQ, (3, 4)), (V_EQ, (5, 5))):
        sel = np.flatnonzero((s == states[0]) | (s == states[1]))
        if not sel.size:
            continue
        qs = q[sel]
        key, val, nv = field_at(words, qs, lit)
        long_field(words, qs, val, nv)
        ok[sel] &= key & (nv > 0)
        q[sel] = qs + 3 + nv
        if lit is D_EQ:
            rdom[sel] = val
        elif lit is V_EQ:
            num[sel] = val
        else:
            is3 = s[sel] == 3
            rport[sel[is3]] = val[is3]
            num[sel[~is3]] = val[~is3]
    sel = np.flatnonzero(s == 4)
    if sel.size:
        qs = q[sel]
        has_i, val, nv = field_at(words, qs, I_EQ)
        long_field(words, qs, val, nv)
        ok[sel] &= ~has_i | (nv > 0)
        q[sel] = np.where(has_i, qs + 3 + nv, qs)
    x_last = ~x_first & is_at(words, q, X_EQ)
    xb, okxb = digit(buf, q + 3)
    ok &= np.where(x_first, okx, x_last & okxb)
    x = np.where(x_first, x, xb)
    q += x_last * np.int64(4)
    # An XSM label " Z=..." runs to the end of the line (4.2+).
    has_z = x_first & is_at(words, q, Z_EQ)
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
FRAME_QUIET = 6  # not 'e' framing: a console or log line of no dump (set by evtchn.inspect.quiet)


def scan_edump_frames(lines: Lines, candidates: I64) -> tuple[I64, I64, I64]:
    """Classify the 'e' dump's framing lines among `candidates` (line indices): returns, per candidate,
    the frame code, the domid for FRAME_DOMAIN (else -1) and where the text starts after "(XEN) [ts] ".
    Anything unusual is left to the per-line parser. Each shape is checked only on the lines whose
    first character fits (most lines fit none)."""
    buf, words = lines.buf, lines.words
    starts, ends = lines.starts[candidates], lines.ends[candidates]
    eol = ends - ((ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13))
    b = body_start(lines, starts, eol)
    code = np.zeros(candidates.shape[0], dtype=np.int64)
    domid = np.full(candidates.shape[0], -1, dtype=np.int64)
    first = buf[b]
    sel = np.flatnonzero((first == ord("'")) & (buf[b + 2] == ord("'")))
    if sel.size:
        bs = b[sel]
        hit = const(words, bs + 3, b" pressed -> dumping event-channel info") & (bs + 41 == eol[sel])
        code[sel[hit]] = FRAME_PRESSED
    head = b"Event channel information for domain "
    sel = np.flatnonzero(first == ord("E"))
    if sel.size:
        bs = b[sel]
        val, nd = number(words, bs + len(head))
        dom = const(words, bs, head) & (nd > 0) & (nd < 7)
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
