"""The compiled line scanner (`_cscan.c`, built with the package by setup.py) and its numpy fallback.

    if cscan.enabled(): ...      # the C scanner is importable and not switched off

One pass in C over the bytes splits the lines and reads the common shapes of 'e' port lines and
lsevtchn lines; the numpy scanners (`swar.py`, `readers/edump_scan.py`, `readers/lsevtchn.py`) do the
same when the extension is not built, or when the environment sets EVTCHN_NO_CSCAN=1 (so the tests run
both). Either way, rare shapes are left to the per-line parser.
"""

from __future__ import annotations

import mmap
import os
from types import ModuleType

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
BOOL = npt.NDArray[np.bool_]
Data = bytes | bytearray | mmap.mmap

_mod: ModuleType | None
try:
    from evtchn.inspect import _cscan as _mod
except ImportError:  # not built (a source tree without `pip install -e .`): numpy does it all
    _mod = None

ENV_OFF = "EVTCHN_NO_CSCAN"


def enabled() -> bool:
    """The C scanner runs: it is built and EVTCHN_NO_CSCAN is not set to a non-empty value."""
    return _mod is not None and not os.environ.get(ENV_OFF)


def name() -> str:
    """Which scanner runs, for the benchmark's output."""
    return "C (_cscan)" if enabled() else "numpy (fallback)"


def split(data: Data, n: int) -> tuple[I64, I64]:
    """Line starts and ends (each newline, or n for a last line without one) of data[:n]."""
    assert _mod is not None
    s, e = _mod.split(data, n)
    return np.frombuffer(s, dtype=np.int64), np.frombuffer(e, dtype=np.int64)


EDUMP_KEYS = ("port", "kind", "vcpu", "rdom", "rport", "num", "xen", "abi", "body")


def edump_ports(
    data: Data, starts: I64, ends: I64
) -> tuple[BOOL, dict[str, I64], BOOL]:
    """Every line's 'e' port fields: (ok, columns as scan_edump_ports returns them, x_first)."""
    assert _mod is not None
    n = starts.shape[0]
    ok = np.empty(n, dtype=np.bool_)
    x_first = np.empty(n, dtype=np.bool_)
    out = {k: np.empty(n, dtype=np.int64) for k in EDUMP_KEYS}
    st, en = np.ascontiguousarray(starts, dtype=np.int64), np.ascontiguousarray(ends, dtype=np.int64)
    _mod.edump_ports(data, st, en, ok, x_first, *(out[k] for k in EDUMP_KEYS))
    return ok, out, x_first


LS_KEYS = ("port", "kind", "vcpu", "rdom", "rport", "num")


def ls_ports(
    data: Data, starts: I64, ends: I64, cand: I64
) -> tuple[BOOL, dict[str, I64]]:
    """The lsevtchn fields of the lines `cand`: (ok, columns) per candidate."""
    assert _mod is not None
    n = cand.shape[0]
    ok = np.empty(n, dtype=np.bool_)
    out = {k: np.empty(n, dtype=np.int64) for k in LS_KEYS}
    st, en = np.ascontiguousarray(starts, dtype=np.int64), np.ascontiguousarray(ends, dtype=np.int64)
    _mod.ls_ports(data, st, en, np.ascontiguousarray(cand, dtype=np.int64), ok, *(out[k] for k in LS_KEYS))
    return ok, out


def quiet(data: Data, starts: I64, ends: I64, idx: I64, words: tuple[bytes, ...]) -> BOOL:
    """Which lines of `idx` are quiet console or log lines holding none of `words` (quiet.py)."""
    assert _mod is not None
    out = np.empty(idx.shape[0], dtype=np.bool_)
    st, en = np.ascontiguousarray(starts, dtype=np.int64), np.ascontiguousarray(ends, dtype=np.int64)
    _mod.quiet(data, st, en, np.ascontiguousarray(idx, dtype=np.int64), words, out)
    return out
