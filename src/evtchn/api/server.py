"""HTTP transport for the XenAPI endpoint: XML-RPC on POST / and /RPC2, JSON-RPC on /jsonrpc and /json.

    tcp = make_tcp_server(dispatcher, "127.0.0.1", 0)       # .server_address -> (host, port)
    uds = make_unix_server(dispatcher, "/tmp/evtchn/xapi")  # XenAPI.xapi_local()-style clients
    threading.Thread(target=tcp.serve_forever, daemon=True).start()

HTTP/1.1 with keep-alive, as xapi speaks. A body that is not a well-formed call gets HTTP 500 with a small
HTML page, as xapi answers (reference §11); a wrong path 404, a wrong verb 405, no Content-Length 411, a
body over `Limits.max_body` 413. Nothing a client sends can stop the server or grow it without bound:

- one selector thread holds every connection while its request arrives (an idle or slow client costs a
  socket and a buffer, never a thread); only a complete request goes to the small worker pool;
- at most `max_connections` are held: one more is answered 503 and closed at once;
- a connection idle between requests is closed after `idle_timeout`; a request that has not fully arrived
  `request_timeout` after its first byte is answered 408 and closed; a client that does not read its
  answer within `write_timeout` is dropped. The limits are documented in docs/server-limits.md.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import selectors
import socket
import stat
import struct
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from evtchn.api.dispatch import Dispatcher
from evtchn.api.limits import Limits
from evtchn.api.request import XapiHandler
from evtchn.api.sessions import Client

log = logging.getLogger("evtchn.api")

__all__ = ["Limits", "SocketInUse", "XapiHandler", "XapiServer", "make_tcp_server", "make_unix_server"]

_BUSY_PAGE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html; charset=utf-8\r\n"
    b"Connection: close\r\nRetry-After: 1\r\nContent-Length: 89\r\n\r\n"
    b"<html><body><h1>HTTP 503</h1><p>too many connections; try again later</p></body></html>\n"
)
_TIMEOUT_PAGE = (
    b"HTTP/1.1 408 Request Timeout\r\nContent-Type: text/html; charset=utf-8\r\n"
    b"Connection: close\r\nContent-Length: 78\r\n\r\n"
    b"<html><body><h1>HTTP 408</h1><p>request did not arrive in time</p></body></html>\n"
)
_TOO_BIG_HEADERS = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/html; charset=utf-8\r\n"
    b"Connection: close\r\nContent-Length: 75\r\n\r\n"
    b"<html><body><h1>HTTP 431</h1><p>request headers too large</p></body></html>\n"
)


class _Conn:
    __slots__ = ("buf", "busy", "client", "first_byte", "last_active", "sock")

    def __init__(self, sock: socket.socket, client: Client) -> None:
        self.sock = sock
        self.client = client
        self.buf = bytearray()
        self.last_active = time.monotonic()
        self.first_byte: float | None = None  # when the request now arriving started
        self.busy = False  # a worker owns it


def _complete(buf: bytearray, limits: Limits) -> int | None:
    """Length of the first complete request in buf (headers + body), 0 if the headers are too large,
    None if more bytes are needed. A body over the limit or a bad length counts as complete without its
    body: the handler answers it (413 / 400 / 411) and the connection closes."""
    end = buf.find(b"\r\n\r\n")
    sep = 4
    if end < 0:
        end, sep = buf.find(b"\n\n"), 2
    if end < 0:
        return 0 if len(buf) > limits.max_header else None
    if end > limits.max_header:
        return 0
    head = bytes(buf[:end]).lower()
    i = head.find(b"\ncontent-length:")
    if i < 0:
        return end + sep
    value = head[i + 16 : head.find(b"\n", i + 1) if head.find(b"\n", i + 1) > 0 else len(head)].strip()
    if not value.isdigit() or len(value) > 12 or int(value) > limits.max_body:
        return end + sep
    total = end + sep + int(value)
    return total if len(buf) >= total else None


def _fd_budget(wanted: int) -> int:
    """Connections this process can hold: raise the soft fd limit toward the hard one if needed, and keep
    128 descriptors for the host file, logs and the listeners."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + 128
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return wanted if soft == resource.RLIM_INFINITY else max(1, min(wanted, soft - 128))


