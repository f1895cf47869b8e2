"""Inspection: lsevtchn and the 'e' dump from a simulated host, parsers and an analyser for real dumps.

    out, err, rc = format_lsevtchn(hv, 0)          # what /usr/lib/xen/bin/lsevtchn 0 prints
    text = format_edump(hv, layout="4.1", prefix=True)
    dump = parse_file("capture.txt")   # lsevtchn, 'e' dumps, /proc/interrupts, xenstore-ls, error messages
    report = analyze(dump)              # dom0's ports, the ABI from evidence, headroom, exhaustion

The formatters read the core (`evtchn.xen`); the parsers and the analyser depend on nothing but the text.
One detection step (`detect.py`) offers the lines to one reader per input kind (`readers/`).
"""

import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evtchn.inspect.analyze import Analysis, analyze
    from evtchn.inspect.detect import parse_file, parse_files, parse_text
    from evtchn.inspect.edump import format_edump
    from evtchn.inspect.lsevtchn import LsevtchnResult, format_lsevtchn, parse_domid_arg
    from evtchn.inspect.model import BadLine, Channel, Dump, Kind, ParseError

# Loaded on first use (PEP 562), so that `lsevtchn` importing one formatter does not import numpy.
_LAZY = {
    "Analysis": "analyze", "analyze": "analyze", "format_edump": "edump", "LsevtchnResult": "lsevtchn",
    "format_lsevtchn": "lsevtchn", "parse_domid_arg": "lsevtchn", "BadLine": "model", "Channel": "model",
    "Dump": "model", "Kind": "model", "ParseError": "model", "parse_file": "detect", "parse_files": "detect",
    "parse_text": "detect",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    """Importing the submodule `evtchn.inspect.analyze` would set the package's `analyze` to that module;
    the package's `analyze` is the function (as it was when this file imported it eagerly)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__all__ = [
    "Analysis",
    "BadLine",
    "Channel",
    "Dump",
    "Kind",
    "LsevtchnResult",
    "ParseError",
    "analyze",
    "format_edump",
    "format_lsevtchn",
    "parse_domid_arg",
    "parse_file",
    "parse_files",
    "parse_text",
]
