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


class XenStoreError(KeyError):
    """ENOENT / EINVAL from the store, with the path."""

    def __init__(self, errname: str, path: str) -> None:
        super().__init__(f"{errname}: {path}")
        self.errname = errname
        self.path = path

    def __str__(self) -> str:
        return f"{self.errname}: {self.path}"


class _Node:
    __slots__ = ("children", "value")

    def __init__(self, value: str = "") -> None:
        self.value = value
        self.children: dict[str, _Node] = {}


def _parts(path: str) -> list[str]:
    if not path.startswith("/"):
        raise XenStoreError("EINVAL", path)
    return [p for p in path.split("/") if p]


class XenStore:
    def __init__(self) -> None:
        self._root = _Node()
        self.writes = 0  # transactions-free counter, handy for benchmarks and tests

    def _find(self, path: str) -> _Node | None:
        node = self._root
        for part in _parts(path):
            nxt = node.children.get(part)
            if nxt is None:
                return None
            node = nxt
        return node

    def write(self, path: str, value: str | int) -> None:
        node = self._root
        for part in _parts(path):
            nxt = node.children.get(part)
            if nxt is None:
                nxt = node.children[part] = _Node()
            node = nxt
        node.value = str(value)
        self.writes += 1

    def write_many(self, base: str, values: dict[str, str | int]) -> None:
        """Write base/key = value for each item (one xenopsd-style batch)."""
        for key, value in values.items():
            self.write(f"{base}/{key}", value)

    def mkdir(self, path: str) -> None:
        node = self._find(path)
        if node is None:
            self.write(path, "")

    def read(self, path: str) -> str:
        node = self._find(path)
        if node is None:
            raise XenStoreError("ENOENT", path)
        return node.value

    def get(self, path: str, default: str | None = None) -> str | None:
        node = self._find(path)
        return default if node is None else node.value

    def exists(self, path: str) -> bool:
        return self._find(path) is not None

    def ls(self, path: str) -> list[str]:
        node = self._find(path)
        if node is None:
            raise XenStoreError("ENOENT", path)
        return list(node.children)

    def rm(self, path: str) -> bool:
        """Remove a node and its subtree; False if it did not exist (xenstored then says ENOENT)."""
        parts = _parts(path)
        if not parts:
            self._root.children.clear()
            return True
        parent = self._find("/" + "/".join(parts[:-1]))
        if parent is None or parts[-1] not in parent.children:
            return False
        del parent.children[parts[-1]]
        return True

    def walk(self, path: str = "/") -> Iterator[tuple[str, str]]:
        """(path, value) for the node and every descendant, depth first, in insertion order."""
        node = self._find(path)
        if node is None:
            return
        base = "/" + "/".join(_parts(path))
        stack: list[tuple[str, _Node]] = [(base if base != "/" else "", node)]
        while stack:
            p, n = stack.pop()
            if p:
                yield p, n.value
            for name, child in reversed(n.children.items()):
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
        return sum(1 for _ in self.walk("/"))
