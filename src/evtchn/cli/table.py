"""Plain-text tables in the layout rich's `box.SIMPLE` prints, without importing rich (start-up time).

    print(render("VMs", [("name", False), ("domid", True)], [["web1", "1"]]), end="")

Layout: the title on its own line, a blank edge, the header, a rule of '─', the rows, a blank edge. Each
cell is padded by one space on each side and cells are separated by one space, as rich draws it. Columns
are never wrapped or cut, so scripts can grep any line whatever the terminal width.
"""

from __future__ import annotations

from collections.abc import Sequence


def render(title: str, columns: Sequence[tuple[str, bool]], rows: Sequence[Sequence[str]]) -> str:
    """The table as text ending in a newline; `columns` is (header, right-justified) per column."""
    widths = [len(name) for name, _ in columns]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        parts = [
            f" {cell.rjust(w) if right else cell.ljust(w)} "
            for cell, w, (_, right) in zip(cells, widths, columns, strict=True)
        ]
        return f" {' '.join(parts)} "

    inner = sum(widths) + 3 * len(widths) - 1
    edge = " " * (inner + 2)
    out = [title, edge, line([name for name, _ in columns]), f" {'─' * inner} "]
    out.extend(line(row) for row in rows)
    out.append(edge)
    return "\n".join(out) + "\n"
