"""A xenstore rebuilt from its nodes (store/codec.py loads every host this way) behaves exactly like a
naive model of xenstored's tree (reference §7.4): writes create missing parents with empty values, rm
removes a subtree, children are listed in the order they were created.

The loaded tree differs from one built by writes in its representation only: names and short values are
interned and the path index starts empty (docs/store.md, "Memory"). This drives both with the same random
operations after the load and compares everything a reader can see."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from evtchn.xenstore.tree import TreeLoader, XenStore, XenStoreError

_names = st.sampled_from(["local", "domain", "0", "1", "backend", "vbd", "51712", "state"])
_paths = st.lists(_names, min_size=1, max_size=4).map(lambda p: "/" + "/".join(p))
_values = st.sampled_from(["", "4", "x86_64-abi", "/local/domain/0/backend/vbd3/20/51712/" + "x" * 30])
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("write"), _paths, _values),
        st.tuples(st.just("many"), _paths, st.dictionaries(_names, _values, max_size=3)),
        st.tuples(st.just("mkdir"), _paths, st.just("")),
        st.tuples(st.just("rm"), _paths, st.just("")),
    ),
    max_size=25,
)


class NaiveStore:
    """Every node by full path, in creation order; a subtree is every path under a prefix."""

    def __init__(self, nodes: list[tuple[str, str]]) -> None:
        self.nodes: dict[str, str] = {"/": ""}
        for path, value in nodes:
            self.write(path, value)

    def _make(self, path: str) -> None:
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            self.nodes.setdefault("/" + "/".join(parts[:i]), "")

    def write(self, path: str, value: str) -> None:
        self._make(path)
        self.nodes[path] = value

    def rm(self, path: str) -> None:
        for p in [p for p in self.nodes if p == path or p.startswith(path + "/")]:
            del self.nodes[p]

    def ls(self, path: str) -> list[str]:
        under = path.rstrip("/") + "/"
        names = [p[len(under) :] for p in self.nodes if p.startswith(under)]
        return [n for n in names if n and "/" not in n]

    def walk(self, path: str = "/") -> list[tuple[str, str]]:
        out = [] if path == "/" else [(path, self.nodes[path])]
        for name in self.ls(path):
            out.extend(self.walk(f"{path.rstrip('/')}/{name}"))
        return out


def _apply(op: str, path: str, arg: object, xs: XenStore, naive: NaiveStore) -> None:
    if op == "write":
        assert isinstance(arg, str)
        xs.write(path, arg)
        naive.write(path, arg)
    elif op == "many":
        assert isinstance(arg, dict)
        xs.write_many(path, arg)
        naive._make(path)
        for k, v in arg.items():
            naive.write(f"{path}/{k}", v)
    elif op == "mkdir":
        xs.mkdir(path)
        naive._make(path)
    elif path != "/":
        assert xs.rm(path) == (path in naive.nodes)
        naive.rm(path)


@settings(max_examples=200, deadline=None)
@given(before=_ops, after=_ops, probes=st.lists(_paths, max_size=6))
def test_a_loaded_tree_answers_as_the_naive_model(
    before: list[tuple[str, str, object]], after: list[tuple[str, str, object]], probes: list[str]
) -> None:
    built = XenStore()
    naive = NaiveStore([])
    for op, path, arg in before:
        _apply(op, path, arg, built, naive)
    loader = TreeLoader()
    for path, value, is_dir in built.nodes():
        loader.add(path, value, is_dir)
    loaded = loader.finish(built.read("/"))
    assert loaded.take_dirty() == ([], [])  # what was loaded is what the file holds
    assert list(loaded.walk("/")) == naive.walk()
    for op, path, arg in after:
        _apply(op, path, arg, loaded, naive)
    assert list(loaded.walk("/")) == naive.walk()
    for path in probes:
        if path in naive.nodes:
            assert loaded.read(path) == naive.nodes[path]
            assert loaded.ls(path) == naive.ls(path)
            assert loaded.exists(path)
        else:
            assert not loaded.exists(path) and loaded.get(path) is None
            try:
                loaded.read(path)
            except XenStoreError as e:
                assert e.errname == "ENOENT"
            else:
                raise AssertionError(f"{path} read without existing")


def test_names_and_short_values_are_one_string_however_many_nodes_use_them() -> None:
    loader = TreeLoader()
    for domid in (3, 4):
        # built at run time, so they are distinct objects before the load
        loader.add(f"/local/domain/{domid}", "", True)
        loader.add(f"/local/domain/{domid}/state", "".join(["x86_64", "-abi"]), False)
    xs = loader.finish("")
    name3, name4 = xs.ls("/local/domain/3")[0], xs.ls("/local/domain/4")[0]
    assert name3 == name4 == "state" and name3 is name4
    v3, v4 = xs.read("/local/domain/3/state"), xs.read("/local/domain/4/state")
    assert v3 == "x86_64-abi" and v3 is v4
    xs.write("/local/domain/5/state", "".join(["x86_64", "-abi"]))  # a write at run time too
    assert xs.read("/local/domain/5/state") is v3 and xs.ls("/local/domain/5")[0] is name3
