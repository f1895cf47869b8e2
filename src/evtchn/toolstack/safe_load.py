"""Reading user files without letting anything past the edge: size, encoding, NUL bytes, nesting, huge ints.

    text = read_text(path, "spec")                       # SpecError "p: not UTF-8 text (byte 17)" …
    data = guarded(str(path), text, lambda: yaml.safe_load(text))

Every failure is one SpecError line naming the file (and the line when it can be found); the CLI turns it
into exit 2. Limits are in bounds.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from evtchn.toolstack.bounds import MAX_INPUT_BYTES, MAX_INT_DIGITS, MAX_NESTING
from evtchn.toolstack.errors import SpecError

T = TypeVar("T")
_OPENERS = re.compile(r"[\[{]")
_BRACKETS = re.compile(r"[\[\]{}]")
_HUGE = re.compile(rf"\d{{{MAX_INT_DIGITS + 1},}}")


_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(32), 127) if c != 9} | {10: "\\n", 13: "\\r"}


def one_line(text: str) -> str:
    """User text (a key, a value) made safe to put inside a one-line message: control characters escaped."""
    return text.translate(_ESCAPES)


def exists(p: Path) -> bool:
    """Path.exists() that says False, not OSError, for a name the OS refuses (too long, NUL)."""
    try:
        return p.exists()
    except (OSError, ValueError):
        return False


def _line(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def read_text(p: Path, what: str) -> str:
    try:
        with p.open("rb") as f:
            raw = f.read(MAX_INPUT_BYTES + 1)
    except OSError as e:
        raise SpecError(f"{p}: cannot read {what}: {e.strerror or e}") from None
    except ValueError:  # open() refuses a name with a NUL byte
        raise SpecError(f"{p}: cannot read {what}: the file name holds a NUL byte") from None
    if len(raw) > MAX_INPUT_BYTES:
        raise SpecError(f"{p}: {what} file is over {MAX_INPUT_BYTES} bytes; not reading it")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise SpecError(f"{p}:{line}: not UTF-8 text") from None
    nul = text.find("\0")
    if nul >= 0:
        raise SpecError(f"{p}:{_line(text, nul)}: NUL byte in a text file")
    return text


def check_text(source: str, text: str) -> None:
    """Refuse, before any parser runs, what would make it recurse or convert without bound."""
    huge = _HUGE.search(text)
    if huge is not None:
        raise SpecError(
            f"{source}:{_line(text, huge.start())}: a number with {len(huge.group())} digits "
            f"(at most {MAX_INT_DIGITS})"
        )
    if len(_OPENERS.findall(text)) <= MAX_NESTING:
        return
    depth = 0
    for m in _BRACKETS.finditer(text):
        if m.group() in "[{":
            depth += 1
            if depth > MAX_NESTING:
                line = _line(text, m.start())
                raise SpecError(f"{source}:{line}: lists or tables nest over {MAX_NESTING} deep")
        else:
            depth = max(0, depth - 1)


def guarded(source: str, text: str, parse: Callable[[], T]) -> T:
    """parse(), with the parser failures no real input should cause turned into one line."""
    check_text(source, text)
    try:
        return parse()
    except RecursionError:
        raise SpecError(f"{source}: nests too deeply to read") from None
    except MemoryError:
        raise SpecError(f"{source}: too large to read") from None
    except ValueError as e:
        if "integer string conversion" in str(e):  # a number built from pieces past the digit limit
            raise SpecError(f"{source}: a number with more than {MAX_INT_DIGITS} digits") from None
        raise
