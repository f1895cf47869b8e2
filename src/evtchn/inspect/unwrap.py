"""Undo what pasting does to captured text: mail quoting, indentation, trailing spaces, CRLF, host
timestamps before "(XEN)". Lines are edited in place, never added or removed, so line numbers still
point into the file the user has.

    text, notes = unwrap(data, dedent=True)   # notes: what was done, for the output
"""

from __future__ import annotations

import re

_QUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+")
_BEFORE_XEN = re.compile(r"^(.+?)\(XEN\) ")


def _plural(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def unwrap(data: bytes, *, dedent: bool) -> tuple[bytes, list[str]] | None:
    """The text with paste damage undone and what was undone; None when there was nothing to undo."""
    lines = data.decode("utf-8", "surrogateescape").split("\n")
    notes: list[str] = []
    crlf = trailing = 0
    for i, line in enumerate(lines):
        if line.endswith("\r"):
            line = line[:-1]
            crlf += 1
        stripped = line.rstrip(" \t")
        if stripped != line:
            trailing += 1
        lines[i] = stripped
    if crlf:
        notes.append(f"removed CR line endings from {_plural(crlf, 'line')}")
    if trailing:
        notes.append(f"removed trailing spaces from {_plural(trailing, 'line')}")
    filled = [i for i, line in enumerate(lines) if line.strip()]
    quoted = [i for i in filled if _QUOTE.match(lines[i])]
    if quoted and len(quoted) * 2 >= len(filled):
        for i in quoted:
            lines[i] = _QUOTE.sub("", lines[i], count=1)
        notes.append(f"removed '> ' mail quoting from {_plural(len(quoted), 'line')}")
    stamped = 0
    for i in filled:
        m = _BEFORE_XEN.match(lines[i])
        if m:
            lines[i] = lines[i][m.end(1) :]
            stamped += 1
    if stamped:
        notes.append(f"removed host timestamps or prefixes before '(XEN)' from {_plural(stamped, 'line')}")
    if dedent:
        filled = [i for i in filled if lines[i].strip()]
        width = min((len(lines[i]) - len(lines[i].lstrip(" \t")) for i in filled), default=0)
        if width:
            for i in filled:
                lines[i] = lines[i][width:]
            notes.append(f"removed an indentation of {_plural(width, 'character')} from every line")
    if not notes:
        return None
    return "\n".join(lines).encode("utf-8", "surrogateescape"), notes
