"""The dashboard's HTTP routes under /ui, answered on the XenAPI server's worker threads.

    GET  /ui                 the dashboard (a login form first: never open without credentials)
    GET  /ui/login, POST     session.login_with_password; the session ref goes in an HttpOnly cookie
    POST /ui/logout          session.logout
    GET  /ui/panels          the dashboard's live part, re-fetched when the event stream says so
    GET  /ui/events          Server-Sent Events fed by XenAPI's event.from (see `events`)
    POST /ui/action          start / shutdown / suspend / resume / plug / unplug through XenAPI calls;
                             consume / release (fault injection) through the toolstack, one transaction
    GET  /ui/analyze, POST   paste a dump: the same analysis and text as `evtchn analyze`
    GET  /ui/static/NAME     the page's CSS and JavaScript, from the package
"""

from __future__ import annotations

import contextlib
import json
import time
from http.cookies import SimpleCookie
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from evtchn.api.errors import ApiFailure

if TYPE_CHECKING:
    from evtchn.api.request import XapiHandler
    from evtchn.ui.app import UiApp

COOKIE = "evtchn_session"
STREAM_WAIT = 10.0  # seconds one /ui/events answer waits for a change before the browser reconnects
RETRY_MS = 50  # the browser's reconnect delay (SSE `retry:`): one answer per change, at once
# Open pages waiting in /ui/events at once. Each waiting answer holds one of the server's request workers
# (api/limits.py: 16) for up to STREAM_WAIT; past this many, a page is answered at once after one look and
# told to come back in BUSY_RETRY_MS, so any number of open pages holds at most this many workers and
# XenAPI clients keep the rest. A busy page still sees a change within BUSY_RETRY_MS plus one look.
STREAMS_WAITING = 4
BUSY_RETRY_MS = 500
EVENT_CLASSES = ["VM", "VBD", "VIF", "host", "VM_metrics"]
STATIC = {"ui.css": "text/css; charset=utf-8", "ui.js": "text/javascript; charset=utf-8"}
_SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)


def handle(h: XapiHandler, ui: UiApp, verb: str) -> None:
    path, _, query = h.path.partition("?")
    if verb not in ("GET", "POST"):
        _send(h, 405, b"use GET or POST\n", "text/plain")
        return
    if path == "/ui/login":
        _login(h, ui) if verb == "POST" else _page(h, ui.render("login.html", error="", user="root"))
        return
    if path.startswith("/ui/static/") and verb == "GET":
        _static(h, path.removeprefix("/ui/static/"))
        return
    ref = _session(h)
    if ref is None or not ui.session_ok(ref):
        if verb == "GET" and path in ("/ui", "/ui/", "/ui/analyze"):
            _redirect(h, "/ui/login")
        else:
            _send(h, 401, b"not logged in\n", "text/plain; charset=utf-8")
        return
    routes: dict[tuple[str, str], Any] = {
        ("GET", "/ui"): _dashboard, ("GET", "/ui/"): _dashboard, ("GET", "/ui/panels"): _panels,
        ("GET", "/ui/events"): _events, ("POST", "/ui/action"): _action, ("POST", "/ui/logout"): _logout,
        ("GET", "/ui/analyze"): _analyze_form, ("POST", "/ui/analyze"): _analyze,
    }  # fmt: skip
    route = routes.get((verb, path))
    if route is None:
        _send(h, 404 if not any(p == path for _, p in routes) else 405, b"no such page\n", "text/plain")
        return
    f = _form(h) if verb == "POST" else {k: v[0] for k, v in parse_qs(query).items()}
    if verb == "POST" and not ui.csrf_ok(ref, h.headers.get("X-CSRF-Token") or f.get("csrf")):
        _send(h, 403, b"missing or wrong CSRF token\n", "text/plain; charset=utf-8")
        return
    route(h, ui, ref, f)


# ----------------------------------------------------------------- plumbing
Headers = tuple[tuple[str, str], ...]


