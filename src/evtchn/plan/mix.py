"""A mix of VM shapes and the order in which the planner (and `--simulate`) starts them.

    mix = parse_mix(["web.yaml:3", "db.toml"])     # Shape(label, spec, count) per --vm
    mix = Mix((Shape("seed", seed_vm_spec(), 1),))
    mix.shape_at(i)                                # which shape the i-th VM started is (0-based)
    mix.counts_in_prefix(n)                        # how many of each shape the first n VMs are

Start order, precisely: VMs start in rounds; each round starts `count` VMs of the first shape, then `count`
of the second, and so on in command-line order; rounds repeat until something fails. The analytic planner
and the simulation both use this order, which is what lets their answers be compared for equality.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from evtchn.toolstack.safe_load import exists
from evtchn.toolstack.spec import VmSpec, read_spec, seed_vm_spec

# Shapes that need no file: `--vm seed` is the 6.2 blog's example HVM VM (reference §10).
BUILTIN_SHAPES = {"seed": seed_vm_spec}


class MixError(ValueError):
    """A bad --vm argument; the message is one line naming the argument."""


@dataclass(frozen=True, slots=True)
class Shape:
    label: str
    spec: VmSpec
    count: int = 1
    notes: tuple[str, ...] = ()  # non-fatal notes from reading the spec (unknown xl.cfg keys, 'file:line: …')


@dataclass(frozen=True, slots=True)
class Mix:
    shapes: tuple[Shape, ...]

    def __post_init__(self) -> None:
        if not self.shapes:
            raise MixError("a mix needs at least one VM shape")
        if any(s.count < 1 for s in self.shapes):
            raise MixError("every shape's count must be at least 1")

    @property
    def counts(self) -> tuple[int, ...]:
        return tuple(s.count for s in self.shapes)

    @property
    def round_size(self) -> int:
        return sum(self.counts)

    def shape_at(self, i: int) -> int:
        """Index of the shape of the i-th VM started (0-based)."""
        r = i % self.round_size
        for k, c in enumerate(self.counts):
            if r < c:
                return k
            r -= c
        raise AssertionError("unreachable")

    def order(self) -> Iterator[int]:
        """Shape indexes in start order, forever."""
        while True:
            for k, c in enumerate(self.counts):
                yield from itertools.repeat(k, c)

    def counts_in_prefix(self, n: int) -> tuple[int, ...]:
        """How many VMs of each shape the first n started are."""
        rounds, rest = divmod(n, self.round_size)
        out = []
        for c in self.counts:
            take = min(c, rest)
            rest -= take
            out.append(rounds * c + take)
        return tuple(out)

    def alone(self, k: int) -> Mix:
        return Mix((Shape(self.shapes[k].label, self.shapes[k].spec, 1),))


_COUNT = re.compile(r"^(?P<spec>.+):(?P<count>[^:/\\]*)$")


def parse_vm_arg(arg: str, *, what: str = "--vm", allow_count: bool = True) -> Shape:
    """'web.yaml', 'web.yaml:3' or 'seed:10' → Shape; MixError / SpecError with one line.

    `what` names the argument in messages (--vm for plan, SPEC for can-start, which takes no COUNT).
    """
    path, count = arg, 1
    m = _COUNT.match(arg) if allow_count else None
    if m and not exists(Path(arg)):
        path, text = m.group("spec"), m.group("count")
        if not text.isdigit() or int(text) < 1:
            raise MixError(f"{what} {arg!r}: COUNT after ':' must be a whole number ≥ 1, not {text!r}")
        count = int(text)
    if path in BUILTIN_SHAPES and not exists(Path(path)):
        return Shape(path, BUILTIN_SHAPES[path](), count)
    p = Path(path)
    if not exists(p):
        raise MixError(f"{what} {arg!r}: no such spec file {path!r} (or use a built-in shape: seed)")
    spec, notes = read_spec(p)
    return Shape(p.stem, spec, count, tuple(notes))


def parse_mix(args: Sequence[str]) -> Mix:
    """One Shape per --vm argument, in order; labels made unique by suffixing #2, #3, …"""
    shapes: list[Shape] = []
    seen: dict[str, int] = {}
    for arg in args:
        s = parse_vm_arg(arg)
        n = seen.get(s.label, 0) + 1
        seen[s.label] = n
        if n > 1:
            s = Shape(f"{s.label}#{n}", s.spec, s.count, s.notes)
        shapes.append(s)
    return Mix(tuple(shapes))
