"""XenStore.take_dirty(): applying what it reports to a copy of the rows rebuilds the same tree, in order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from evtchn.xenstore.tree import XenStore

_names = st.sampled_from(["local", "domain", "0", "1", "backend", "vbd", "state", "a"])
_paths = st.lists(_names, min_size=1, max_size=4).map(lambda p: "/" + "/".join(p))
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("write"), _paths, st.text(max_size=3)),
        st.tuples(st.just("many"), _paths, st.dictionaries(_names, st.text(max_size=2), max_size=3)),
        st.tuples(st.just("mkdir"), _paths, st.just("")),
        st.tuples(st.just("rm"), _paths, st.just("")),
    ),
    max_size=30,
)


def _apply(rows: dict[str, tuple[str, bool]], xs: XenStore) -> None:
    """The store's side: delete removed subtrees, then upsert written paths that still exist."""
    removed, dirty = xs.take_dirty()
    for r in removed:
        for k in [k for k in rows if r == "/" or k == r or k.startswith(r + "/")]:
            del rows[k]
    for p in dirty:
        got = xs.node(p)
        if p == "/":
            continue
        if got is None:
            rows.pop(p, None)
        elif p in rows:
            rows[p] = got  # an update keeps its place (SQLite keeps the rowid on upsert)
        else:
            rows[p] = got


def _snapshot(xs: XenStore) -> list[tuple[str, str]]:
    return list(xs.walk("/"))


@settings(max_examples=150, deadline=None)
@given(first=_ops, second=_ops)
def test_dirty_rows_rebuild_the_same_tree(
    first: list[tuple[str, str, object]], second: list[tuple[str, str, object]]
) -> None:
    xs = XenStore()
    rows: dict[str, tuple[str, bool]] = {}
    for batch in (first, second):
        for op, path, arg in batch:
            if op == "write":
                xs.write(path, str(arg))
            elif op == "many":
                assert isinstance(arg, dict)
                xs.write_many(path, arg)
            elif op == "mkdir":
                xs.mkdir(path)
            else:
                xs.rm(path)
        _apply(rows, xs)
        again = XenStore.from_nodes(xs.read("/"), ((p, v, d) for p, (v, d) in rows.items()))
        assert again.to_state() == xs.to_state()
        assert _snapshot(again) == _snapshot(xs)


def test_nodes_round_trip_and_report_nothing_dirty() -> None:
    xs = XenStore()
    xs.write_many("/local/domain/3", {"name": "web", "memory/target": 1024})
    xs.mkdir("/local/domain/3/device")
    again = XenStore.from_nodes("", xs.nodes())
    assert again.to_state() == xs.to_state()
    assert again.take_dirty() == ([], [])
    xs.take_dirty()
    xs.rm("/local/domain/3/device")
    xs.write("/local/domain/3/name", "db")
    assert xs.take_dirty() == (["/local/domain/3/device"], ["/local/domain/3/name"])
