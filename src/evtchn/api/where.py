"""xapi's filter expressions for `<class>.get_all_records_where` (xen-api: ocaml/database/db_filter_lex.mll,
db_filter_parse.mly): `field "power_state" = "Running" and not (field "is_a_template" = "true")`.

    expr   := term ("or" term)*
    term   := factor ("and" factor)*
    factor := "not" factor | "(" expr ")" | "true" | "false" | value "=" value
    value  := 'field' STRING | STRING

Field names may use the database's spelling (`name__label`, namespaces joined by `__`). Values compare as the
database stores them: booleans "true"/"false", ints in decimal, enums and refs as strings. A malformed
expression is a one-line ApiFailure("INVALID_VALUE", "expr", text) naming where it stopped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from evtchn.api.errors import ApiFailure

Predicate = Callable[[Mapping[str, Any]], bool]

_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>[()=])|(?P<word>[A-Za-z_]+))')


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # "str", "op", "word", "end"
    text: str
    pos: int


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _bad(text, pos, "unexpected character")
        kind = m.lastgroup or "op"
        raw = m.group(kind)
        if kind == "str":
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        elif kind == "word":
            raw = raw.lower()
        out.append(_Tok(kind, raw, m.start(kind)))
        pos = m.end()
    out.append(_Tok("end", "", len(text)))
    return out


def _bad(text: str, pos: int, why: str) -> ApiFailure:
    return ApiFailure("INVALID_VALUE", "expr", f"{text!r}: {why} at column {pos + 1}")


def db_string(value: Any) -> str:
    """A record value as xapi's database holds it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, kind: str, text: str | None = None) -> _Tok:
        tok = self.take()
        if tok.kind != kind or (text is not None and tok.text != text):
            raise _bad(self.text, tok.pos, f"expected {text or kind}, found {tok.text or 'end'!r}")
        return tok

    def parse(self) -> Predicate:
        pred = self.expr()
        self.expect("end")
        return pred

    def expr(self) -> Predicate:
        parts = [self.term()]
        while self.peek().kind == "word" and self.peek().text == "or":
            self.take()
            parts.append(self.term())
        if len(parts) == 1:
            return parts[0]
        return lambda r: any(p(r) for p in parts)

    def term(self) -> Predicate:
        parts = [self.factor()]
        while self.peek().kind == "word" and self.peek().text == "and":
            self.take()
            parts.append(self.factor())
        if len(parts) == 1:
            return parts[0]
        return lambda r: all(p(r) for p in parts)

    def factor(self) -> Predicate:
        tok = self.peek()
        if tok.kind == "word" and tok.text == "not":
            self.take()
            inner = self.factor()
            return lambda r: not inner(r)
        if tok.kind == "op" and tok.text == "(":
            self.take()
            inner = self.expr()
            self.expect("op", ")")
            return inner
        if tok.kind == "word" and tok.text in ("true", "false"):
            self.take()
            const = tok.text == "true"
            return lambda r: const
        left = self.value()
        self.expect("op", "=")
        right = self.value()
        return lambda r: left(r) == right(r)

    def value(self) -> Callable[[Mapping[str, Any]], str | None]:
        tok = self.take()
        if tok.kind == "word" and tok.text == "field":
            name = self.expect("str").text.replace("__", "_")
            return lambda r: db_string(r[name]) if name in r else None
        if tok.kind == "str":
            literal = tok.text
            return lambda r: literal
        found = tok.text or "end"
        raise _bad(self.text, tok.pos, f"expected field \"name\" or a quoted value, found {found!r}")


def parse_where(text: str) -> Predicate:
    """The predicate an expression denotes; ApiFailure INVALID_VALUE if it does not parse."""
    if not isinstance(text, str):
        raise ApiFailure("FIELD_TYPE_ERROR", "expr")
    return _Parser(text).parse()