class XapiServer:
    """A selector-driven HTTP/1.1 server with a bounded worker pool (see the module docstring)."""

    def __init__(self, sock: socket.socket, dispatcher: Dispatcher, limits: Limits, *, local: bool) -> None:
        self.socket = sock
        self.server_address: Any = sock.getsockname()
        self.dispatcher = dispatcher
        self.limits = limits
        self.local = local  # a Unix socket created owner-only (make_unix_server)
        self.max_connections = _fd_budget(limits.max_connections)
        self.handler: type[XapiHandler] = type(
            "BoundXapiHandler", (XapiHandler,), {"dispatcher": dispatcher, "limits": limits}
        )
        self._sel = selectors.DefaultSelector()
        self._conns: dict[int, _Conn] = {}
        self._returned: deque[_Conn] = deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._pool = ThreadPoolExecutor(limits.workers, thread_name_prefix="xapi-worker")
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()
        self._lock = threading.Lock()
        sock.setblocking(False)
        sock.listen(limits.backlog)

    # ----------------------------------------------------------------- lifecycle
    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._stopped.clear()
        self._sel.register(self.socket, selectors.EVENT_READ, "listen")
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        try:
            while not self._stop.is_set():
                for key, _ in self._sel.select(min(poll_interval, 0.5)):
                    if key.data == "listen":
                        self._accept()
                    elif key.data == "wake":
                        with contextlib.suppress(BlockingIOError):
                            self._wake_r.recv(4096)
                    else:
                        self._read(key.data)
                self._take_back()
                self._expire()
        finally:
            self._sel.unregister(self.socket)
            self._sel.unregister(self._wake_r)
            self._stopped.set()

    def shutdown(self) -> None:
        self._stop.set()
        self._wake()
        self._stopped.wait()

    def server_close(self) -> None:
        self._stop.set()
        self.socket.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            conns = list(self._conns.values())
            self._conns.clear()
        for c in conns:
            self._close(c)
        self._wake_r.close()
        self._wake_w.close()

    def connection_count(self) -> int:
        with self._lock:
            return len(self._conns)

    # ----------------------------------------------------------------- selector side
    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _accept(self) -> None:
        for _ in range(64):
            try:
                sock, addr = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:  # EMFILE and friends: keep serving, do not spin on the listener
                log.warning("accept failed: %s", e)
                time.sleep(0.05)
                return
            with self._lock:
                full = len(self._conns) >= self.max_connections
            if full:
                with contextlib.suppress(OSError):
                    sock.setblocking(False)
                    sock.send(_BUSY_PAGE)
                sock.close()
                continue
            sock.setblocking(False)
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                # keep-alive request/response pairs must not wait on Nagle + delayed ACK (~40 ms each)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(sock, self._client(sock, addr))
            with self._lock:
                self._conns[sock.fileno()] = conn
            self._sel.register(sock, selectors.EVENT_READ, conn)

    def _client(self, sock: socket.socket, addr: Any) -> Client:
        if not self.local:
            host = str(addr[0]) if isinstance(addr, tuple) and addr else "tcp"
            return Client(host, trusted_root=False)
        try:
            _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
        except (OSError, AttributeError):
            return Client("unix", trusted_root=False)
        # only this server's user (or root) can reach an owner-only socket; say who it was anyway
        return Client(f"unix:uid={uid}", trusted_root=uid in (0, os.getuid()))

    def _read(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        now = time.monotonic()
        if not conn.buf:
            conn.first_byte = now
        conn.last_active = now
        conn.buf += data
        self._maybe_dispatch(conn)

    def _maybe_dispatch(self, conn: _Conn) -> None:
        n = _complete(conn.buf, self.limits)
        if n is None:
            return
        self._sel.unregister(conn.sock)
        if n == 0:
            self._reply_and_drop(conn, _TOO_BIG_HEADERS)
            return
        request = bytes(conn.buf[:n])
        del conn.buf[:n]
        conn.busy = True
        self._pool.submit(self._work, conn, request)

    def _take_back(self) -> None:
        while self._returned:
            conn = self._returned.popleft()
            conn.busy = False
            conn.last_active = time.monotonic()
            conn.first_byte = conn.last_active if conn.buf else None
            try:
                self._sel.register(conn.sock, selectors.EVENT_READ, conn)
            except (ValueError, OSError):
                self._drop(conn)
                continue
            self._maybe_dispatch(conn)

    def _expire(self) -> None:
        now = time.monotonic()
        with self._lock:
            conns = [c for c in self._conns.values() if not c.busy]
        for c in conns:
            if c.first_byte is not None and now - c.first_byte > self.limits.request_timeout:
                self._sel.unregister(c.sock)
                self._reply_and_drop(c, _TIMEOUT_PAGE)
            elif c.first_byte is None and now - c.last_active > self.limits.idle_timeout:
                self._sel.unregister(c.sock)
                self._drop(c, unregister=False)

    def _reply_and_drop(self, conn: _Conn, page: bytes) -> None:
        with contextlib.suppress(OSError):
            conn.sock.send(page)
        self._drop(conn, unregister=False)

    def _drop(self, conn: _Conn, *, unregister: bool = True) -> None:
        if unregister:
            with contextlib.suppress(KeyError, ValueError):
                self._sel.unregister(conn.sock)
        with self._lock:
            self._conns.pop(conn.sock.fileno(), None)
        self._close(conn)

    @staticmethod
    def _close(conn: _Conn) -> None:
        with contextlib.suppress(OSError):
            conn.sock.close()

    # ----------------------------------------------------------------- worker side
    def _work(self, conn: _Conn, request: bytes) -> None:
        keep = False
        try:
            out, keep = self.handler.answer(request, conn.client)
            conn.sock.settimeout(self.limits.write_timeout)
            conn.sock.sendall(out)
            conn.sock.setblocking(False)
        except OSError:  # the client went away or would not read its answer in time
            keep = False
        except Exception:  # a bug in the transport itself: drop this connection, keep serving
            log.exception("request handling failed")
            keep = False
        if keep and not self._stop.is_set():
            self._returned.append(conn)
            self._wake()
        else:
            with self._lock:
                self._conns.pop(conn.sock.fileno(), None)
            self._close(conn)


class SocketInUse(Exception):
    pass


def make_tcp_server(
    dispatcher: Dispatcher, host: str = "127.0.0.1", port: int = 0, limits: Limits | None = None
) -> XapiServer:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return XapiServer(sock, dispatcher, limits or Limits(), local=False)


class UnixXapiServer(XapiServer):
    def server_close(self) -> None:
        super().server_close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.server_address)


def make_unix_server(
    dispatcher: Dispatcher, path: str | os.PathLike[str], limits: Limits | None = None
) -> XapiServer:
    """Listen on a Unix socket created owner-only (mode 0600): that mode is why a local root login is
    trusted without a password (reference §11; xapi trusts /var/lib/xcp/xapi the same way). A stale socket
    is replaced; any other file is an error."""
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
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(str(p))
    except BaseException:
        sock.close()
        raise
    finally:
        os.umask(old)
    mode = p.stat().st_mode & 0o777
    if mode != 0o600:  # a filesystem that ignores the umask must not get a trusted socket
        sock.close()
        p.unlink()
        raise SocketInUse(f"{p}: socket came out mode {mode:o}, not 0600; refusing to trust it")
    return UnixXapiServer(sock, dispatcher, limits or Limits(), local=True)
