"""What a file that is none of the known inputs looks like, so a refusal can say it in one line."""

from __future__ import annotations

import re

from evtchn.inspect.swar import Lines

_SHAPES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^\[[\w.\- \"]+\]\s*$"), "an INI or TOML file"),
    (re.compile(r"^\s*[\[{]"), "JSON"),
    (re.compile(r"^\s*<"), "XML or HTML"),
    (re.compile(r"^Name\s+ID\s+Mem\s+VCPUs"), "`xl list` output (domains, not event channels)"),
    (re.compile(r"^uuid \( RO\)"), "`xe` output (objects, not event channels)"),
    (re.compile(r"^(?:host|release|xen_major|nr_cpus)\s+:"), "`xl info` output"),
    (re.compile(r"^\[ *\d+\.\d+\]"), "a kernel log with no known event-channel message"),
    (
        re.compile(r"^\s*(?:CPU\d+\s*)+$|^\s*\d+:(?:\s+\d+)+\s+\S"),
        "/proc/interrupts of a machine not on Xen (no Xen IRQ)",
    ),
    (re.compile(r'^ *[^ =]+ = ".*"$'), 'key = "value" lines under no xenstore path (TOML or INI?)'),
    (re.compile(r"^\(XEN\) "), "Xen console output without an 'e' dump"),
    (re.compile(r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d "), "a syslog with no known event-channel message"),
    (re.compile(r"^\s*[\w.-]+\s*[:=]\s"), "a configuration or key/value file"),
]


def looks_like(lines: Lines) -> str:
    """A short description of the text, from its first non-blank lines."""
    n = len(lines)
    if n == 0 or int(lines.ends[-1]) == 0:
        return "an empty file"
    head = bytes(lines.data[: min(int(lines.ends[min(n, 20) - 1]), 4096)])
    if b"\0" in head:
        return "a binary file"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "a binary or non-UTF-8 file"
    texts = [t for t in (lines.text(i) for i in range(min(n, 20))) if t.strip()]
    if not texts:
        return "a file of blank lines"
    for rx, what in _SHAPES:
        hits = sum(1 for t in texts if rx.match(t))
        first_only = what in ("JSON", "XML or HTML", "an INI or TOML file")
        if hits * 2 >= len(texts) or (first_only and rx.match(texts[0])):
            return what
    first = texts[0].strip()
    return f"text starting {first[:60]!r}"
