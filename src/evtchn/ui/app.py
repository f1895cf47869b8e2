"""The dashboard's per-server state: the dispatcher it calls, the store it reads, the templates it renders.

    attach(dispatcher, service)        # app.build_dispatcher does this once per endpoint
    ui = find(dispatcher)              # the request handler's way in (None: no dashboard on this server)

Every action and login goes through `dispatcher.call`, the same entry XenAPI clients reach, so the page gets
the toolstack's answers and XenAPI's failures unchanged. Jinja2 is imported on first use.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

from evtchn.ui.live import LiveView

if TYPE_CHECKING:
    from jinja2 import Environment

    from evtchn.api.dispatch import Dispatcher
    from evtchn.api.xenapi import XapiService
    from evtchn.toolstack.host import Host
    from evtchn.ui.state import HostView

_APPS: weakref.WeakKeyDictionary[Dispatcher, UiApp] = weakref.WeakKeyDictionary()


class UiApp:
    def __init__(self, dispatcher: Dispatcher, service: XapiService) -> None:
        self.dispatcher = dispatcher
        self.service = service
        self._secret = os.urandom(32)  # CSRF tokens are an HMAC of the session ref under this key
        self._env: Environment | None = None
        self._lock = threading.Lock()
        self._live = LiveView(service.store)
        from evtchn.ui.routes import STREAMS_WAITING

        self.stream_slots = threading.BoundedSemaphore(STREAMS_WAITING)  # pages waiting in /ui/events

    # ----------------------------------------------------------------- sessions
    def session_ok(self, ref: str | None) -> bool:
        return ref is not None and self.dispatcher.sessions.valid(ref)

    def csrf(self, ref: str) -> str:
        return hmac.new(self._secret, ref.encode(), hashlib.sha256).hexdigest()[:32]

    def csrf_ok(self, ref: str, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(self.csrf(ref), token)

    # ----------------------------------------------------------------- reading the host
    def generation(self) -> int:
        return self.service.store.generation()

    def view(self) -> HostView:
        """The host as last committed, computed once per generation (every open page shares it)."""
        return self.host_and_view()[1]

    def host_and_view(self) -> tuple[Host, HostView]:
        """The view of the last committed generation, kept current change by change (live.py), and the
        last whole read of the host (read-only: for a chosen shape's headroom)."""
        return self._live.current()

    # ----------------------------------------------------------------- templates
    def render(self, name: str, **context: Any) -> bytes:
        if self._env is None:
            from jinja2 import Environment, PackageLoader, select_autoescape

            from evtchn.ui import charts

            env = Environment(
                loader=PackageLoader("evtchn.ui", "templates"),
                autoescape=select_autoescape(["html"]),
                trim_blocks=True,
                lstrip_blocks=True,
            )
            env.globals["gauge"] = charts.gauge
            env.globals["hbars"] = charts.hbars
            self._env = env
        return self._env.get_template(name).render(**context).encode()


def attach(dispatcher: Dispatcher, service: XapiService) -> UiApp:
    """Mount the dashboard at /ui on this XenAPI dispatcher (`build_dispatcher(..., extensions=[attach])`)."""
    from evtchn.ui.routes import handle

    app = UiApp(dispatcher, service)
    _APPS[dispatcher] = app
    dispatcher.mounts["/ui"] = lambda h, verb: handle(h, app, verb)
    return app


def find(dispatcher: Dispatcher) -> UiApp | None:
    return _APPS.get(dispatcher)
