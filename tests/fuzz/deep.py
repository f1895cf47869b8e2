"""The deep fuzz run: `python -m tests.fuzz.deep` (what `make fuzz` runs).

    python -m tests.fuzz.deep                       # 100 000 inputs over every surface, 2 processes
    python -m tests.fuzz.deep --inputs 5000 --surface "spec yaml" --seed 3

Prints a table per surface (inputs, accepted, clean errors, uncaught, hangs, seconds), then each distinct
crash with its shrunk input (also written under --out), and exits 1 on any uncaught exception or hang.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from tests.fuzz.registry import WEIGHTS, surfaces
from tests.fuzz.surface import shrink


class Hang(Exception):
    pass


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    def fire(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"no answer within {seconds:g} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class Tally:
    inputs: int = 0
    ok: int = 0
    clean: int = 0
    uncaught: int = 0
    hangs: int = 0
    seconds: float = 0.0
    crashes: dict[str, bytes] = field(default_factory=dict)  # kind -> smallest input seen

    def add(self, other: Tally) -> None:
        for f in ("inputs", "ok", "clean", "uncaught", "hangs", "seconds"):
            setattr(self, f, getattr(self, f) + getattr(other, f))
        for k, v in other.crashes.items():
            if k not in self.crashes or len(v) < len(self.crashes[k]):
                self.crashes[k] = v


def _kind(e: BaseException) -> str:
    tb = traceback.extract_tb(e.__traceback__)
    where = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"
    return f"{type(e).__name__} at {where}: {str(e).splitlines()[0][:120] if str(e) else ''}"


def run_chunk(name: str, seed: int, count: int, hang: float) -> Tally:
    surface = surfaces()[name]
    rnd = random.Random(f"{name}/{seed}")
    t = Tally()
    start = time.process_time()
    for _ in range(count):
        data = surface.sample(rnd)
        t.inputs += 1
        try:
            with _deadline(hang):
                outcome = surface.run(data)
        except Hang:
            t.hangs += 1
            t.crashes.setdefault("hang", data)
            continue
        except Exception as e:
            t.uncaught += 1
            k = _kind(e)
            if k not in t.crashes or len(data) < len(t.crashes[k]):
                t.crashes[k] = data
            continue
        if outcome == "ok":
            t.ok += 1
        else:
            t.clean += 1
    t.seconds = time.process_time() - start
    return t


def _fails_same(name: str, kind: str) -> object:
    surface = surfaces()[name]

    def fails(data: bytes) -> bool:
        try:
            with _deadline(10):
                surface.run(data)
        except Hang:
            return kind == "hang"
        except Exception as e:
            return _kind(e) == kind
        return False

    return fails


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.fuzz.deep", description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", type=int, default=100_000, help="inputs in all (default 100000)")
    ap.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--surface", action="append", help="only this surface (repeatable)")
    ap.add_argument("--hang", type=float, default=20.0, help="seconds one input may take")
    ap.add_argument("--out", default="fuzz-crashes", help="directory for shrunk crashing inputs")
    args = ap.parse_args(argv)
    names = args.surface or list(WEIGHTS)
    unknown = [n for n in names if n not in WEIGHTS]
    if unknown:
        print(f"deep: unknown surface {unknown[0]!r} (known: {', '.join(WEIGHTS)})", file=sys.stderr)
        return 2
    total_w = sum(WEIGHTS[n] for n in names)
    chunks: list[tuple[str, int, int]] = []
    for n in names:
        want = max(1, args.inputs * WEIGHTS[n] // total_w)
        size = 250
        for i in range(0, want, size):
            chunks.append((n, args.seed * 1000 + i // size, min(size, want - i)))
    print(
        f"deep fuzz: {sum(c[2] for c in chunks)} inputs, seed {args.seed}, {args.jobs} processes", flush=True
    )
    tallies = {n: Tally() for n in names}
    wall = time.monotonic()
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = [(c[0], pool.submit(run_chunk, c[0], c[1], c[2], args.hang)) for c in chunks]
        for n, fut in futures:
            tallies[n].add(fut.result())
    wall = time.monotonic() - wall
    cols = ("inputs", 8), ("accepted", 9), ("clean err", 10), ("uncaught", 9), ("hangs", 6), ("cpu s", 7)
    head = f"{'surface':<12} " + " ".join(f"{c:>{w}}" for c, w in cols)
    print(head)
    print("-" * len(head))
    all_t = Tally()
    for n in names:
        t = tallies[n]
        all_t.add(t)
        print(f"{n:<12} {t.inputs:>8} {t.ok:>9} {t.clean:>10} {t.uncaught:>9} {t.hangs:>6} {t.seconds:>7.1f}")
    print("-" * len(head))
    print(
        f"{'all':<12} {all_t.inputs:>8} {all_t.ok:>9} {all_t.clean:>10} {all_t.uncaught:>9} "
        f"{all_t.hangs:>6} {all_t.seconds:>7.1f}   (wall {wall:.0f} s)"
    )
    bad = [(n, k, d) for n in names for k, d in tallies[n].crashes.items()]
    if bad:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        print(f"\n{len(bad)} distinct failures (shrunk inputs in {out}/):")
        for i, (n, k, d) in enumerate(bad):
            small = shrink(d, _fails_same(n, k)) if k != "hang" else d  # type: ignore[arg-type]
            path = out / f"{n.replace(' ', '_')}-{i}.bin"
            path.write_bytes(small)
            print(f"- [{n}] {k}\n    input ({len(small)} bytes): {small[:300]!r}")
    return 1 if all_t.uncaught or all_t.hangs else 0


if __name__ == "__main__":
    sys.exit(main())
