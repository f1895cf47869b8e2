"""xapi's filter expressions: parsed by the recursive-descent parser, checked against a naive evaluator
written independently (Python's own boolean expressions over the same records)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evtchn.api.errors import ApiFailure
from evtchn.api.where import parse_where

RECORDS = [
    {"name_label": "web", "power_state": "Running", "is_a_template": False, "VCPUs_max": 2},
    {"name_label": "db", "power_state": "Halted", "is_a_template": False, "VCPUs_max": 4},
    {"name_label": "Debian", "power_state": "Halted", "is_a_template": True, "VCPUs_max": 1},
]


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('field "power_state" = "Running"', ["web"]),
        ('field "name__label"="db"', ["db"]),
        ('field "is_a_template" = "true"', ["Debian"]),
        ('field "VCPUs_max" = "4" or field "VCPUs_max" = "1"', ["db", "Debian"]),
        ('not field "is_a_template" = "true" and field "power_state" = "Halted"', ["db"]),
        ('not (field "power_state" = "Halted" or field "name_label" = "web")', []),
        ("true", ["web", "db", "Debian"]),
        ('"a" = "a" and false', []),
        ('field "nosuch" = "x"', []),
        ('field "name_label" = "we\\"b"', []),
    ],
)
def test_expressions(expr: str, names: list[str]) -> None:
    pred = parse_where(expr)
    assert [r["name_label"] for r in RECORDS if pred(r)] == names


@pytest.mark.parametrize(
    "bad", ['field "x" =', 'field x = "y"', '("a" = "a"', '"a" = "a" "b"', "field", '"a" == "b"', "@", ""]
)
def test_malformed_expressions_are_invalid_value(bad: str) -> None:
    with pytest.raises(ApiFailure) as e:
        parse_where(bad)
    assert e.value.code == "INVALID_VALUE" and e.value.params[0] == "expr" and "column" in e.value.params[1]


# random expressions over the same records: the parser agrees with Python evaluating the same tree
_FIELDS = ("name_label", "power_state", "is_a_template", "VCPUs_max")
_VALUES = ("web", "db", "Running", "Halted", "true", "false", "1", "2", "4")
_atom = st.tuples(st.sampled_from(_FIELDS), st.sampled_from(_VALUES)).map(
    lambda fv: (f'field "{fv[0]}" = "{fv[1]}"', f"(_s(r[{fv[0]!r}]) == {fv[1]!r})")
)


def _combine(children: st.SearchStrategy[tuple[str, str]]) -> st.SearchStrategy[tuple[str, str]]:
    return st.one_of(
        children.map(lambda c: (f"not ({c[0]})", f"(not {c[1]})")),
        st.tuples(children, children, st.sampled_from(["and", "or"])).map(
            lambda t: (f"({t[0][0]}) {t[2]} ({t[1][0]})", f"({t[0][1]} {t[2]} {t[1][1]})")
        ),
    )


def _s(v: object) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


@settings(max_examples=200, deadline=None)
@given(st.recursive(_atom, _combine, max_leaves=8))
def test_parser_matches_a_naive_evaluator(pair: tuple[str, str]) -> None:
    expr, python = pair
    pred = parse_where(expr)
    for r in RECORDS:
        assert pred(r) == eval(python, {"_s": _s, "r": r})
