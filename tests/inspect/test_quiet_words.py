"""The quiet-line filter's word search (quiet.find_words, one numpy pass over byte pairs) finds exactly
what a substring search per word finds, overlapping and adjacent hits included."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from evtchn.inspect.quiet import _WORDS, find_words


def naive(blob: bytes) -> list[int]:
    hits = []
    for word in _WORDS:
        at = blob.find(word)
        while at >= 0:
            hits.append(at)
            at = blob.find(word, at + 1)
    return sorted(hits)


# Pieces that build words, near-misses (a word with a byte changed or cut) and ordinary log text.
_PIECES = [w for w in _WORDS] + [w[:-1] for w in _WORDS] + [w[1:] for w in _WORDS]
_PIECES += [
    b"map",
    b"ping",
    b" ABI",
    b"-based",
    b"Xen",
    b" ",
    b"\n",
    b"(XEN) ",
    b"[  1.000000] ",
    b"pp",
    b"BI",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES) | st.binary(max_size=6), max_size=40))
def test_find_words_matches_a_search_per_word(parts: list[bytes]) -> None:
    blob = b"".join(parts)
    assert find_words(blob).tolist() == naive(blob)


def test_find_words_at_both_ends_and_in_odd_lengths() -> None:
    for blob in (b"mapping", b"xmapping", b"ENOSPC", b'a = "b" lsevtchn', b"", b"p", b"-level ABI-based ABI"):
        assert find_words(blob).tolist() == naive(blob)
