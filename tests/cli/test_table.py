"""cli/table.py draws what rich's box.SIMPLE table drew before (scripts grep these lines), without rich."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st
from rich import box
from rich.console import Console
from rich.table import Table

from evtchn.cli.table import render

CELL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-() ", min_size=1, max_size=12).map(str.strip)


def _rich(title: str, columns: list[tuple[str, bool]], rows: list[list[str]]) -> str:
    out = io.StringIO()
    console = Console(file=out, width=1000, highlight=False, soft_wrap=True, color_system=None)
    t = Table(box=box.SIMPLE, title=title, title_justify="left")
    for name, right in columns:
        t.add_column(name, justify="right" if right else "left")
    for row in rows:
        t.add_row(*row)
    console.print(t)
    return out.getvalue()


@settings(max_examples=60, deadline=None)
@given(
    columns=st.lists(st.tuples(CELL.filter(bool), st.booleans()), min_size=1, max_size=5),
    data=st.data(),
)
def test_same_layout_as_rich_simple_box(columns: list[tuple[str, bool]], data: st.DataObject) -> None:
    rows = data.draw(st.lists(st.lists(CELL.filter(bool), min_size=len(columns), max_size=len(columns))))
    assert render("VMs", columns, rows) == _rich("VMs", columns, rows)


def test_the_host_show_domain_table() -> None:
    columns = [("domid", True), ("name", False), ("used", True), ("free", True), ("limit", True)]
    rows = [["0", "Domain-0", "97", "3998", "4095"], ["1", "web1", "7", "4088", "4095"]]
    assert render("event channels per domain", columns, rows).splitlines() == [
        "event channels per domain",
        " " * 42,
        "  domid   name       used   free   limit  ",
        " " + "─" * 40 + " ",
        "      0   Domain-0     97   3998    4095  ",
        "      1   web1          7   4088    4095  ",
        " " * 42,
    ]
