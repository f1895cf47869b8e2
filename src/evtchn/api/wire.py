"""XenAPI's wire encodings: the result envelope, 64-bit ints as decimal strings (reference §11).

xml_response(envelope(lambda: 3))          # <string>3</string> inside {"Status": "Success", …}
json_response({"id": 1, …}, value)         # JSON-RPC v1 or v2 shape, by the request's "jsonrpc"
"""

from __future__ import annotations

import json
import xmlrpc.client
from collections.abc import Callable
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


def parse_xml_call(body: bytes) -> tuple[str, list[Any]]:
    try:
        params, method = xmlrpc.client.loads(body, use_builtin_types=False)
    except (ExpatError, ValueError, TypeError, IndexError, AttributeError, xmlrpc.client.ResponseError) as e:
        raise MalformedRequest(f"not an XML-RPC call: {e}") from None
    if not isinstance(method, str) or not method:
        raise MalformedRequest("XML-RPC call has no methodName")
    return method, list(params)


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


def parse_json_call(body: bytes) -> tuple[str, list[Any], dict[str, Any]]:
    """(method, params, request) of a JSON-RPC v1 or v2 call."""
    try:
        req = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise MalformedRequest(f"not JSON: {e}") from None
    if not isinstance(req, dict) or not isinstance(req.get("method"), str):
        raise MalformedRequest("JSON-RPC call needs an object with a string 'method'")
    params = req.get("params", [])
    if not isinstance(params, list):
        raise MalformedRequest("JSON-RPC 'params' must be an array")
    return req["method"], params, req


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
