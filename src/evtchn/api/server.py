"""HTTP transport for the XenAPI endpoint: XML-RPC on POST / and /RPC2, JSON-RPC on /jsonrpc and /json.

    tcp = make_tcp_server(dispatcher, "127.0.0.1", 0)       # .server_address -> (host, port)
    uds = make_unix_server(dispatcher, "/tmp/evtchn/xapi")  # XenAPI.xapi_local()-style clients
    threading.Thread(target=tcp.serve_forever, daemon=True).start()

HTTP/1.1 with keep-alive, as xapi speaks. A body that is not a well-formed call gets HTTP 500 with a small
HTML page, as xapi answers (reference §11); a wrong path 404, a wrong verb 405, no Content-Length 411, a
huge body 413. Nothing a client sends can stop the server.
"""

from __future__ import annotations

import contextlib
import html
import logging
import os
import socket
import socketserver
import stat
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from evtchn.api.dispatch import Dispatcher
from evtchn.api.errors import MalformedRequest
from evtchn.api.wire import envelope, json_response, parse_json_call, parse_xml_call, xml_response

log = logging.getLogger("evtchn.api")

XML_PATHS = frozenset({"/", "/RPC2"})
JSON_PATHS = frozenset({"/jsonrpc", "/json"})
MAX_BODY = 16 * 1024 * 1024


class XapiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "evtchn-xapi/0.1"
    wbufsize = -1  # buffer the response: headers and body leave in one segment when the request ends
    dispatcher: Dispatcher  # set on the per-server subclass

    def setup(self) -> None:
        super().setup()
        if self.connection.family in (socket.AF_INET, socket.AF_INET6):
            # keep-alive request/response pairs must not wait on Nagle + delayed ACK (~40 ms each)
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def address_string(self) -> str:
        addr = self.client_address
        return str(addr[0]) if isinstance(addr, tuple) and addr else "unix"

    def handle(self) -> None:
        with contextlib.suppress(ConnectionError, TimeoutError):  # the client went away mid-request
            super().handle()

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

    def do_GET(self) -> None:
        self._http_error(405 if self.path.split("?")[0] in XML_PATHS | JSON_PATHS else 404, "use POST")

    do_PUT = do_DELETE = do_HEAD = do_GET

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        if path not in XML_PATHS and path not in JSON_PATHS:
            self._http_error(404, f"no XenAPI endpoint at {path}")
            return
        raw_len = self.headers.get("Content-Length")
        if raw_len is None:
            self._http_error(411, "Content-Length required")
            return
        try:
            length = int(raw_len)
            if length < 0:
                raise ValueError
        except ValueError:
            self._http_error(400, f"bad Content-Length {raw_len!r}")
            return
        if length > MAX_BODY:
            self._http_error(413, f"request body over {MAX_BODY} bytes")
            return
        body = self.rfile.read(length)
        if len(body) != length:
            self.close_connection = True
            return
        try:
            if path in XML_PATHS:
                method, params = parse_xml_call(body)
                out = self.dispatcher.respond(
                    method, params, lambda call: xml_response(envelope(call)), "xml"
                )
                self._send(200, out, "text/xml")
            else:
                jmethod, jparams, req = parse_json_call(body)
                out = json_response(req, lambda: self.dispatcher.call(jmethod, jparams))
                self._send(200, out, "application/json")
        except MalformedRequest as e:
            self._http_error(500, str(e))
        except Exception as e:  # an encoding bug: answer, log, keep serving
            log.exception("request failed")
            self._http_error(500, f"internal error: {type(e).__name__}")


def _handler_for(dispatcher: Dispatcher) -> type[XapiHandler]:
    return type("BoundXapiHandler", (XapiHandler,), {"dispatcher": dispatcher})


class TcpXapiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


class UnixXapiServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    request_queue_size = 64

    def server_close(self) -> None:
        super().server_close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.server_address)  # type: ignore[arg-type]


def make_tcp_server(dispatcher: Dispatcher, host: str = "127.0.0.1", port: int = 0) -> TcpXapiServer:
    return TcpXapiServer((host, port), _handler_for(dispatcher))


class SocketInUse(Exception):
    pass


def make_unix_server(dispatcher: Dispatcher, path: str | os.PathLike[str]) -> UnixXapiServer:
    """Listen on a Unix socket (mode 0600). A stale socket is replaced; any other file is an error."""
    p = Path(path)
    if p.exists() or p.is_symlink():
        if not stat.S_ISSOCK(p.lstat().st_mode):
            raise SocketInUse(f"{p}: exists and is not a socket; refusing to replace it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(p))
        except OSError:
            p.unlink()  # nobody listening: stale
        else:
            raise SocketInUse(f"{p}: another server is already listening there")
        finally:
            probe.close()
    p.parent.mkdir(parents=True, exist_ok=True)
    old = os.umask(0o177)
    try:
        return UnixXapiServer(str(p), _handler_for(dispatcher))
    finally:
        os.umask(old)
