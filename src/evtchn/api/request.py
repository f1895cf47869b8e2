"""One complete HTTP request in, one answer out: the XenAPI endpoint's request logic (server.py moves bytes).

    out, keep_alive = BoundHandler.answer(b"POST / HTTP/1.1\r\n...", Client("10.0.0.7"))

Runs on a worker thread with the whole request already buffered, so nothing here waits on a client.
Checks happen cheapest first: path, verb, length (413), nesting depth, and, for a large body, the method
and session read from its first bytes, all before the body is parsed.
"""

from __future__ import annotations

import html
import io
import logging
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

from evtchn.api.dispatch import Dispatcher
from evtchn.api.errors import ApiFailure, MalformedRequest
from evtchn.api.limits import Limits
from evtchn.api.sessions import CLIENT, Client
from evtchn.api.wire import (
    JsonRpcError,
    envelope,
    json_error,
    json_response,
    parse_json_call,
    parse_xml_call,
    prescan,
    xml_response,
)

log = logging.getLogger("evtchn.api")

XML_PATHS = frozenset({"/", "/RPC2"})
JSON_PATHS = frozenset({"/jsonrpc", "/json"})


class XapiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "evtchn-xapi/0.1"
    dispatcher: ClassVar[Dispatcher]  # set on the per-server subclass
    limits: ClassVar[Limits]
    client: Client

    @classmethod
    def answer(cls, request: bytes, client: Client) -> tuple[bytes, bool]:
        """The response bytes and whether the connection stays open."""
        token = CLIENT.set(client)
        try:
            h = cls(request, client, None)  # type: ignore[arg-type]
        finally:
            CLIENT.reset(token)
        out = h.wfile.getvalue()  # type: ignore[attr-defined]
        return out, not h.close_connection and bool(out)

    # BaseRequestHandler plumbing over a buffered request
    def setup(self) -> None:
        self.client = self.client_address  # type: ignore[assignment]
        self.rfile = io.BytesIO(self.request)
        self.wfile = io.BytesIO()

    def handle(self) -> None:
        self.handle_one_request()

    def finish(self) -> None:
        pass

    def address_string(self) -> str:
        return self.client.name

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, code: int, body: bytes, ctype: str, *, close: bool = False) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def _http_error(self, code: int, reason: str) -> None:
        page = f"<html><body><h1>HTTP {code}</h1><p>{html.escape(reason)}</p></body></html>".encode()
        self._send(code, page, "text/html; charset=utf-8", close=True)

    def _mounted(self) -> bool:
        """A path under a mounted prefix (the dashboard's /ui, /ui/…) goes to what is mounted there."""
        path = self.path.split("?", 1)[0]
        for prefix, page in self.dispatcher.mounts.items():
            if path == prefix or path.startswith(prefix + "/"):
                page(self, self.command)
                return True
        return False

    def do_GET(self) -> None:
        if self._mounted():
            return
        self._http_error(405 if self.path.split("?")[0] in XML_PATHS | JSON_PATHS else 404, "use POST")

    do_PUT = do_DELETE = do_HEAD = do_GET

    def do_POST(self) -> None:
        if self._mounted():
            return
        path = self.path.split("?", 1)[0]
        if path not in XML_PATHS and path not in JSON_PATHS:
            self._http_error(404, f"no XenAPI endpoint at {path}")
            return
        raw_len = self.headers.get("Content-Length")
        if raw_len is None:
            self._http_error(411, "Content-Length required")
            return
        try:
            length = int(raw_len) if raw_len.strip().isdigit() and len(raw_len) < 20 else -1
            if length < 0:
                raise ValueError
        except ValueError:
            self._http_error(400, f"bad Content-Length {raw_len[:40]!r}")
            return
        if length > self.limits.max_body:
            self._http_error(413, f"request body over {self.limits.max_body} bytes")
            return
        body = self.rfile.read(length)
        if len(body) != length:
            self.close_connection = True
            return
        try:
            if path in XML_PATHS:
                self._xml(body)
            else:
                self._json(body)
        except MalformedRequest as e:
            self._http_error(500, str(e))
        except Exception as e:  # an encoding bug: answer, log, keep serving
            log.exception("request failed")
            self._http_error(500, f"internal error: {type(e).__name__}")

    def _early_refusal(self, body: bytes, kind: str) -> ApiFailure | None:
        """For a large body: the SESSION_INVALID its first bytes already earn, before any parsing."""
        if len(body) <= self.limits.prescan_above:
            return None
        found = prescan(body, kind)
        if found is None:
            raise MalformedRequest(
                f"a body over {self.limits.prescan_above} bytes must give its method and session first"
            )
        method = self.dispatcher.methods.get(found[0])
        if method is not None and method.session and not self.dispatcher.sessions.valid(found[1]):
            return ApiFailure("SESSION_INVALID", found[1])
        return None

    def _xml(self, body: bytes) -> None:
        refusal = self._early_refusal(body, "xml")
        if refusal is not None:
            self._send(200, xml_response({"Status": "Failure", "ErrorDescription": refusal.description}),
                       "text/xml")  # fmt: skip
            return
        method, params = parse_xml_call(body, self.limits.max_depth)
        out = self.dispatcher.respond(method, params, lambda call: xml_response(envelope(call)), "xml")
        self._send(200, out, "text/xml")

    def _json(self, body: bytes) -> None:
        try:
            refusal = self._early_refusal(body, "json")
            if refusal is not None:
                out = json_response({"jsonrpc": "2.0", "id": None}, lambda: _raise(refusal))
                self._send(200, out, "application/json")
                return
            jmethod, jparams, req = parse_json_call(body, self.limits.max_depth)
        except JsonRpcError as e:
            self._send(400, json_error(e), "application/json", close=True)
            return
        out = json_response(req, lambda: self.dispatcher.call(jmethod, jparams))
        self._send(200, out, "application/json")


def _raise(f: ApiFailure) -> Any:
    raise f
