"""What the parsers produce: plain dataclasses with no tie to the simulator (reference §9).

    dump = parse_text(text)
    for table in dump.tables:            # one domain's ports from one source
        for ch in table.channels():      # Channel(domid, port, kind, vcpu, remote_dom, ...)
            ...

A table keeps its columns as numpy arrays so that a million-line dump parses and aggregates without a
Python object per port; `channels()` builds the objects on demand.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from evtchn.inspect.findings import Evidence, Message, XsTree

IntArray = npt.NDArray[np.int64]


class ParseError(Exception):
    """The input is in none of the known formats (or cannot be read)."""


class Kind(enum.IntEnum):
    """EVTCHNSTAT numbering (lsevtchn's view); the 'e' dump's s= is this + 1 (reference §2.1, §9.2)."""

    UNBOUND = 1
    INTERDOMAIN = 2
    PIRQ = 3
    VIRQ = 4
    IPI = 5
    UNKNOWN = 6

    @property
    def label(self) -> str:
        return self.name.lower()


class Source(enum.StrEnum):
    LSEVTCHN = "lsevtchn"
    EDUMP = "edump"
    INTERRUPTS = "interrupts"


NONE = -1  # a column value the source does not give


@dataclass(frozen=True, slots=True)
class Channel:
    """One port of one domain as a dump shows it; NONE (-1) where the source has no value."""

    domid: int | None
    port: int
    kind: Kind
    vcpu: int
    remote_dom: int = NONE
    remote_port: int = NONE
    number: int = NONE  # VIRQ or PIRQ number
    xen: int = NONE  # Xen-consumer field of the 'e' dump
    name: str = ""  # /proc/interrupts action, e.g. "evtchn:xenstored"


@dataclass(frozen=True, slots=True)
class BadLine:
    lineno: int
    text: str
    reason: str
    file: str = ""

    def describe(self) -> str:
        where = f"{self.file}:{self.lineno}" if self.file else f"line {self.lineno}"
        return f"{where}: {self.reason}: {self.text[:80]!r}"


def _empty() -> IntArray:
    return np.zeros(0, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class Columns:
    """Port columns shared by the tables of one parse; a table is a row range of them."""

    port: IntArray
    kind: IntArray
    vcpu: IntArray
    remote_dom: IntArray
    remote_port: IntArray
    number: IntArray
    xen: IntArray


def _no_columns() -> Columns:
    e = _empty()
    return Columns(e, e, e, e, e, e, e)


@dataclass(slots=True)
class Table:
    """One domain's ports from one source, in file order. `domid` is None when the text does not say.

    The columns (`port`, `kind`, `vcpu`, `remote_dom`, `remote_port`, `number`, `xen`) are rows
    [lo, hi) of `cols`, which several tables may share, so a dump of thousands of domains costs no copy.
    """

    source: Source
    domid: int | None
    line: int  # 1-based line number where the table starts
    cols: Columns = field(default_factory=_no_columns)
    lo: int = 0
    hi: int = 0
    names: list[str] | None = None  # /proc/interrupts action names
    domid_inferred: bool = False
    fifo: bool | None = None  # 'e' dump 4.4+: the ABI field says FIFO (6 characters) rather than 2L
    file: str = ""
    guest: bool = False  # /proc/interrupts of a guest: its own frontends, not dom0's backends
    layout: str = ""  # how the source printed it, e.g. "joined chip names" for an older /proc/interrupts

    @property
    def port(self) -> IntArray:
        return self.cols.port[self.lo : self.hi]

    @property
    def kind(self) -> IntArray:
        return self.cols.kind[self.lo : self.hi]

    @property
    def vcpu(self) -> IntArray:
        return self.cols.vcpu[self.lo : self.hi]

    @property
    def remote_dom(self) -> IntArray:
        return self.cols.remote_dom[self.lo : self.hi]

    @property
    def remote_port(self) -> IntArray:
        return self.cols.remote_port[self.lo : self.hi]

    @property
    def number(self) -> IntArray:
        return self.cols.number[self.lo : self.hi]

    @property
    def xen(self) -> IntArray:
        return self.cols.xen[self.lo : self.hi]

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.file else f"line {self.line}"

    def __len__(self) -> int:
        return self.hi - self.lo

    def channels(self) -> Iterator[Channel]:
        names = self.names
        cols = zip(
            self.port.tolist(),
            self.kind.tolist(),
            self.vcpu.tolist(),
            self.remote_dom.tolist(),
            self.remote_port.tolist(),
            self.number.tolist(),
            self.xen.tolist(),
            strict=True,
        )
        for i, (port, kind, vcpu, rdom, rport, num, xen) in enumerate(cols):
            yield Channel(
                self.domid, port, Kind(kind), vcpu, rdom, rport, num, xen, names[i] if names else ""
            )

    def kind_counts(self) -> dict[Kind, int]:
        counts = np.bincount(self.kind, minlength=len(Kind) + 1)
        return {k: int(counts[k]) for k in Kind if counts[k]}

    def remote_counts(self, kinds: tuple[Kind, ...] = (Kind.INTERDOMAIN,)) -> dict[int, int]:
        """Ports per remote domain among the given kinds (unknown remotes, -1, left out)."""
        sel = np.isin(self.kind, np.array([int(k) for k in kinds], dtype=np.int64))
        doms = self.remote_dom[sel]
        doms = doms[doms >= 0]
        if doms.size == 0:
            return {}
        values, counts = np.unique(doms, return_counts=True)
        return {int(v): int(c) for v, c in zip(values.tolist(), counts.tolist(), strict=True)}


@dataclass(slots=True)
class Dump:
    """Everything found in one or more captured files."""

    tables: list[Table] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)  # garbled or unknown lines
    cut: list[BadLine] = field(default_factory=list)  # a first/last line cut by a wrapped console ring
    lines: int = 0
    other: int = 0  # console lines that belong to no dump (the rest of `xl dmesg`)
    recognised: int = 0  # known lines that are not ports: headers, prompts, non-Xen interrupts
    blank: int = 0
    layouts: set[str] = field(default_factory=set)  # 'e' layouts seen: "4.1", "4.2", "4.4"
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)  # recognised error messages
    evidence: list[Evidence] = field(default_factory=list)  # ABI and version banners
    xenstore: XsTree | None = None  # from xenstore-ls output
    unwrapped: list[str] = field(default_factory=list)  # what was undone to read pasted text

    @property
    def ports(self) -> int:
        return sum(len(t) for t in self.tables)

    def accounted(self) -> int:
        """Lines parsed as ports or recognised, blank, other console output, bad or cut: all of them."""
        return self.ports + self.recognised + self.blank + self.other + len(self.bad) + len(self.cut)

    @property
    def sources(self) -> set[Source]:
        return {t.source for t in self.tables}

    def merge(self, other: Dump) -> Dump:
        return Dump(
            tables=self.tables + other.tables,
            bad=self.bad + other.bad,
            cut=self.cut + other.cut,
            lines=self.lines + other.lines,
            other=self.other + other.other,
            recognised=self.recognised + other.recognised,
            blank=self.blank + other.blank,
            layouts=self.layouts | other.layouts,
            notes=self.notes + other.notes,
            files=self.files + other.files,
            messages=self.messages + other.messages,
            evidence=self.evidence + other.evidence,
            xenstore=_merge_xs(self.xenstore, other.xenstore),
            unwrapped=self.unwrapped + other.unwrapped,
        )

    def kinds(self) -> list[str]:
        """Every input kind found, named for the output (in a stable order)."""
        out: list[str] = []
        for t in self.tables:
            if t.source is Source.LSEVTCHN:
                name = "lsevtchn"
            elif t.source is Source.EDUMP:
                lays = "/".join(sorted(self.layouts)) or "?"
                name = f"'e' dump ({lays} layout)"
            else:
                who = "a guest's" if t.guest else "dom0's" if t.domid == 0 else "a domain's"
                name = f"/proc/interrupts ({who}, {t.layout or 'chip and handler columns'})"
            if name not in out:
                out.append(name)
        if self.xenstore is not None:
            out.append("xenstore-ls")
        if self.messages:
            out.append("error messages")
        if self.evidence:
            out.append("version banners")
        return out


def _merge_xs(a: XsTree | None, b: XsTree | None) -> XsTree | None:
    if a is None or b is None:
        return a or b
    return XsTree(
        devices={**a.devices, **b.devices},
        domains={**a.domains, **b.domains},
        lines=a.lines + b.lines,
        seen=a.seen + b.seen,
    )
