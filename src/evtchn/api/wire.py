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


def for_xmlrpc(value: Any) -> Any:
    """XenAPI XML-RPC values: ints as decimal strings (XML-RPC's <int> is 32-bit), None as "" (void)."""
    if isinstance(value, bool | str | float):
        return value
    if isinstance(value, int):
        return str(value)
    if value is None:
        return ""
    if isinstance(value, dict):
        return {str(k): for_xmlrpc(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [for_xmlrpc(v) for v in value]
    raise TypeError(f"cannot send a {type(value).__name__} over XenAPI")


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


def xml_response(env: dict[str, Any]) -> bytes:
    return xmlrpc.client.dumps((for_xmlrpc(env),), methodresponse=True, allow_none=False).encode()


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
