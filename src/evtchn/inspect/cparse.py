"""C library number parsing that the real tools use, so captured arguments read the way the tool read them."""

from __future__ import annotations

LONG_MAX = 2**63 - 1
LONG_MIN = -(2**63)


def strtol10(text: str) -> int:
    """C `strtol(text, NULL, 10)`: leading space, a sign, the longest run of digits, clamped to long."""
    s = text.lstrip(" \t\n\v\f\r")
    sign = 1
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    n = 0
    for ch in s:
        if not "0" <= ch <= "9":
            break
        n = n * 10 + (ord(ch) - 48)
        if n > LONG_MAX + 1:
            break
    return max(LONG_MIN, min(LONG_MAX, sign * n))


def domid_arg(argv: list[str] | tuple[str, ...]) -> int:
    """lsevtchn's domid: `strtol(argv[1], NULL, 10)` stored in a 16-bit domid_t, default 0 (ref §9.1)."""
    if len(argv) < 2:
        return 0
    return strtol10(argv[1]) & 0xFFFF
