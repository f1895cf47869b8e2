"""XenAPI's wire encodings: the result envelope, 64-bit ints as decimal strings (reference §11).

xml_response(envelope(lambda: 3))          # <string>3</string> inside {"Status": "Success", …}
json_response({"id": 1, …}, value)         # JSON-RPC v1 or v2 shape, by the request's "jsonrpc"
"""

from __future__ import annotations

import json
import re
import xmlrpc.client
from collections.abc import Callable
from itertools import accumulate
from typing import Any
from xml.parsers.expat import ExpatError

from evtchn.api.errors import ApiFailure, MalformedRequest


def for_json(value: Any) -> Any:
    """JSON-RPC values: JSON numbers carry 64-bit ints as they are; None is "" (void)."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return {str(k): for_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [for_json(v) for v in value]
    return value


def envelope(call: Callable[[], Any]) -> dict[str, Any]:
    """Run a call and wrap it as XenAPI does: Success/Value or Failure/ErrorDescription."""
    try:
        return {"Status": "Success", "Value": call()}
    except ApiFailure as f:
        return {"Status": "Failure", "ErrorDescription": f.description}


DEFAULT_DEPTH = 64


class JsonRpcError(Exception):
    """A JSON-RPC request refused before dispatch: answered with JSON-RPC's own error object."""

    def __init__(self, code: int, message: str, data: str) -> None:
        super().__init__(data)
        self.code, self.message, self.data = code, message, data


def json_error(e: JsonRpcError) -> bytes:
    return json.dumps(
        {"jsonrpc": "2.0", "error": {"code": e.code, "message": e.message, "data": e.data}, "id": None}
    ).encode()


_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_XML_NEST = re.compile(rb"<(/?)(?:array|struct)\s*(/?)>")


def _max_depth(steps: list[int]) -> int:
    return max(accumulate(steps), default=0)


def json_depth(body: bytes) -> int:
    """How deep arrays and objects nest, counted without parsing (strings skipped): no recursion."""
    if body.count(b"[") + body.count(b"{") <= DEFAULT_DEPTH // 2:
        return body.count(b"[") + body.count(b"{")
    brackets = _JSON_STRING.sub(b"", body).translate(None, delete=bytes(set(range(256)) - set(_STEP)))
    return _max_depth([_STEP[b] for b in brackets])


def xml_depth(body: bytes) -> int:
    return _max_depth([0 if close else -1 if slash else 1 for slash, close in _XML_NEST.findall(body)])


def parse_xml_call(body: bytes, max_depth: int = DEFAULT_DEPTH) -> tuple[str, list[Any]]:
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:  # XML-RPC has no use for them; entities can explode
        raise MalformedRequest("not an XML-RPC call: DOCTYPE and ENTITY declarations are not accepted")
    depth = xml_depth(body)
    if depth > max_depth:
        raise MalformedRequest(f"not an XML-RPC call: arrays/structs nest {depth} deep, over {max_depth}")
    try:
        params, method = xmlrpc.client.loads(body, use_builtin_types=False)
    except (ExpatError, ValueError, TypeError, IndexError, AttributeError, xmlrpc.client.ResponseError) as e:
        raise MalformedRequest(f"not an XML-RPC call: {str(e)[:200]}") from None
    if not isinstance(method, str) or not method:
        raise MalformedRequest("XML-RPC call has no methodName")
    return method, list(params)


_PRE_XML_METHOD = re.compile(rb"<methodName>\s*([^<\s]{1,200})\s*</methodName>")
_PRE_XML_FIRST = re.compile(rb"<param>\s*<value>\s*(?:<string>)?([^<]{0,200}?)(?:</string>)?\s*</value>")
_PRE_JSON_METHOD = re.compile(rb'"method"\s*:\s*"([^"\\]{1,200})"')
_PRE_JSON_FIRST = re.compile(rb'"params"\s*:\s*\[\s*"([^"\\]{0,200})"')
PRESCAN_WINDOW = 4096


def prescan(body: bytes, kind: str) -> tuple[str, str] | None:
    """(method, first parameter) read from the first bytes of a call without parsing it, or None."""
    head = body[:PRESCAN_WINDOW]
    m, f = (_PRE_XML_METHOD, _PRE_XML_FIRST) if kind == "xml" else (_PRE_JSON_METHOD, _PRE_JSON_FIRST)
    method, first = m.search(head), f.search(head)
    if method is None:
        return None
    try:
        return method.group(1).decode(), first.group(1).decode() if first else ""
    except UnicodeDecodeError:
        return None


