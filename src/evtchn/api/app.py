"""Assemble and run the endpoint: dispatcher + XenAPI service over a store, on TCP and/or a Unix socket.

servers = start_servers(build_dispatcher(store, creds), tcp=("127.0.0.1", 8080), unix="/tmp/xapi")
...
stop_servers(servers)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from evtchn.api.dispatch import Dispatcher
from evtchn.api.server import SocketInUse, XapiServer, make_tcp_server, make_unix_server
from evtchn.api.sessions import Credentials, Sessions
from evtchn.api.xenapi import XapiService
from evtchn.store.connect import one_malloc_arena

if TYPE_CHECKING:
    from evtchn.store.sqlite import Store
    from evtchn.toolstack.host import Host


def build_dispatcher(
    store: Store[Host],
    credentials: Credentials,
    extensions: Sequence[Callable[[Dispatcher, XapiService], object]] = (),
) -> Dispatcher:
    """The XenAPI for `store`; each extension (e.g. the dashboard's `evtchn.ui.app.attach`) is then given
    the dispatcher and the service, to mount its pages behind the same sessions."""
    service = XapiService(store)
    d = Dispatcher(Sessions(credentials), snapshot=service.svc.snapshot)
    service.register(d)
    for extend in extensions:
        extend(d, service)
    return d


def start_servers(
    dispatcher: Dispatcher,
    *,
    tcp: tuple[str, int] | None = ("127.0.0.1", 0),
    unix: str | os.PathLike[str] | None = None,
) -> list[XapiServer]:
    """Bind the listeners and serve each in a daemon thread; returns them (for addresses and stopping)."""
    one_malloc_arena()  # before the worker threads exist (store/connect.py says why)
    servers: list[XapiServer] = []
    try:
        if tcp is not None:
            servers.append(make_tcp_server(dispatcher, tcp[0], tcp[1]))
        if unix is not None:
            try:
                servers.append(make_unix_server(dispatcher, unix))
            except OSError as e:  # name the socket, not the TCP address the caller may report
                raise SocketInUse(f"{unix}: cannot listen on this Unix socket: {e.strerror or e}") from None
    except BaseException:
        for s in servers:
            s.server_close()  # not shutdown(): it waits for a serve_forever() that never started
        raise
    for s in servers:
        threading.Thread(target=s.serve_forever, args=(0.1,), daemon=True).start()
    return servers


def stop_servers(servers: Sequence[XapiServer]) -> None:
    for s in servers:
        s.shutdown()
        s.server_close()