def _send(h: XapiHandler, code: int, body: bytes, ctype: str, extra: Headers = ()) -> None:
    h.send_response(code)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(body)))
    for k, v in (*_SECURITY_HEADERS, *extra):
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(body)


def _page(h: XapiHandler, body: bytes, code: int = 200, extra: Headers = ()) -> None:
    _send(h, code, body, "text/html; charset=utf-8", extra)


def _redirect(h: XapiHandler, to: str, extra: Headers = ()) -> None:
    _send(h, 303, b"", "text/plain", (("Location", to), *extra))


def _session(h: XapiHandler) -> str | None:
    raw = h.headers.get("Cookie")
    if not raw:
        return None
    c: SimpleCookie = SimpleCookie()
    try:
        c.load(raw)
    except Exception:  # a malformed cookie header is no session
        return None
    m = c.get(COOKIE)
    return m.value if m is not None else None


def _form(h: XapiHandler) -> dict[str, str]:
    raw = h.headers.get("Content-Length", "0")
    n = int(raw) if raw.isdigit() else 0
    body = h.rfile.read(min(n, h.limits.max_body))
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=16)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {k: v[0] for k, v in fields.items()}


def _static(h: XapiHandler, name: str) -> None:
    if name not in STATIC:
        _send(h, 404, b"no such file\n", "text/plain")
        return
    body = resources.files("evtchn.ui").joinpath("static", name).read_bytes()
    _send(h, 200, body, STATIC[name])


def _json(h: XapiHandler, code: int, doc: dict[str, Any]) -> None:
    _send(h, code, json.dumps(doc).encode(), "application/json")


# ----------------------------------------------------------------- login
def _login(h: XapiHandler, ui: UiApp) -> None:
    f = _form(h)
    user = f.get("user", "")
    try:
        password = f.get("password", "")
        ref = ui.dispatcher.call("session.login_with_password", [user, password, "1.0", "evtchn-ui"])
    except ApiFailure as e:
        why = " ".join(str(x) for x in e.description if x) or "SESSION_AUTHENTICATION_FAILED"
        _page(h, ui.render("login.html", error=why, user=user), 401)
        return
    cookie = f"{COOKIE}={ref}; Path=/ui; HttpOnly; SameSite=Strict"
    _redirect(h, "/ui", (("Set-Cookie", cookie),))


def _logout(h: XapiHandler, ui: UiApp, ref: str, f: dict[str, str]) -> None:
    with contextlib.suppress(ApiFailure):
        ui.dispatcher.call("session.logout", [ref])
    gone = f"{COOKIE}=; Path=/ui; Max-Age=0; HttpOnly; SameSite=Strict"
    _redirect(h, "/ui/login", (("Set-Cookie", gone),))


# ----------------------------------------------------------------- dashboard
def _dashboard(h: XapiHandler, ui: UiApp, ref: str, f: dict[str, str]) -> None:
    body = ui.render("dashboard.html", page="dashboard", csrf=ui.csrf(ref), **_live(ui, f))
    _page(h, body)


def _panels(h: XapiHandler, ui: UiApp, ref: str, f: dict[str, str]) -> None:
    _page(h, ui.render("_panels.html", csrf=ui.csrf(ref), **_live(ui, f)))


def _live(ui: UiApp, f: dict[str, str]) -> dict[str, Any]:
    """The live part's context: the view, and the headroom of a shape chosen in the query string."""
    from evtchn.ui.state import chosen_shape

    gen = ui.generation()
    host, view = ui.host_and_view()
    chosen, error = chosen_shape(host, f, view.free)
    return {"v": view, "generation": gen, "chosen": chosen, "shape_error": error, "form": f,
            "fault_ports": view.fault_ports}