def _xml_value(v: Any, out: list[str]) -> None:
    """xapi's XML-RPC value layout (xen-api: ocaml/libs/http-lib/xMLRPC.ml `To`): strings bare in
    <value> (no <string>), "" as <value/>, ints as decimal strings, booleans 1/0, doubles %0.16g."""
    if isinstance(v, str):
        out.append(f"<value>{_escape(v)}</value>" if v else "<value/>")
    elif isinstance(v, bool):
        out.append("<value><boolean>1</boolean></value>" if v else "<value><boolean>0</boolean></value>")
    elif isinstance(v, int):
        out.append(f"<value>{v}</value>")
    elif v is None:
        out.append("<value/>")
    elif isinstance(v, float):
        text = "NaN" if v != v or v in (_INF, -_INF) else f"{v:0.16g}"
        out.append(f"<value><double>{text}</double></value>")
    elif isinstance(v, dict):
        out.append("<value><struct>")
        for k, x in v.items():
            out.append(f"<member><name>{_escape(str(k))}</name>")
            _xml_value(x, out)
            out.append("</member>")
        out.append("</struct></value>")
    elif isinstance(v, list | tuple | set | frozenset):
        out.append("<value><array><data>")
        for x in v:
            _xml_value(x, out)
        out.append("</data></array></value>")
    else:
        raise TypeError(f"cannot send a {type(v).__name__} over XenAPI")


_INF = float("inf")


def _escape(text: str) -> str:
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def xml_response(env: dict[str, Any]) -> bytes:
    out = ["<?xml version='1.0'?>\n<methodResponse><params><param>"]
    _xml_value(env, out)
    out.append("</param></params></methodResponse>\n")
    return "".join(out).encode()


def parse_json_call(body: bytes, max_depth: int = DEFAULT_DEPTH) -> tuple[str, list[Any], dict[str, Any]]:
    """(method, params, request) of a JSON-RPC v1 or v2 call. Nesting over max_depth is a JSON-RPC parse
    error (-32700), text XML cannot carry (NUL, unpaired surrogates) invalid params (-32602)."""
    depth = json_depth(body)
    if depth > max_depth:
        raise JsonRpcError(-32700, "Parse error", f"arrays/objects nest {depth} deep, over {max_depth}")
    try:
        req = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise MalformedRequest(f"not JSON: {str(e)[:200]}") from None
    if not isinstance(req, dict) or not isinstance(req.get("method"), str):
        raise MalformedRequest("JSON-RPC call needs an object with a string 'method'")
    params = req.get("params", [])
    if not isinstance(params, list):
        raise MalformedRequest("JSON-RPC 'params' must be an array")
    bad = _bad_text([req["method"], params])
    if bad is not None:
        raise JsonRpcError(-32602, "Invalid params", f"a string holds {bad}, which XenAPI text cannot carry")
    return req["method"], params, req


_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")


def _bad_text(value: Any) -> str | None:
    """The first character XML 1.0 / UTF-8 cannot carry (depth already bounded by the caller)."""
    if isinstance(value, str):
        m = _BAD_CHARS.search(value)
        return None if m is None else ("a NUL byte" if m.group() == "\x00" else "an unpaired surrogate")
    items = (
        value.items()
        if isinstance(value, dict)
        else [(None, v) for v in value]
        if isinstance(value, list)
        else []
    )
    for k, v in items:
        bad = _bad_text(k) if isinstance(k, str) else None
        bad = bad or _bad_text(v)
        if bad is not None:
            return bad
    return None


def json_response(req: dict[str, Any], call: Callable[[], Any]) -> bytes:
    """v1: {"result", "error": null | [CODE, …], "id"}; v2: error {"code": 1, "message": CODE, "data"}."""
    v2 = req.get("jsonrpc") == "2.0"
    out: dict[str, Any] = {"jsonrpc": "2.0"} if v2 else {}
    try:
        out["result"] = for_json(call())
        if not v2:
            out["error"] = None
    except ApiFailure as f:
        if v2:
            out["error"] = {"code": 1, "message": f.code, "data": f.params}
        else:
            out["result"] = None
            out["error"] = f.description
    out["id"] = req.get("id")
    return json.dumps(out).encode()
