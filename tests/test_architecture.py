"""The house rules of issue 9, checked on the source: rooms import only downwards, no import cycle between
modules, and no module over ~400 lines.

Data flows one way: CLI / API -> store -> toolstack -> xenstore -> hypervisor; inspect and plan only read.
A package may import a package of a lower rank only (the package's own modules are free to import each
other, but not in a cycle at import time).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "evtchn"

# Lower ranks are further down the flow; "" is the package's own __init__ (the version), free for all.
RANK = {
    "": -1,
    "xen": 0,
    "xenstore": 1,
    "toolstack": 2,
    "inspect": 2,
    "store": 3,
    "plan": 3,
    "twin": 4,
    "api": 4,
    "ui": 5,
    "cli": 6,
}
MAX_LINES = 400


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        yield ".".join(["evtchn", *parts]), path


def _imports(path: Path, top_level_only: bool) -> Iterator[str]:
    tree = ast.parse(path.read_text("utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("evtchn"):
                # `from evtchn.store import writer` imports the submodule evtchn.store.writer
                subs = [f"{node.module}.{a.name}" for a in node.names]
                found = [m for m in subs if _path_of(m) is not None]
                yield from found or [node.module]
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("evtchn"))


def _path_of(module: str) -> Path | None:
    base = SRC.joinpath(*module.split(".")[1:])
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.exists():
            return p
    return None


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (SRC / parts[1]).is_dir()) else ""


def test_every_room_has_a_rank() -> None:
    rooms = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert rooms <= RANK.keys(), f"new package(s) {sorted(rooms - RANK.keys())}: give them a rank here"


@pytest.mark.parametrize(("module", "path"), list(_modules()), ids=lambda v: v if isinstance(v, str) else "")
def test_imports_flow_downwards(module: str, path: Path) -> None:
    here = _room(module)
    upward = [
        m for m in _imports(path, top_level_only=False) if (r := _room(m)) != here and RANK[r] >= RANK[here]
    ]
    assert not upward, f"{module} ({here or 'evtchn'}) imports upwards or sideways: {upward}"


def test_no_import_cycle_between_modules() -> None:
    known = dict(_modules())
    graph = {
        m: {i for i in _imports(p, top_level_only=True) if i in known and i != m} for m, p in known.items()
    }
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(m: str, trail: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycle = [*trail[trail.index(n) :], n] if n in trail else [m, n]
                pytest.fail(f"import cycle: {' -> '.join(cycle)}")
            if n not in state:
                visit(n, [*trail, n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_no_module_over_the_limit() -> None:
    big = {
        str(p.relative_to(SRC)): n
        for _, p in _modules()
        if (n := len(p.read_text("utf-8").splitlines())) > MAX_LINES
    }
    assert not big, f"modules over {MAX_LINES} lines: {big}"
