"""The analysis view: a pasted dump through the same parser and analyser as `evtchn analyze`.

    r = run_analysis(text, abi=None)     # r.text: what `evtchn analyze FILE` prints; r.doc: its --json

The page shows the CLI's own report text, so the two cannot drift, plus the JSON's headline figures (ABI,
whether it is known or inferred, the candidates when it is unknown, headroom per plausible ABI).
"""

from __future__ import annotations

import contextlib
import io
import threading
from dataclasses import dataclass, field
from typing import Any

from evtchn.inspect.abi import ABI_LIMITS

ABIS = tuple(sorted(ABI_LIMITS))
PASTED = "<pasted>"
_STDOUT = threading.Lock()  # print_tables writes to sys.stdout: one capture at a time


@dataclass(slots=True)
class AnalysisResult:
    ok: bool
    error: str = ""
    text: str = ""
    doc: dict[str, Any] = field(default_factory=dict)


def run_analysis(text: str, abi: str | None = None) -> AnalysisResult:
    from evtchn.inspect.analyze import analyze
    from evtchn.inspect.detect import parse_text
    from evtchn.inspect.model import ParseError
    from evtchn.inspect.report import print_tables, to_json

    if not text.strip():
        return AnalysisResult(False, error="nothing pasted: paste lsevtchn output, an 'e' dump, "
                              "/proc/interrupts, xenstore-ls or kernel/xl dmesg lines")  # fmt: skip
    try:
        dump = parse_text(text, name=PASTED)
    except ParseError as e:
        return AnalysisResult(False, error=str(e))
    a = analyze(dump, abi=abi)
    out = io.StringIO()
    with _STDOUT, contextlib.redirect_stdout(out):
        print_tables(dump, a)
    return AnalysisResult(True, text=out.getvalue(), doc=to_json(dump, a))
