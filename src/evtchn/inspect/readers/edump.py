"""Reader for the 'e' debug key's dump (reference §9.2), line by line: the grammar of every layout.

    'e' pressed -> dumping event-channel info
    Event channel information for domain 0:
    Polling vCPUs: {}
        port [p/m/s]
           1 [0/0/1]: s=5 n=0 x=0 v=0

4.1 prints `x=` last and has no ABI field; 4.2-4.3 print `x=` after `n=` (pirq `i=`, XSM ` Z=`); 4.4+
add the ABI field (2L: one digit; FIFO: six characters). The vectorised scanner in `edump_scan.py`
takes the common shapes of big dumps; every other line comes here, which accepts a superset.
"""

from __future__ import annotations

import re

from evtchn.inspect.model import NONE, Source
from evtchn.inspect.readers.base import TOO_BIG, Row, Sink, Verdict, num

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


def port_line(body: str) -> tuple[Row, str, int] | str:
    """An 'e' port line (prefix removed) → (row, layout, ABI width) or the reason it is not one."""
    m = _E_PORT.match(body)
    if m is None:
        return "not a port line"
    port, _pend, _mask, abi, s_txt, n_txt, rest = m.groups()
    s = num(s_txt)
    if s not in _E_SUFFIX:
        return f"unknown state s={s}"
    new = _E_REST_NEW[s].match(rest)
    old = None if new or abi is not None else _E_REST_OLD[s].match(rest)
    hit = new or old
    if hit is None:
        return f"fields after s={s} do not match any layout"
    g = hit.groupdict()

    def field(key: str) -> int:
        v = g.get(key)
        return num(v) if v is not None else NONE

    number = field("v") if s == 5 else field("p") if s == 4 else NONE
    row = Row(
        port=num(port),
        kind=s - 1,
        vcpu=num(n_txt),
        rdom=field("d"),
        rport=field("p") if s == 3 else NONE,
        number=number,
        xen=num(g["x"]),
    )
    if row.too_big():
        return TOO_BIG
    # An IPI line ("s=6 n=0 x=0") reads the same in 4.1 and 4.2-4.3.
    layout = "4.4" if abi is not None else ("" if s == 6 else "4.1" if old else "4.2")
    return row, layout, len(abi) if abi is not None else -1


def line(sink: Sink, lineno: int, text: str) -> Verdict:
    first = text[0]
    if first == "'" and _E_PRESSED.match(text):
        sink.e_seen = True
        sink.edump = None
        return True
    m = _E_DOMAIN.match(text) if first == "E" else None
    if m:
        sink.e_seen = True
        sink.edump = sink.new(Source.EDUMP, num(m.group(1)), lineno)
        return True
    if (first in "PD" and _E_POLL.match(text)) or (first == " " and _E_HEADER.match(text)):
        sink.e_seen = True
        if text.endswith("/s]"):
            sink.dump.layouts.add("4.4")  # "port [p/m]" is both 4.1's and 4.2's
        return True
    if not text.startswith("    ") or "]: s=" not in text:
        return None
    got = port_line(text)
    if isinstance(got, str):
        return got
    row, layout, abi = got
    sink.e_seen = True
    if layout:
        sink.dump.layouts.add(layout)
    t = sink.edump_table(lineno)
    if abi >= 0:
        t.fifo = bool(t.fifo) or abi >= 6
    sink.add(t, row)
    return True
