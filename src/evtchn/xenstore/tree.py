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

from collections.abc import Iterator
from typing import Any


class XenStoreError(KeyError):
    """ENOENT / EINVAL from the store, with the path."""

    def __init__(self, errname: str, path: str) -> None:
        super().__init__(f"{errname}: {path}")
        self.errname = errname
        self.path = path

    def __str__(self) -> str:
        return f"{self.errname}: {self.path}"


# A node is [value, children]: a list is much cheaper to create than an object, and a VM start
# creates about a hundred nodes.
VALUE, CHILDREN = 0, 1


def _node() -> list[Any]:
    return ["", {}]


def _parts(path: str) -> list[str]:
    if not path.startswith("/"):
        raise XenStoreError("EINVAL", path)
    return [p for p in path.split("/") if p]


class XenStore:
    """Nodes live in a tree (for ls and subtree removal) and in a flat path index (for O(1) access)."""

    def __init__(self) -> None:
        self._root: list[Any] = _node()
        self._index: dict[str, list[Any]] = {"/": self._root}
        self.writes = 0  # how many writes were made, for benchmarks and tests

    def _find(self, path: str) -> list[Any] | None:
        node = self._index.get(path)
        if node is None and path.endswith("/") and path != "/":
            node = self._index.get(path.rstrip("/"))
        if node is None and not path.startswith("/"):
            raise XenStoreError("EINVAL", path)
        return node

    def _make(self, path: str) -> list[Any]:
        node = self._index.get(path)
        if node is not None:
            return node
        if not path.startswith("/") or path.endswith("/") or "//" in path:
            if not path.startswith("/"):
                raise XenStoreError("EINVAL", path)
            path = "/" + "/".join(_parts(path))
            if path == "/":
                return self._root
            node = self._index.get(path)
            if node is not None:
                return node
        parent_path, _, name = path.rpartition("/")
        parent = self._make(parent_path or "/")
        node = parent[CHILDREN][name] = _node()
        self._index[path] = node
        return node

    def write(self, path: str, value: str | int) -> None:
        self._make(path)[VALUE] = str(value)
        self.writes += 1

    def write_many(self, base: str, values: dict[str, str | int]) -> None:
        """Write base/key = value for each item (one xenopsd-style batch)."""
        bnode = self._make(base)
        children, index = bnode[CHILDREN], self._index
        for key, value in values.items():
            node = children.get(key)
            if node is None:
                if "/" in key:
                    node = self._make(f"{base}/{key}")
                else:
                    node = children[key] = ["", {}]
                    index[f"{base}/{key}"] = node
            node[VALUE] = str(value)
        self.writes += len(values)

    def mkdir(self, path: str) -> None:
        self._make(path)

    def read(self, path: str) -> str:
        node = self._find(path)
        if node is None:
            raise XenStoreError("ENOENT", path)
        return str(node[VALUE])

    def get(self, path: str, default: str | None = None) -> str | None:
        node = self._index.get(path)
        return default if node is None else str(node[VALUE])

    def exists(self, path: str) -> bool:
        return self._find(path) is not None

    def ls(self, path: str) -> list[str]:
        node = self._find(path)
        if node is None:
            raise XenStoreError("ENOENT", path)
        return list(node[CHILDREN])

    def rm(self, path: str) -> bool:
        """Remove a node and its subtree; False if it did not exist (xenstored then says ENOENT)."""
        parts = _parts(path)
        if not parts:
            self._root[CHILDREN].clear()
            self._index = {"/": self._root}
            return True
        full = "/" + "/".join(parts)
        node = self._index.get(full)
        if node is None:
            return False
        parent = self._index["/" + "/".join(parts[:-1])]
        del parent[CHILDREN][parts[-1]]
        stack = [(full, node)]
        while stack:
            p, n = stack.pop()
            del self._index[p]
            stack.extend((f"{p}/{name}", child) for name, child in n[CHILDREN].items())
        return True

    def walk(self, path: str = "/") -> Iterator[tuple[str, str]]:
        """(path, value) for the node and every descendant, depth first, in insertion order."""
        node = self._find(path)
        if node is None:
            return
        base = "/" + "/".join(_parts(path))
        stack: list[tuple[str, list[Any]]] = [(base if base != "/" else "", node)]
        while stack:
            p, n = stack.pop()
            if p:
                yield p, str(n[VALUE])
            for name, child in reversed(n[CHILDREN].items()):
                stack.append((f"{p}/{name}", child))

    def dump(self, path: str = "/") -> str:
        """xenstore-ls -f style: one `path = "value"` line per node."""
        return "".join(f'{p} = "{v}"\n' for p, v in self.walk(path))

    def to_state(self) -> list[list[str]]:
        return [[p, v] for p, v in self.walk("/")]

    @classmethod
    def from_state(cls, state: list[list[str]]) -> XenStore:
        xs = cls()
        for p, v in state:
            xs.write(p, v)
        xs.writes = 0
        return xs

    def __len__(self) -> int:
        return len(self._index) - 1