def events(ui: UiApp, ref: str, last_id: str | None, wait: float = STREAM_WAIT) -> bytes:
    """One SSE answer. The event id is "<event.from token>.<host generation>": with no id (first connect)
    it answers at once with the current ones; otherwise it waits (up to `wait`) for XenAPI's event.from to
    report a change of a VM or device, or for the host file to move for any other reason (ports a
    fault-injected consumer took), and answers one `change` event naming what changed. Only
    STREAMS_WAITING answers wait at once; the others look once and ask the browser back in BUSY_RETRY_MS."""
    gen = ui.generation()
    if not last_id or "." not in last_id:
        token = ui.dispatcher.call("event.from", [ref, EVENT_CLASSES, "", 0.0])["token"]
        return f"retry: {RETRY_MS}\nid: {token}.{gen}\nevent: hello\ndata: {gen}\n\n".encode()
    token, _, old_gen = last_id.partition(".")
    slot = ui.stream_slots.acquire(blocking=False)
    try:
        if not slot:
            return _wait_for_change(ui, ref, token, old_gen, 0.0, BUSY_RETRY_MS)
        return _wait_for_change(ui, ref, token, old_gen, wait, RETRY_MS)
    finally:
        if slot:
            ui.stream_slots.release()


def _wait_for_change(ui: UiApp, ref: str, token: str, old_gen: str, wait: float, retry: int) -> bytes:
    deadline = time.monotonic() + wait
    while True:
        left = deadline - time.monotonic()
        got = ui.dispatcher.call("event.from", [ref, EVENT_CLASSES, token, max(0.0, min(left, 0.5))])
        token = got["token"]
        gen = ui.generation()
        if got["events"] or str(gen) != old_gen or left <= 0:
            break
    what = sorted({f"{e['class']}:{e['operation']}" for e in got["events"]})
    out = f"retry: {retry}\nid: {token}.{gen}\n"
    if got["events"] or str(gen) != old_gen:
        out += f"event: change\ndata: {json.dumps({'generation': gen, 'changes': what})}\n"
    return (out + "\n").encode()


def _events(h: XapiHandler, ui: UiApp, ref: str, f: dict[str, str]) -> None:
    try:
        body = events(ui, ref, h.headers.get("Last-Event-ID"))
    except ApiFailure as e:  # EVENTS_LOST, a token the server no longer knows: start again from now
        body = f"retry: {RETRY_MS}\nevent: lost\ndata: {json.dumps(e.description)}\n\n".encode()
    h.close_connection = True
    _send(h, 200, body, "text/event-stream", (("Connection", "close"),))


def _action(h: XapiHandler, ui: UiApp, ref: str, f: dict[str, str]) -> None:
    from evtchn.ui.actions import ActionError, run

    try:
        said = run(ui, ref, f.get("op", ""), f.get("vm", ""), f.get("device", ""), f.get("arg", ""))
    except ApiFailure as e:
        _json(h, 200, {"ok": False, "error": [str(x) for x in e.description]})
        return
    except ActionError as e:
        _json(h, 400, {"ok": False, "error": [str(e)]})
        return
    _json(h, 200, {"ok": True, "result": said})


# ----------------------------------------------------------------- analysis
def _analyze_form(h: XapiHandler, ui: UiApp, ref: str, f: dict[str, str]) -> None:
    _page(h, ui.render("analyze.html", page="analyze", csrf=ui.csrf(ref), text="", abi="", result=None))


def _analyze(h: XapiHandler, ui: UiApp, ref: str, f: dict[str, str]) -> None:
    from evtchn.ui.analysis import ABIS, run_analysis

    abi = f.get("abi", "")
    # a browser sends a textarea's lines CRLF-terminated whatever was pasted (HTML form submission): undo
    # that, so the analyser's "removed CR line endings" note speaks of the dump, never of the transport
    text = f.get("dump", "").replace("\r\n", "\n")
    result = run_analysis(text, abi if abi in ABIS else None)
    page = ui.render("analyze.html", page="analyze", csrf=ui.csrf(ref), text=text, abi=abi, result=result)
    _page(h, page, 200 if result.ok else 400)
