"""Reader for lsevtchn output (reference §9.1): `"%4d: VCPU %u: "` + body per port, with the shell
prompt that names the domid, the tool's error lines, and several outputs one after another.

    ok, cols = scan_lsevtchn_ports(lines, candidates)   # vectorised: the common shapes
    verdict = line(sink, lineno, text)                  # per line: a superset

A port that does not increase starts a new table, as a second `lsevtchn` run does.
"""

from __future__ import annotations

import re

import numpy as np

from evtchn.inspect.cparse import strtol10
from evtchn.inspect.model import Kind, Source
from evtchn.inspect.readers.base import TOO_BIG, Row, Sink, Verdict, num
from evtchn.inspect.swar import ADD, BOOL, FIELD4, I64, LO7, Lines, const, number, swar

CHUNK = 1 << 15  # lines per pass

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
    ok = ((((g & LO7) + ADD) | g) & np.uint64(0x80808080)) == 0
    port = swar(g, np.full(n, 4, dtype=np.uint64))
    nd = 1 + (port >= 10) + (port >= 100) + (port >= 1000)
    narrow = ((f & np.uint64(0xF0F0F0F0)) == FIELD4[nd]) & (port > 0)
    q = b + 4
    wide = np.flatnonzero(ok & (buf[q] != ord(":")))
    if wide.size:
        wv, wn = number(words, b[wide])
        good = (wn >= 5) & (wn <= 7)
        port[wide] = wv
        q[wide] = b[wide] + np.where(good, wn, 0)
        narrow[wide] = good
    ok &= narrow & const(words, q, _VCPU)
    vcpu, vn = number(words, q + len(_VCPU))
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
        ipi = const(words, qs, b"IPI")
        kind[sel[ipi]] = 5
        end[sel[ipi]] = qs[ipi] + 3
        # "Interdomain (C…" or "Interdomain (W…": byte 13 tells which literal to check in full.
        c13 = buf[qs + 13]
        for text, k in ((_CONNECTED, 2), (_WAITING, 1)):
            hit = ~ipi & (c13 == text[13])
            if not hit.any():
                continue
            hit[hit] = const(words, qs[hit], text)
            hs, hq = sel[hit], qs[hit] + len(text)
            dv, dn = number(words, hq)
            hq = hq + dn
            good = dn > 0
            kind[hs], rdom[hs] = k, dv
            if k == 2:
                good &= const(words, hq, b", Port ")
                pv, pn = number(words, hq + 7)
                good &= pn > 0
                rport[hs] = pv
                hq = hq + 7 + pn
            end[hs] = np.where(good, hq, -1)
    for letter, text, k in ((ord("V"), _VIRQ, 4), (ord("P"), _PIRQ, 3)):
        sel = np.flatnonzero(first == letter)
        if not sel.size:
            continue
        qs = q[sel]
        v, vn2 = number(words, qs + len(text))
        good = const(words, qs, text) & (vn2 > 0)
        kind[sel], num[sel] = k, v
        end[sel] = np.where(good, qs + len(text) + vn2, -1)
    sel = np.flatnonzero(first == ord("U"))
    if sel.size:
        qs = q[sel]
        end[sel] = np.where(const(words, qs, b"Unknown"), qs + 7, -1)
    ok &= end == eol
    cols = {"port": port, "kind": kind, "vcpu": vcpu, "rdom": rdom, "rport": rport, "num": num}
    return ok, cols
