"""Reader for lsevtchn output (reference §9.1): `"%4d: VCPU %u: "` + body per port, with the shell
prompt that names the domid, the tool's error lines, and several outputs one after another.

    ok, cols = scan_lsevtchn_ports(lines, candidates)   # vectorised: the common shapes
    verdict = line(sink, lineno, text)                  # per line: a superset

A port that does not increase starts a new table, as a second `lsevtchn` run does.
"""

from __future__ import annotations

import re

import numpy as np

from evtchn.inspect import cscan
from evtchn.inspect.cparse import strtol10
from evtchn.inspect.model import Kind, Source
from evtchn.inspect.readers.base import TOO_BIG, Row, Sink, Verdict, num
from evtchn.inspect.swar import ADD, BOOL, FIELD4, I64, LO7, M8, Lines, digits_in, join_at, lit, rows, swar4

CHUNK = 1 << 13  # lines per pass: its rows (64 bytes a line) stay in the L2 cache

_LS_LINE = re.compile(r"^ *(\d+): VCPU (\d+): (.*)$")
_LS_BODY: list[tuple[re.Pattern[str], Kind]] = [
    (re.compile(r"^Interdomain \(Connected\) - Remote Domain (\d+), Port (\d+)$"), Kind.INTERDOMAIN),
    (re.compile(r"^Interdomain \(Waiting connection\) - Remote Domain (\d+)$"), Kind.UNBOUND),
    (re.compile(r"^Virtual IRQ (\d+)$"), Kind.VIRQ),
    (re.compile(r"^Physical IRQ (\d+)$"), Kind.PIRQ),
    (re.compile(r"^IPI$"), Kind.IPI),
    (re.compile(r"^Unknown$"), Kind.UNKNOWN),
]
LS_COMMAND = re.compile(r"(?:^|[\s/#$>])lsevtchn(?:\s+(\S+))?(?:\s.*)?$")
LS_ERROR = re.compile(r"^(?:xc_evtchn_status: .*|lsevtchn: failed to open control interface)$")


def port_line(m: re.Match[str]) -> Row | str:
    port, vcpu, body = num(m.group(1)), num(m.group(2)), m.group(3)
    for rx, kind in _LS_BODY:
        b = rx.match(body)
        if b is None:
            continue
        row = Row(port=port, kind=int(kind), vcpu=vcpu)
        if kind == Kind.INTERDOMAIN:
            row.rdom, row.rport = num(b.group(1)), num(b.group(2))
        elif kind == Kind.UNBOUND:
            row.rdom = num(b.group(1))
        elif kind in (Kind.VIRQ, Kind.PIRQ):
            row.number = num(b.group(1))
        return TOO_BIG if row.too_big() else row
    return "unknown lsevtchn line body"


def line(sink: Sink, lineno: int, text: str) -> Verdict:
    m = _LS_LINE.match(text)
    if m:
        got = port_line(m)
        if isinstance(got, str):
            return got
        if sink.ls is None or got.port <= sink.ls.last_port:
            sink.ls = sink.new(Source.LSEVTCHN, sink.ls_domid, lineno)
            sink.ls_domid = None
        sink.add(sink.ls, got)
        return True
    c = LS_COMMAND.search(text)
    if c and not text.startswith(" "):
        sink.ls_domid = strtol10(c.group(1)) & 0xFFFF if c.group(1) else 0
        sink.ls = None
        return True
    if LS_ERROR.match(text):
        sink.dump.notes.append(f"line {lineno}: lsevtchn reported {text!r}")
        return True
    return None


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
    if cscan.enabled():  # one pass in C over the candidates (_cscan.c), the same columns
        return cscan.ls_ports(lines.data, lines.starts, lines.ends, cand)
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


def _word(text: bytes) -> np.uint64:
    return lit(text)[1]


