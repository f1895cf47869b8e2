"""Inspection: lsevtchn and the 'e' dump from a simulated host, parsers and an analyser for real dumps.

    out, err, rc = format_lsevtchn(hv, 0)          # what /usr/lib/xen/bin/lsevtchn 0 prints
    text = format_edump(hv, layout="4.1", prefix=True)
    dump = parse_file("capture.txt")   # lsevtchn, 'e' dumps, /proc/interrupts, xenstore-ls, error messages
    report = analyze(dump)              # dom0's ports, the ABI from evidence, headroom, exhaustion

The formatters read the core (`evtchn.xen`); the parsers and the analyser depend on nothing but the text.
One detection step (`detect.py`) offers the lines to one reader per input kind (`readers/`).
"""

from evtchn.inspect.analyze import Analysis, analyze
from evtchn.inspect.detect import parse_file, parse_files, parse_text
from evtchn.inspect.edump import format_edump
from evtchn.inspect.lsevtchn import LsevtchnResult, format_lsevtchn, parse_domid_arg
from evtchn.inspect.model import BadLine, Channel, Dump, Kind, ParseError

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
