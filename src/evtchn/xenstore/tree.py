"""An in-memory xenstore: a tree of string values at slash paths (reference §7.4).

    xs = XenStore()
    xs.write("/local/domain/5/store/port", "1")
    xs.read("/local/domain/5/store/port")      # "1"
    xs.ls("/local/domain/5")                   # ["store"]
    xs.rm("/local/domain/5")                   # the whole subtree

Like xenstored, writing a node creates its missing parents with empty values, and reading a missing node is
ENOENT (raised as XenStoreError).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any


class XenStoreError(KeyError):
    """ENOENT / EINVAL from the store, with the path."""

    def __init__(self, errname: str, path: str) -> None:
        super().__init__(f"{errname}: {path}")
        self.errname = errname
        self.path = path

    def __str__(self) -> str:
        return f"{self.errname}: {self.path}"


# A directory is [value, {name: child}]; a leaf is just its value, a str, in its parent's dict. A VM start
# writes about a hundred nodes, mostly leaves: strings cost no garbage-collector tracking, lists do.
Node = list[Any]

# Memory (docs/store.md, "Memory"): a 1 000-VM host holds ~100 000 nodes but only ~2 000 distinct names
# ("backend", "state", "51712", ...) and mostly short repeated values ("4", "disk", "x86_64-abi"). Names
# and short values are interned, so each is one string however many nodes use it; the long values (paths,
# uuids) are unique anyway and are kept as they come.
_INTERN_UP_TO = 24
_intern = sys.intern


def _value(text: str) -> str:
    return _intern(text) if len(text) <= _INTERN_UP_TO else text


def _parts(path: str) -> list[str]:
    if not path.startswith("/"):
        raise XenStoreError("EINVAL", path)
    return [p for p in path.split("/") if p]


def _norm(path: str) -> str:
    if path.startswith("/") and not path.endswith("/") and "//" not in path:
        return path
    return "/" + "/".join(_parts(path))


class XenStore:
    """A tree of directories and leaves; a path index caches directories, so most access is a lookup."""

    def __init__(self) -> None:
        self._root: Node = ["", {}]
        self._index: dict[str, Node] = {"/": self._root}
        self.writes = 0  # how many writes were made, for benchmarks and tests
        # what changed since take_dirty(): paths written or created (in order) and subtrees removed
        self._dirty: dict[str, None] = {}
        self._removed: list[str] = []

    def _dir(self, path: str, create: bool) -> Node | None:
        """The directory node at a normalised path (a leaf there becomes a directory if create)."""
        node = self._index.get(path)
        if node is not None:
            return node
        parent_path, _, name = path.rpartition("/")
        parent = self._dir(parent_path or "/", create)
        if parent is None:
            return None
        child = parent[1].get(name)
        if isinstance(child, list):
            node = child
        elif child is not None or create:
            if not create:
                return None
            node = parent[1][_intern(name)] = [child or "", {}]
            self._dirty[path] = None
        else:
            return None
        self._index[path] = node
        return node

    def _lookup(self, path: str) -> str | Node | None:
        path = _norm(path)
        node = self._index.get(path)
        if node is not None:
            return node
        parent_path, _, name = path.rpartition("/")
        parent = self._dir(parent_path or "/", False)
        if parent is None:
            return None
        found: str | Node | None = parent[1].get(name)
        return found

    def write(self, path: str, value: str | int) -> None:
        text = _value(value if isinstance(value, str) else str(value))
        path = _norm(path)
        self._dirty[path] = None
        if path == "/":
            self._root[0] = text
        else:
            parent_path, _, name = path.rpartition("/")
            parent = self._dir(parent_path or "/", True)
            assert parent is not None
            child = parent[1].get(name)
            if isinstance(child, list):
                child[0] = text
            else:
                parent[1][_intern(name)] = text
        self.writes += 1

    def write_many(self, base: str, values: dict[str, str | int]) -> None:
        """Write base/key = value for each item (one xenopsd-style batch)."""
        base = _norm(base)
        node = self._dir(base, True)
        assert node is not None
        children = node[1]
        dirty = self._dirty
        for key, value in values.items():
            text = _value(value if isinstance(value, str) else str(value))
            if "/" in key:
                self.write(f"{base}/{key}", text)
                continue
            dirty[f"{base}/{key}" if base != "/" else f"/{key}"] = None
            child = children.get(key)
            if isinstance(child, list):
                child[0] = text
            else:
                children[_intern(key)] = text
        self.writes += len(values)

    def mkdir(self, path: str) -> None:
        self._dir(_norm(path), True)

    def read(self, path: str) -> str:
        node = self._lookup(path)
        if node is None:
            raise XenStoreError("ENOENT", path)
        return node if isinstance(node, str) else str(node[0])

    def get(self, path: str, default: str | None = None) -> str | None:
        node = self._lookup(path)
        if node is None:
            return default
        return node if isinstance(node, str) else str(node[0])

    def exists(self, path: str) -> bool:
        return self._lookup(path) is not None

    def ls(self, path: str) -> list[str]:
        node = self._lookup(path)
        if node is None:
            raise XenStoreError("ENOENT", path)
        return [] if isinstance(node, str) else list(node[1])

    def rm(self, path: str) -> bool:
        """Remove a node and its subtree; False if it did not exist (xenstored then says ENOENT)."""
        full = _norm(path)
        if full == "/":
            self._root[1] = {}
            self._index = {"/": self._root}
            self._removed.append("/")
            self._dirty = {"/": None}
            return True
        parent_path, _, name = full.rpartition("/")
        parent = self._dir(parent_path or "/", False)
        if parent is None or name not in parent[1]:
            return False
        self._removed.append(full)
        if self._dirty:  # a node written again after this goes after its old siblings, as in the tree
            under = full + "/"
            self._dirty = {p: None for p in self._dirty if p != full and not p.startswith(under)}
        child = parent[1].pop(name)
        if isinstance(child, list):
            index = self._index
            stack: list[tuple[str, Node]] = [(full, child)]
            while stack:
                p, n = stack.pop()
                index.pop(p, None)
                stack.extend((f"{p}/{k}", c) for k, c in n[1].items() if isinstance(c, list))
        return True

    def walk(self, path: str = "/") -> Iterator[tuple[str, str]]:
        """(path, value) for the node and every descendant, depth first, in insertion order."""
        node = self._lookup(path)
        if node is None:
            return
        base = _norm(path)
        stack: list[tuple[str, str | Node]] = [(base if base != "/" else "", node)]
        while stack:
            p, n = stack.pop()
            if isinstance(n, str):
                yield p, n
                continue
            if p:
                yield p, str(n[0])
            for name, child in reversed(n[1].items()):
                stack.append((f"{p}/{name}", child))

    def dump(self, path: str = "/") -> str:
        """xenstore-ls -f style: one `path = "value"` line per node."""
        return "".join(f'{p} = "{v}"\n' for p, v in self.walk(path))

    def take_dirty(self) -> tuple[list[str], list[str]]:
        """What changed since the last call: (subtrees removed, in order; paths written or created, in
        order). Persist by deleting each removed subtree first, then saving each written path that still
        exists (`node(path)`); a path removed and written again is in both lists."""
        removed, dirty = self._removed, list(self._dirty)
        self._removed, self._dirty = [], {}
        return removed, dirty

    def node(self, path: str) -> tuple[str, bool] | None:
        """(value, is_directory) of the node at a normalised path, None if there is none."""
        node = self._lookup(path)
        if node is None:
            return None
        return (node, False) if isinstance(node, str) else (str(node[0]), True)

    def nodes(self) -> Iterator[tuple[str, str, bool]]:
        """(path, value, is_directory) of every node but the root, parents before children, in order."""
        stack: list[tuple[str, str | Node]] = [
            (f"/{name}", child) for name, child in reversed(self._root[1].items())
        ]
        while stack:
            p, n = stack.pop()
            if isinstance(n, str):
                yield p, n, False
                continue
            yield p, str(n[0]), True
            stack.extend((f"{p}/{name}", child) for name, child in reversed(n[1].items()))

    @classmethod
    def from_nodes(cls, root_value: str, nodes: Iterable[tuple[str, str, bool]]) -> XenStore:
        """Rebuild a tree from nodes() (parents before children); ValueError for a path that is not one."""
        loader = TreeLoader()
        for path, value, is_dir in nodes:
            loader.add(path, value, is_dir)
        return loader.finish(root_value)

    def to_state(self) -> Any:
        """The tree itself, JSON-ready: a directory is [value, {name: child}], a leaf its value."""
        return _copy_tree(self._root)

    @classmethod
    def from_state(cls, state: Any) -> XenStore:
        """Restore to_state(); ValueError if it is not such a tree."""
        xs = cls()
        xs._root = _copy_tree(state)
        xs._index = {"/": xs._root}
        return xs

    def __len__(self) -> int:
        return sum(1 for _ in self.walk("/"))


class TreeLoader:
    """Builds a XenStore from nodes() one node at a time, so a loader never holds the node list:

        loader = TreeLoader()
        loader.add("/local/domain/3", "", True)       # parents before children, as nodes() gives them
        xs = loader.finish(root_value)                # nothing dirty; only the root in the path index

    The path index built while loading is dropped at the end (directories are cached again as they are
    used): an index of every directory of a 1 000-VM host is ~19 000 path strings nobody may ask for.
    """

    def __init__(self) -> None:
        self._xs = XenStore()

    def add(self, path: str, value: str, is_dir: bool) -> None:
        if _norm(path) != path or path == "/":
            raise ValueError(f"xenstore node {path!r} is not a normalised path")
        xs = self._xs
        value = _value(value)
        if is_dir:
            node = xs._dir(path, True)
            assert node is not None
            node[0] = value
            return
        parent_path, _, name = path.rpartition("/")
        parent = xs._dir(parent_path or "/", True)
        assert parent is not None
        parent[1][_intern(name)] = value

    def finish(self, root_value: str) -> XenStore:
        xs = self._xs
        xs._root[0] = root_value
        xs._index = {"/": xs._root}
        xs._dirty, xs._removed = {}, []
        return xs


def _is_dir(node: Any) -> bool:
    return (
        isinstance(node, list) and len(node) == 2 and isinstance(node[0], str) and isinstance(node[1], dict)
    )


def _copy_tree(node: Any) -> Node:
    """A deep copy of a tree in the [value, {name: child}] form, checking its shape on the way."""
    if not _is_dir(node):
        raise ValueError("a xenstore state is [value, {name: child}] at the top")
    root: Node = [node[0], {}]
    stack: list[tuple[Node, Node]] = [(node, root)]
    while stack:
        src, dst = stack.pop()
        out = dst[1]
        for name, child in src[1].items():
            if isinstance(child, str):
                out[_intern(name)] = _value(child)
            elif _is_dir(child):
                copy: Node = [child[0], {}]
                out[_intern(name)] = copy
                stack.append((child, copy))
            else:
                raise ValueError(f"xenstore state: node {name!r} is neither a value nor a directory")
    return root