def _words_of(text: bytes) -> list[tuple[int, np.uint64, np.uint64]]:
    """(column, mask, value) to compare `text` against a row's 8-byte columns."""
    return [(k // 8, *lit(text[k : k + 8])) for k in range(0, len(text), 8)]


_VC = _word(b": VC")
_PU = _word(b"PU ")
_COLON = _word(b": ")
_INTERDOM = _word(b"Interdom")
_VIRTUAL = _word(b"Virtual ")
_PHYSICAL = _word(b"Physical")
_IRQ = _word(b" IRQ ")  # after "Physical"
_IRQ_V = _word(b"IRQ ")  # after "Virtual "
_IPI = _word(b"IPI")
_UNKNOWN = _word(b"Unknown")
_PORT = _word(b", Port ")
_M2, _M3, _M4, _M5, _M7 = (np.uint64((1 << (8 * k)) - 1) for k in (2, 3, 4, 5, 7))
_CONNECTED_WORDS = _words_of(_CONNECTED)
_WAITING_WORDS = _words_of(_WAITING)


def _scan_ls_chunk(lines: Lines, cand: I64) -> tuple[BOOL, dict[str, I64]]:
    n = cand.shape[0]
    b = lines.starts[cand]
    eol = lines.ends[cand]
    # Two row gathers per line: 24 bytes from the start ("%4d: VCPU %u: "), 64 from the body; the
    # fields are shifts and masks of their words.
    head = rows(lines, b, 24)
    h0 = head[:, 0]
    # "%4d": a right-aligned port, wider from 10000; then ": VCPU ".
    f = h0 & np.uint64(0xFFFFFFFF)
    g = (f | np.uint64(0x10101010)) ^ np.uint64(0x30303030)
    ok = ((((g & LO7) + ADD) | g) & np.uint64(0x80808080)) == 0
    port = swar4(g)
    nd = 1 + (port >= 10) + (port >= 100) + (port >= 1000)
    narrow = ((f & np.uint64(0xF0F0F0F0)) == FIELD4[nd]) & (port > 0)
    q = b + 4  # where ": VCPU " starts
    wide = np.flatnonzero(ok & (((h0 >> np.uint64(32)) & np.uint64(0xFF)) != ord(":")))
    if wide.size:
        wv, wn = digits_in(h0[wide])
        good = (wn >= 5) & (wn <= 7)
        port[wide] = wv
        q[wide] += np.where(good, wn - 4, 0)
        narrow[wide] = good
        head[wide] = rows(lines, q[wide] - 4, 24)
        h0 = head[:, 0]
    h1 = head[:, 1]
    ok &= narrow & ((h0 >> np.uint64(32)) == _VC) & ((h1 & _M3) == _PU)
    # The vCPU from byte 11, then ": ".
    vw = (h1 >> np.uint64(24)) | (head[:, 2] << np.uint64(40))
    # One or two digits and ": " on most lines; longer vCPU numbers are read on their own.
    c1 = (vw & M8) - np.uint64(48)
    b1 = (vw >> np.uint64(8)) & M8
    c2 = b1 - np.uint64(48)
    one = (c1 < 10) & (((vw >> np.uint64(8)) & _M2) == _COLON)
    two = (c1 < 10) & (c2 < 10) & (((vw >> np.uint64(16)) & _M2) == _COLON)
    vcpu = np.where(two, c1 * np.uint64(10) + c2, c1).view(np.int64)
    vn = one + two * np.int64(2)
    more = np.flatnonzero(ok & (vn == 0))
    if more.size:
        w = vw[more]
        mv, mn = digits_in(w)
        vcpu[more], vn[more] = (
            mv,
            np.where(((w >> (mn.view(np.uint64) << np.uint64(3))) & _M2) == _COLON, mn, 0),
        )
    ok &= vn > 0
    q += 9 + vn  # the body
    live = np.flatnonzero(ok)
    if live.shape[0] * 2 < n:  # few lsevtchn lines here (an 'e' dump's framing, a log): just those
        kind = np.full(n, 6, dtype=np.int64)
        rdom, rport, num, end = (np.full(n, -1, dtype=np.int64) for _ in range(4))
        if live.size:
            got = _body(lines, q[live], eol[live])
            for col, part in zip((kind, rdom, rport, num, end), got, strict=True):
                col[live] = part
    else:
        kind, rdom, rport, num, end = _body(lines, q, eol)
    ok &= end == eol
    cols = {"port": port, "kind": kind, "vcpu": vcpu, "rdom": rdom, "rport": rport, "num": num}
    return ok, cols


def _body(lines: Lines, q: I64, eol: I64) -> tuple[I64, I64, I64, I64, I64]:
    """The body of lsevtchn lines starting at `q`: (kind, rdom, rport, num, where the body ends; -1 when
    it is none of the known bodies)."""
    n = q.shape[0]
    body = rows(lines, np.minimum(q, eol), 64)  # a body past the line's end is no body
    c0, c1, c2 = body[:, 0], body[:, 1], body[:, 2]
    kind = np.full(n, 6, dtype=np.int64)  # Unknown
    rdom = np.full(n, -1, dtype=np.int64)
    rport = np.full(n, -1, dtype=np.int64)
    end = np.where((c0 & _M7) == _UNKNOWN, q + 7, -1)
    ipi = (c0 & _M3) == _IPI
    kind[ipi] = 5
    end[ipi] = q[ipi] + 3
    # "Virtual IRQ N" and "Physical IRQ N": one number window for both.
    virq = (c0 == _VIRTUAL) & ((c1 & _M4) == _IRQ_V)
    pirq = (c0 == _PHYSICAL) & ((c1 & _M5) == _IRQ)
    irq = np.flatnonzero(virq | pirq)
    num = np.full(n, -1, dtype=np.int64)
    if irq.size:  # the number on those lines only (a fifth of a guest's lines)
        p = pirq[irq]
        shift = p.view(np.uint8).astype(np.uint64) + np.uint64(4)
        numv, numn = digits_in(join_at(c1[irq], c2[irq], shift))
        kind[irq] = np.where(p, 3, 4)
        num[irq] = numv
        end[irq] = np.where(numn > 0, q[irq] + 8 + shift.view(np.int64) + numn, -1)
    sel = np.flatnonzero(c0 == _INTERDOM)
    if sel.size:
        bs, qs = body[sel], q[sel]
        b1 = bs[:, 1]
        # Connected: "Interdomain (Connected) - Remote Domain D, Port P", five whole words then D at
        # byte 40; most interdomain lines are these.
        conn = b1 == _CONNECTED_WORDS[1][2]
        for k, _mask, value in _CONNECTED_WORDS[2:]:
            conn &= bs[:, k] == value
        b5, b6 = bs[:, 5], bs[:, 6]
        dv, dn = digits_in(b5)
        comma = join_at(b5, b6, dn.view(np.uint64))
        pv, pn = digits_in(join_at(b6, bs[:, 7], (dn - 1).view(np.uint64)))
        conn &= (dn > 0) & ((comma & _M7) == _PORT) & (pn > 0)
        kind[sel] = 2
        rdom[sel] = dv
        rport[sel] = pv
        end[sel] = np.where(conn, qs + 47 + dn + pn, -1)
        # Waiting: "Interdomain (Waiting connection) - Remote Domain D", D at byte 49.
        wait = np.flatnonzero(b1 == _WAITING_WORDS[1][2])
        if wait.size:
            bw = bs[wait]
            good = np.ones(wait.shape[0], dtype=np.bool_)
            for k, mask, value in _WAITING_WORDS[2:]:
                good &= (bw[:, k] & mask) == value
            wv, wn = digits_in(join_at(bw[:, 6], bw[:, 7], np.uint64(1)))
            at = sel[wait]
            kind[at] = 1
            rdom[at] = wv
            rport[at] = -1
            end[at] = np.where(good & (wn > 0), qs[wait] + 49 + wn, -1)
    return kind, rdom, rport, num, end
