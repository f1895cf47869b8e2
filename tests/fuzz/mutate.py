"""Input mutation for the fuzz surfaces: seeds in, hostile variants out (deterministic for a Random).

    data = mutate(seed_bytes, random.Random(7))

Hostile on purpose: numbers past every bound (and past CPython's 4 300-digit limit), deep nesting, NUL
bytes, invalid UTF-8, YAML tags and aliases, truncation, duplicated and deleted ranges, giant repeats.
"""

from __future__ import annotations

import random
import re

NASTY_NUMBERS = [
    b"-1",
    b"0",
    b"1",
    b"255",
    b"256",
    b"4095",
    b"4096",
    b"32751",
    b"32752",
    b"32767",
    b"65535",
    b"65536",
    b"131071",
    b"131072",
    b"2147483647",
    b"2147483648",
    b"4294967296",
    b"9223372036854775808",
    b"18446744073709551616",
    b"1" + b"0" * 30,
    b"9" * 4301,
    b"-" + b"9" * 5000,
    b"1e309",
    b"-1e309",
    b"nan",
    b"inf",
    b"0x7FF0",
    b"1_000",
    b"0o777",
    b"3.5",
    b"-0",
]
NASTY_TOKENS = [
    b"\x00",
    b"\xff\xfe",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\x1b[2J",
    b"\r",
    b"\n",
    b"\t",
    b"'",
    b'"',
    b"\\",
    b"[" * 3000,
    b"{" * 2000,
    b"[[[[[[[[",
    b"]]]]",
    b"}",
    b"- " * 500 + b"x",
    b"&a x",
    b"*a",
    b"!!python/object:os.system",
    b"!!binary AAAA",
    b"~",
    b"null",
    b"true",
    b"[]",
    b"{}",
    b"a" * 100_000,
    b"<<: *a",
    b"%YAML 1.1\n---\n",
    b"\xef\xbb\xbf",
    b"=",
    b":",
    b",",
    b"#",
    b"$",
    b"\\u0000",
    b"\\ud800",
]
_NUMBER = re.compile(rb"-?\d+")


def mutate(seed: bytes, rnd: random.Random, rounds: int | None = None) -> bytes:
    data = bytearray(seed)
    for _ in range(rounds if rounds is not None else rnd.choice((1, 1, 2, 3, 5))):
        op = rnd.randrange(9)
        n = len(data)
        at = rnd.randrange(n + 1)
        if op == 0 and n:  # a number becomes a hostile one
            nums = list(_NUMBER.finditer(data))
            if nums:
                m = rnd.choice(nums)
                data[m.start() : m.end()] = rnd.choice(NASTY_NUMBERS)
                continue
            data[at:at] = rnd.choice(NASTY_NUMBERS)
        elif op == 1:
            data[at:at] = rnd.choice(NASTY_TOKENS)
        elif op == 2 and n:
            data[rnd.randrange(n)] ^= 1 << rnd.randrange(8)
        elif op == 3 and n:
            end = min(n, at + rnd.randrange(1, 64))
            del data[at:end]
        elif op == 4 and n:
            end = min(n, at + rnd.randrange(1, 64))
            data[at:at] = data[at:end] * rnd.randrange(2, 50)
        elif op == 5:
            del data[at:]
        elif op == 6 and n:  # a line after a key/value separator gets a hostile value
            seps = [m.end() for m in re.finditer(rb"(?:: |= |\")", data)]
            if seps:
                p = rnd.choice(seps)
                end = data.find(b"\n", p)
                end = len(data) if end < 0 else end
                data[p:end] = rnd.choice(NASTY_NUMBERS + NASTY_TOKENS)
        elif op == 7:
            data[at:at] = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 16)))
        else:
            depth = rnd.choice((10, 70, 500, 5000))
            open_, close = rnd.choice(((b"[", b"]"), (b"{", b"}"), (b"[", b"")))
            data[at:at] = open_ * depth + b"1" + close * depth
    return bytes(data[: 8 * 1024 * 1024])
