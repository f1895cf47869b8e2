"""What a fuzz surface is: seeds, a generator, and a target that answers "ok", "clean" or raises.

A target returns "ok" when the input was accepted and "clean" when it was refused the way a user should see
it (the surface's own error type, a one-line message, exit 1/2, an error envelope). Anything it raises is an
uncaught exception: a bug. Inputs are bytes on every surface so one shrinker serves all of them.
"""

from __future__ import annotations

import atexit
import random
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from tests.fuzz.mutate import mutate


class Uncaught(AssertionError):
    """A target saw something a user must never see (a traceback, a wrong-but-successful answer)."""


@cache
def workdir() -> Path:
    d = Path(tempfile.mkdtemp(prefix="evtchn-fuzz-"))
    atexit.register(shutil.rmtree, d, True)
    return d


@dataclass
class Surface:
    name: str
    seeds: Callable[[], list[bytes]]
    run: Callable[[bytes], str]
    generate: Callable[[random.Random, list[bytes]], bytes] | None = None
    _seeds: list[bytes] = field(default_factory=list)

    def sample(self, rnd: random.Random) -> bytes:
        if not self._seeds:
            self._seeds = self.seeds()
        if self.generate is not None and rnd.random() < 0.5:
            return self.generate(rnd, self._seeds)
        return mutate(rnd.choice(self._seeds), rnd)


def shrink(data: bytes, fails: Callable[[bytes], bool], budget: int = 300) -> bytes:
    """A smaller input that still fails: delete chunks, halving their size (ddmin-style), within budget."""
    chunk = max(1, len(data) // 2)
    tries = 0
    while chunk >= 1 and tries < budget:
        i, shrunk = 0, False
        while i < len(data) and tries < budget:
            candidate = data[:i] + data[i + chunk :]
            tries += 1
            if candidate != data and fails(candidate):
                data, shrunk = candidate, True
            else:
                i += chunk
        if not shrunk:
            chunk //= 2
    return data
