"""`evtchn serve`: the XenAPI endpoint over the persisted host.

evtchn serve --password-file ~/.evtchn-pw                 # http://127.0.0.1:8080/
evtchn serve --unix /tmp/evtchn/xapi --no-tcp --insecure-no-auth
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import click

from evtchn.cli.app import fail

DEFAULT_PORT = 8080


@click.command()
@click.option(
    "--host",
    "host_file",
    metavar="FILE",
    help="Host file (default: $EVTCHN_HOST or ~/.local/share/evtchn/host.db).",
)
@click.option("--listen", default="127.0.0.1", show_default=True, help="TCP address to bind.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="TCP port (0: any free).",
)
@click.option("--no-tcp", is_flag=True, help="Listen on the Unix socket only.")
@click.option(
    "--unix",
    "unix_path",
    metavar="PATH",
    help="Also listen on this Unix socket (as xapi on /var/lib/xcp/xapi).",
)
@click.option("--user", default="root", show_default=True, help="The user name logins must give.")
@click.option("--password-file", metavar="FILE", help="First line is the password (else $EVTCHN_PASSWORD).")
@click.option("--insecure-no-auth", is_flag=True, help="Accept any user and password. For tests only.")
@click.option(
    "--wait",
    "wait",
    type=float,
    metavar="SECONDS",
    help="How long a change waits for another process using the host file.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log every request.")
def serve(
    host_file: str | None, listen: str, port: int, no_tcp: bool, unix_path: str | None, user: str,
    password_file: str | None, insecure_no_auth: bool, wait: float | None, verbose: bool,
) -> None:  # fmt: skip
    """Serve the XenAPI (XML-RPC on / and /RPC2, JSON-RPC on /jsonrpc) and a dashboard (/ui) for the host
    file."""
    from evtchn.api.app import build_dispatcher, start_servers, stop_servers
    from evtchn.api.logsink import log_to_stderr
    from evtchn.api.server import SocketInUse
    from evtchn.api.sessions import Credentials, CredentialsError
    from evtchn.store import StoreError, open_store
    from evtchn.ui.app import attach as attach_dashboard

    stop_log = log_to_stderr(verbose)  # a stalled stderr never blocks a request (issue 14)
    if no_tcp and unix_path is None:
        fail("--no-tcp needs --unix PATH: there would be nothing to listen on")
    try:
        creds = Credentials.configure(user, password_file, insecure=insecure_no_auth)
    except CredentialsError as e:
        fail(e.message)
        return
    try:
        store = open_store(
            host_file, timeout=wait, on_wait=lambda m: logging.getLogger("evtchn.api").warning(m)
        )
    except StoreError as e:
        fail(e.message)
        return
    try:
        servers = start_servers(
            build_dispatcher(store, creds, extensions=[attach_dashboard]),
            tcp=None if no_tcp else (listen, port),
            unix=unix_path,
        )
    except SocketInUse as e:
        fail(str(e))
        return
    except OSError as e:
        fail(f"cannot listen on {listen}:{port}: {e.strerror or e}")
        return
    if creds.password is None and not creds.allow_any:
        click.echo(
            "evtchn serve: no password set (--password-file or $EVTCHN_PASSWORD): every login will fail",
            err=True,
        )
    for s in servers:
        addr = s.server_address
        where = f"http://{addr[0]}:{addr[1]}/" if isinstance(addr, tuple) else f"unix:{addr!s}"
        click.echo(f"evtchn serve: XenAPI for {store.path} on {where}", err=True)
        if isinstance(addr, tuple):  # the dashboard (docs/ui.md), behind the same login
            click.echo(f"evtchn serve: dashboard at {where}ui", err=True)
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    stop.wait()
    stop_servers(servers)
    stop_log()
