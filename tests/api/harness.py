"""Run an endpoint in a thread for a test, over TCP or a Unix socket the XenAPI SDK can reach."""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import XenAPI

from evtchn.api.dispatch import Dispatcher
from evtchn.api.server import make_tcp_server, make_unix_server

_counter = itertools.count()


def socket_dir() -> str:
    """A fresh directory whose path has no '_': UDSHTTPConnection maps every '_' in the host to '/'."""
    d = f"/tmp/evtchn-xapi-test-{os.getpid()}-{next(_counter)}"
    os.makedirs(d, exist_ok=False)
    atexit.register(shutil.rmtree, d, True)
    return d


@dataclass
class Endpoint:
    url: str  # http://127.0.0.1:port/
    unix_path: str

    def tcp_session(self) -> XenAPI.Session:
        return XenAPI.Session(self.url)

    def unix_session(self) -> XenAPI.Session:
        # exactly what XenAPI.xapi_local() does, pointed at our socket instead of /var/lib/xcp/xapi
        return XenAPI.Session(
            "http://" + self.unix_path.replace("/", "_") + "/", transport=XenAPI.UDSTransport()
        )


@contextmanager
def serving(dispatcher: Dispatcher) -> Iterator[Endpoint]:
    d = socket_dir()
    tcp = make_tcp_server(dispatcher, "127.0.0.1", 0)
    uds = make_unix_server(dispatcher, os.path.join(d, "xapi"))
    threads = [threading.Thread(target=s.serve_forever, args=(0.05,), daemon=True) for s in (tcp, uds)]
    for t in threads:
        t.start()
    try:
        host, port = tcp.server_address[:2]
        yield Endpoint(f"http://{host!s}:{port}/", os.path.join(d, "xapi"))
    finally:
        for s in (tcp, uds):
            s.shutdown()
            s.server_close()
        shutil.rmtree(d, ignore_errors=True)
