"""What every reader shares: a port row, the tables being filled, and the verdict a reader gives a line.

A reader is a module with `line(sink, lineno, text) -> Verdict`: True when the line is its own (taken),
False when it is a known log line that belongs to no dump (counted as other output), a string when it
is the reader's kind but garbled (the reason), None when it belongs to another reader. The
detection step (`evtchn.inspect.detect`) offers each line to the readers in turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evtchn.inspect.findings import XsTree
from evtchn.inspect.model import NONE, BadLine, Dump, Source

Verdict = bool | str | None

# Every number the tools print is a 32-bit C integer; a longer one is a garbled line, not a port.
U32_MAX = 0xFFFF_FFFF
TOO_BIG = "a number does not fit in 32 bits"


def num(digits: str) -> int:
    """A captured decimal field; past 20 digits it is only "too big" (int() refuses over 4 300 digits)."""
    return int(digits) if len(digits) <= 20 else U32_MAX + 1


@dataclass(slots=True)
class Row:
    """One port from a line, in the common column set."""

    port: int
    kind: int
    vcpu: int
    rdom: int = NONE
    rport: int = NONE
    number: int = NONE
    xen: int = NONE
    name: str = ""

    def too_big(self) -> bool:
        return max(self.port, self.vcpu, self.rdom, self.rport, self.number, self.xen) > U32_MAX


@dataclass(slots=True)
class Chunk:
    """Ports for one table: slow rows, or a fast block of lines [a, b) from the scanner."""

    rows: list[Row] = field(default_factory=list)
    block: tuple[int, int] | None = None
    store: str = "e"  # the block's columns: "e" (lines) or "ls" (lsevtchn rows)


@dataclass(slots=True)
class OpenTable:
    """A table being filled, in line order."""

    source: Source
    domid: int | None
    line: int
    chunks: list[Chunk] = field(default_factory=list)
    last_port: int = -1
    fifo: bool | None = None
    layout: str = ""

    def add_row(self, row: Row) -> None:
        if not self.chunks or self.chunks[-1].block is not None:
            self.chunks.append(Chunk())
        self.chunks[-1].rows.append(row)
        self.last_port = row.port


class Sink:
    """The tables of one parse and which one each reader is filling now."""

    def __init__(self, dump: Dump, name: str) -> None:
        self.dump = dump
        self.name = name
        self.tables: list[OpenTable] = []
        self.edump: OpenTable | None = None
        self.ls: OpenTable | None = None
        self.irq: OpenTable | None = None
        self.ls_domid: int | None = None
        self.e_seen = False
        self.slow_rows = 0  # ports the per-line readers took
        self.xs_path: list[str] = []  # xenstore-ls: the path of the node at each indentation level
        self.xs_root: list[str] | None = None  # where an indented tree starts, once known

    def xenstore(self) -> XsTree:
        if self.dump.xenstore is None:
            self.dump.xenstore = XsTree()
        return self.dump.xenstore

    def new(self, source: Source, domid: int | None, lineno: int) -> OpenTable:
        t = OpenTable(source, domid, lineno)
        self.tables.append(t)
        return t

    def edump_table(self, lineno: int) -> OpenTable:
        if self.edump is None:
            self.edump = self.new(Source.EDUMP, None, lineno)
        return self.edump

    def add(self, table: OpenTable, row: Row) -> None:
        table.add_row(row)
        self.slow_rows += 1

    def bad(self, lineno: int, text: str, reason: str) -> None:
        self.dump.bad.append(BadLine(lineno, text, reason, self.name))
