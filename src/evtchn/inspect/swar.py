"""Lines as raw bytes and the SWAR primitives the vectorised readers share (reference §9).

    lines = split_lines(data)            # line starts/ends over the raw bytes, zero-padded
    value, digits = number(lines.words, positions)

Every line is looked at at once with numpy, eight bytes per gather (SWAR digit parsing), so a
million-line dump costs a few dozen passes in C instead of a regex per line. The readers in
`evtchn.inspect.readers` build their scanners from these pieces.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from evtchn.inspect import cscan

U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
BOOL = npt.NDArray[np.bool_]

PAD = 64  # zero bytes after the text so 8-byte reads past the last line stay inside the buffer


@dataclass(slots=True)
class Lines:
    data: bytes | bytearray | mmap.mmap  # the text, then at least PAD zero bytes
    buf: U8
    words: U64  # words[i] = the 8 bytes starting at byte i (little-endian)
    starts: I64
    ends: I64  # index of each line's terminating newline (or of the end of the text)

    def text(self, i: int) -> str:
        raw = bytes(self.data[int(self.starts[i]) : int(self.ends[i])])
        return raw.rstrip(b"\r").decode("utf-8", "replace")

    def __len__(self) -> int:
        return int(self.starts.shape[0])


def padded_size(n: int) -> int:
    """Bytes to allocate for n bytes of text: room for PAD zero bytes, rounded up to whole words."""
    return n + PAD + (-(n + PAD)) % 8


def split_lines(text: bytes | bytearray | mmap.mmap, length: int | None = None) -> Lines:
    """Index the lines of `text`. With `length`, `text` is already a zero-padded buffer of
    padded_size(length) bytes holding `length` bytes of text (as parse_file reads it, without a copy)."""
    if length is None:
        n = len(text)
        data: bytes | bytearray | mmap.mmap = bytes(text) + b"\0" * (padded_size(n) - n)
    else:
        n = length
        data = text
        if len(data) != padded_size(n):
            raise ValueError("split_lines: buffer is not padded_size(length) bytes")
    buf = np.frombuffer(data, dtype=np.uint8)
    if cscan.enabled():
        starts, ends = cscan.split(data, n)  # one memchr pass
    else:
        ends = np.flatnonzero(buf[:n] == 10).astype(np.int64, copy=False)
        if n and buf[n - 1] != 10:
            ends = np.append(ends, np.int64(n))
        starts = np.empty_like(ends)
        if starts.shape[0]:
            starts[0] = 0
            starts[1:] = ends[:-1] + 1
    words8 = np.frombuffer(data, dtype="<u8")
    words = np.lib.stride_tricks.as_strided(words8, shape=(len(data) - 8,), strides=(1,))
    return Lines(data, buf, words, starts, ends)


def rows(lines: Lines, pos: I64, width: int) -> U64:
    """The `width` (a multiple of 8, at most PAD) bytes at each position, as a (len(pos), width // 8)
    array of little-endian words: word k holds bytes 8k..8k+7 after the position.

    numpy gathers an unaligned 8-byte word from `words` at about the same cost per position as a
    whole 48-byte row, so a scanner reads a line's fixed-offset fields from one row gather instead of
    one gather per field (the columns are then plain shifts and masks)."""
    data = lines.data
    view = np.ndarray(shape=(len(data) - width + 1,), dtype=f"V{width}", buffer=data, strides=(1,))
    res: U64 = view[pos].view("<u8").reshape(-1, width // 8)
    return res


def at_byte(row: U64, k: int) -> U64:
    """The 8 bytes at byte offset k of each row (row from `rows`, k + 8 within its width)."""
    j, r = divmod(k, 8)
    if k < 0 or k + 8 > 8 * row.shape[1]:
        raise ValueError(f"at_byte: bytes {k}..{k + 7} are not all in a {8 * row.shape[1]}-byte row")
    if r == 0:
        res: U64 = row[:, j]
        return res
    word: U64 = (row[:, j] >> np.uint64(8 * r)) | (row[:, j + 1] << np.uint64(64 - 8 * r))
    return word


def join_at(lo: U64, hi: U64, shift: U64 | np.uint64) -> U64:
    """The 8 bytes starting `shift` (0..7 per line) bytes into the 16 bytes `lo`, `hi` (two adjacent
    words of a row): a per-line byte offset read without a gather (numpy shifts by 64 give 0)."""
    bits: U64 = np.left_shift(shift, np.uint64(3))
    res: U64 = (lo >> bits) | (hi << (np.uint64(64) - bits))
    return res


def lit(text: bytes) -> tuple[np.uint64, np.uint64]:
    """(mask, value) to compare the first len(text) ≤ 8 bytes of a word against `text`."""
    value = int.from_bytes(text, "little")
    mask = (1 << (8 * len(text))) - 1
    return np.uint64(mask), np.uint64(value)


SPACES4 = lit(b"    ")
XEN = lit(b"(XEN) ")
N_EQ = lit(b" n=")
X_EQ = lit(b" x=")
D_EQ = lit(b" d=")
P_EQ = lit(b" p=")
I_EQ = lit(b" i=")
V_EQ = lit(b" v=")
Z_EQ = lit(b" Z=")
M8 = np.uint64(0xFF)
HI = np.uint64(0x8080808080808080)
LO7 = np.uint64(0x7F7F7F7F7F7F7F7F)
ADD = np.uint64(0x7676767676767676)
ZEROS = np.uint64(0x3030303030303030)
# Expected high nibbles of a %4u field with 1..4 digits, first character in the low byte.
FIELD4 = np.array([0, 0x30202020, 0x30302020, 0x30303020, 0x30303030], dtype=np.uint64)


def is_at(words: U64, pos: I64, lit: tuple[np.uint64, np.uint64]) -> BOOL:
    res: BOOL = (words[pos] & lit[0]) == lit[1]
    return res


def digit(buf: U8, pos: I64) -> tuple[I64, BOOL]:
    c = buf[pos] - np.uint8(48)
    return c.astype(np.int64), c < 10


CTZ_BYTES = np.uint64(0x0001020304050607)


def swar(x: U64, ndig: U64) -> I64:
    """Value of the first `ndig` (1..8) digit bytes of x, already xor-ed with '0' (first digit lowest)."""
    v = x << ((np.uint64(64) - (ndig << np.uint64(3))) & np.uint64(63))
    v = ((v & np.uint64(0x0F0F0F0F0F0F0F0F)) * np.uint64(2561)) >> np.uint64(8)
    v = ((v & np.uint64(0x00FF00FF00FF00FF)) * np.uint64(6553601)) >> np.uint64(16)
    v = ((v & np.uint64(0x0000FFFF0000FFFF)) * np.uint64(42949672960001)) >> np.uint64(32)
    res: I64 = v.view(np.int64)
    return res


def swar4(x: U64) -> I64:
    """Value of the 4 digit bytes in the low half of x, already xor-ed with '0' (first digit lowest;
    the high half zero): swar(x, 4) in two steps."""
    v = ((x & np.uint64(0x0F0F0F0F)) * np.uint64(2561)) >> np.uint64(8)
    v = ((v & np.uint64(0x00FF00FF)) * np.uint64(6553601)) >> np.uint64(16)
    res: I64 = (v & np.uint64(0xFFFF)).view(np.int64)
    return res


def number(words: U64, pos: I64) -> tuple[I64, I64]:
    """Read an unsigned decimal of 1..7 digits at pos: (value, digits); digits 0 means none or too long."""
    return digits_in(words[pos])


def digits_in(word: U64) -> tuple[I64, I64]:
    """The unsigned decimal of 1..7 digits at the start of each 8-byte word: (value, digits); digits 0
    means none or too long."""
    x = word ^ ZEROS
    nondigit = (((x & LO7) + ADD) | x) & HI
    # The lowest set bit of `nondigit` is bit 8k+7 for the first non-digit byte k: isolate it, shift it
    # to bit 8k and multiply so that byte 7 of the product reads k (no non-digit in 8 bytes reads 0).
    low = nondigit & (~nondigit + np.uint64(1))
    ndig = ((low >> np.uint64(7)) * CTZ_BYTES) >> np.uint64(56)
    return swar(x, ndig), ndig.view(np.int64)


HIGH3 = np.uint64(0xFFFFFF0000000000)


def field_at(words: U64, pos: I64, lit: tuple[np.uint64, np.uint64]) -> tuple[BOOL, I64, I64]:
    """A 3-byte key like " d=" and the decimal after it, from one 8-byte read: (key matches, value,
    digits). Digits is 0 when there is none, or 5 when the number may run past the read (the caller
    rereads those few lines with number)."""
    w = words[pos]
    key = (w & lit[0]) == lit[1]
    x = ((w >> np.uint64(24)) ^ ZEROS) | HIGH3
    nondigit = (((x & LO7) + ADD) | x) & HI
    low = nondigit & (~nondigit + np.uint64(1))
    ndig = ((low >> np.uint64(7)) * CTZ_BYTES) >> np.uint64(56)
    return key, swar(x, ndig), ndig.view(np.int64)


def long_field(words: U64, pos: I64, val: I64, nd: I64, sel: I64 | None = None) -> None:
    """Reread, in place, the numbers field_at could not finish (5 digits seen in its window)."""
    long = np.flatnonzero(nd == 5)
    if long.size:
        at = long if sel is None else sel[long]
        v2, n2 = number(words, pos[at] + 3)
        val[long] = v2
        nd[long] = np.where(n2 >= 5, n2, 0)


_ONES = np.uint64(0x0101010101010101)


def no_byte(words: U64, pos: I64, n: int, byte: int) -> BOOL:
    """Lines whose `n` bytes at `pos` hold no `byte` (eight at a time: the has-zero-byte trick)."""
    ok: BOOL = np.ones(pos.shape[0], dtype=np.bool_)
    fill = np.uint64(byte) * _ONES
    for k in range(0, n, 8):
        x = words[pos + k] ^ fill
        m = min(8, n - k)
        if m < 8:
            x |= np.uint64(~((1 << (8 * m)) - 1) & 0xFFFF_FFFF_FFFF_FFFF)  # bytes past n: never zero
        ok &= (((x - _ONES) & ~x) & HI) == 0
    return ok


def _stamp_ends(lines: Lines, at: I64, eol: I64) -> tuple[I64, BOOL]:
    """For "[" at `at`: the first "]" after it and whether a space follows before the line ends."""
    buf = lines.buf
    lo, hi = int(at.min()), int(eol.max())
    closes = np.flatnonzero(buf[lo:hi] == ord("]")).astype(np.int64) + lo
    j = np.searchsorted(closes, at)
    found = j < closes.shape[0]
    end = closes[np.minimum(j, max(closes.shape[0] - 1, 0))] if closes.shape[0] else at
    return end, found & (end < eol) & (buf[end + 1] == 32)


def body_start(lines: Lines, starts: I64, eol: I64) -> I64:
    """Where each line's text starts after an optional "(XEN) " and, behind it, an optional console
    timestamp "[...] " (the first "]" must be followed by a space, as the per-line parser reads it).
    Timestamps of one width (Xen's "[%5lu.%06lu]", or a date) are checked a word at a time; only the
    lines of other widths look for their "]" the slow way."""
    buf, words = lines.buf, lines.words
    pre = (words[starts] & XEN[0]) == XEN[1]
    b: I64 = starts + pre * np.int64(6)
    stamped = np.flatnonzero(pre & (buf[b] == ord("[")))
    for _ in range(4):  # a log's timestamps come in a width or two ("[ 9999.1]", "[10000.1]")
        if not stamped.size:
            return b
        at = b[stamped]
        end, good = _stamp_ends(lines, at[:1], eol[stamped[:1]])
        if not good[0]:
            break
        w = int(end[0] - at[0])
        fits = (buf[at + w] == ord("]")) & (buf[at + w + 1] == 32) & (at + w < eol[stamped])
        fits &= no_byte(words, at + 1, w - 1, ord("]"))
        b[stamped[fits]] = at[fits] + w + 2
        stamped = stamped[~fits]
    if stamped.size:
        at = b[stamped]
        end, good = _stamp_ends(lines, at, eol[stamped])
        b[stamped] = np.where(good, end + 2, at)
    return b


def bytes_mask(*idx: int) -> np.uint64:
    return np.uint64(sum(0xFF << (8 * i) for i in idx))


def byte_at(word: U64, i: int) -> U64:
    res: U64 = (word >> np.uint64(8 * i)) & M8
    return res


def digit_at(word: U64, i: int) -> tuple[I64, BOOL]:
    c = byte_at(word, i) - np.uint64(48)
    return c.view(np.int64), c < 10


def const(words: U64, pos: I64, text: bytes) -> BOOL:
    """Lines whose bytes at `pos` are `text` (any length), compared eight at a time."""
    ok: BOOL = np.ones(pos.shape[0], dtype=np.bool_)
    for k in range(0, len(text), 8):
        mask, value = lit(text[k : k + 8])
        ok &= (words[pos + k] & mask) == value
    return ok


def const_rows(lines: Lines, pos: I64, text: bytes) -> BOOL:
    """const() for a long literal (up to PAD bytes): one row gather, then a compare per word."""
    width = -(-len(text) // 8) * 8
    row = rows(lines, pos, width)
    ok: BOOL = np.ones(pos.shape[0], dtype=np.bool_)
    for k in range(0, len(text), 8):
        mask, value = lit(text[k : k + 8])
        ok &= (row[:, k // 8] & mask) == value
    return ok
