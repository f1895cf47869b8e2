"""The endpoint under abuse: size, nesting and text limits, connection cap, timeouts, early session check,
login throttling and the local root login (docs/server-limits.md)."""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading
import time
import xmlrpc.client
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import XenAPI

from evtchn.api.dispatch import Dispatcher
from evtchn.api.errors import ApiFailure
from evtchn.api.limits import Limits
from evtchn.api.server import XapiServer, make_tcp_server, make_unix_server
from evtchn.api.sessions import CLIENT, Client, Credentials, Sessions
from tests.api.harness import socket_dir


def _toy() -> Dispatcher:
    d = Dispatcher(Sessions(Credentials(user="root", password="pw")))
    d.add("toy.echo", lambda x: x, ["x"])
    d.add("toy.add", lambda a, b: int(a) + int(b), ["a", "b"])
    return d


@contextmanager
def _serving(limits: Limits, d: Dispatcher | None = None) -> Iterator[tuple[str, int, XapiServer]]:
    srv = make_tcp_server(d or _toy(), "127.0.0.1", 0, limits)
    t = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    t.start()
    try:
        host, port = srv.server_address[:2]
        yield str(host), int(port), srv
    finally:
        srv.shutdown()
        srv.server_close()


def _post(addr: tuple[str, int], path: str, body: bytes) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(*addr, timeout=10)
    conn.request("POST", path, body=body, headers={"Content-Type": "text/xml"})
    r = conn.getresponse()
    out = r.status, r.read()
    conn.close()
    return out


def _login(host: str, port: int) -> Any:
    return xmlrpc.client.ServerProxy(f"http://{host}:{port}/").session.login_with_password("root", "pw")


def test_body_over_xapis_300k_limit_is_413_and_the_server_lives() -> None:
    with _serving(Limits()) as (host, port, _):
        body = b"<?xml version='1.0'?><methodCall><methodName>x</methodName>" + b" " * (300 * 1024)
        code, page = _post((host, port), "/", body)
        assert code == 413 and b"307200" in page
        assert _login(host, port)["Status"] == "Success"


def test_deep_json_is_a_jsonrpc_parse_error_not_a_recursion_error() -> None:
    with _serving(Limits()) as (host, port, _):
        for body in (
            b"[" * 5000 + b"]" * 5000,
            b'{"method": "x", "params": ' + b"[" * 100 + b"]" * 100 + b"}",
        ):
            code, out = _post((host, port), "/jsonrpc", body)
            reply = json.loads(out)
            assert code == 400 and reply["error"]["code"] == -32700 and "over 64" in reply["error"]["data"]
        # nesting up to the limit is fine
        ok = json.dumps({"method": "toy.echo", "params": ["x", [[[1]]]], "id": 3}).encode()
        assert json.loads(_post((host, port), "/jsonrpc", ok)[1])["error"] == ["SESSION_INVALID", "x"]


def test_deep_xml_and_entities_are_refused_before_parsing() -> None:
    with _serving(Limits()) as (host, port, _):
        for n in (300, 3000):  # the larger one is over the pre-scan size: its missing session is enough
            deep = b"<value><array><data>" * n + b"</data></array></value>" * n
            body = (
                b"<methodCall><methodName>toy.echo</methodName><params><param>" + deep + b"</param></params>"
            )
            code, page = _post((host, port), "/", body + b"</methodCall>")
            if n == 300:
                assert code == 500 and b"nest 300 deep, over 64" in page
            else:
                assert code == 200 and b"SESSION_INVALID" in page
        bomb = b'<!DOCTYPE x [<!ENTITY a "aaaa">]><methodCall><methodName>&a;</methodName></methodCall>'
        code, page = _post((host, port), "/", bomb)
        assert code == 500 and b"DOCTYPE" in page


@pytest.mark.parametrize(("text", "what"), [("a\u0000b", "a NUL byte"), ("\ud800", "an unpaired surrogate")])
def test_json_text_xml_cannot_carry_is_invalid_params(text: str, what: str) -> None:
    with _serving(Limits()) as (host, port, _):
        body = json.dumps({"method": "session.login_with_password", "params": ["root", text]}).encode()
        code, out = _post((host, port), "/jsonrpc", body)
        err = json.loads(out)["error"]
        assert code == 400 and err["code"] == -32602 and what in err["data"]


def test_nul_and_invalid_utf8_in_xml_are_error_pages() -> None:
    with _serving(Limits()) as (host, port, _):
        for junk in (b"<methodCall><methodName>a\x00b</methodName></methodCall>", b"<methodCall>\xff\xfe"):
            code, page = _post((host, port), "/", junk)
            assert code == 500 and page.startswith(b"<html>")
        assert _login(host, port)["Status"] == "Success"


def test_a_large_body_with_a_bad_session_is_refused_unparsed() -> None:
    with _serving(Limits()) as (host, port, _):
        big = "y" * (200 * 1024)
        body = xmlrpc.client.dumps(("OpaqueRef:forged", big), "toy.echo").encode()
        code, out = _post((host, port), "/", body)
        assert code == 200 and xmlrpc.client.loads(out)[0][0] == {
            "Status": "Failure",
            "ErrorDescription": ["SESSION_INVALID", "OpaqueRef:forged"],
        }
        # with a real session the same large call goes through
        ref = _login(host, port)["Value"]
        out = _post((host, port), "/", xmlrpc.client.dumps((ref, big), "toy.echo").encode())[1]
        reply: Any = xmlrpc.client.loads(out)[0][0]
        assert reply["Value"] == big
        # a large body that hides its method is not parsed at all
        hidden = b"<methodCall>" + b" " * 20000 + b"<methodName>toy.echo</methodName></methodCall>"
        code, page = _post((host, port), "/", hidden)
        assert code == 500 and b"must give its method and session first" in page
        js = json.dumps({"method": "toy.echo", "params": ["OpaqueRef:forged", big], "id": 1}).encode()
        assert json.loads(_post((host, port), "/jsonrpc", js)[1])["error"]["message"] == "SESSION_INVALID"


def test_connection_cap_refuses_clearly_and_recovers() -> None:
    with _serving(Limits(max_connections=8)) as (host, port, srv):
        held = [socket.create_connection((host, port)) for _ in range(8)]
        deadline = time.monotonic() + 5
        while srv.connection_count() < 8 and time.monotonic() < deadline:
            time.sleep(0.01)
        with socket.create_connection((host, port), timeout=5) as extra:
            assert extra.recv(200).startswith(b"HTTP/1.1 503 Service Unavailable")
        for s in held:
            s.close()
        deadline = time.monotonic() + 5
        while srv.connection_count() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _login(host, port)["Status"] == "Success"


def test_slow_request_is_408_and_idle_connection_closes() -> None:
    with _serving(Limits(request_timeout=0.4, idle_timeout=0.6)) as (host, port, _):
        with socket.create_connection((host, port), timeout=5) as slow:
            slow.sendall(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n<meth")
            t0 = time.monotonic()
            assert slow.recv(200).startswith(b"HTTP/1.1 408")
            assert 0.3 < time.monotonic() - t0 < 3
        with socket.create_connection((host, port), timeout=5) as idle:
            t0 = time.monotonic()
            assert idle.recv(10) == b""  # closed by the server
            assert 0.5 < time.monotonic() - t0 < 3


def test_abandoned_and_slow_connections_do_not_block_others() -> None:
    with _serving(Limits()) as (host, port, _):
        held = []
        for i in range(300):
            s = socket.create_connection((host, port))
            if i % 2:
                s.sendall(b"POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n<methodCall>")
            held.append(s)
        t0 = time.monotonic()
        for _ in range(20):
            assert _login(host, port)["Status"] == "Success"
        assert time.monotonic() - t0 < 5
        assert threading.active_count() < 60  # held connections cost no threads
        for s in held:
            s.close()


def test_failed_logins_are_throttled_per_client() -> None:
    now = [0.0]
    sessions = Sessions(Credentials(user="root", password="pw"), free=3, clock=lambda: now[0])
    token = CLIENT.set(Client("10.0.0.9"))
    try:
        for _ in range(3):
            with pytest.raises(ApiFailure):
                sessions.login("root", "wrong")
        with pytest.raises(ApiFailure):
            sessions.login("root", "wrong")  # the 4th failure starts a wait
        with pytest.raises(ApiFailure) as e:
            sessions.login("root", "pw")  # refused unchecked while it lasts
        assert e.value.code == "SESSION_AUTHENTICATION_FAILED"
        assert "too many failed logins" in e.value.params[1]
        other = CLIENT.set(Client("10.0.0.10"))
        assert sessions.login("root", "pw").startswith("OpaqueRef:")  # another client is not affected
        CLIENT.reset(other)
        now[0] += 31
        assert sessions.login("root", "pw").startswith("OpaqueRef:")
    finally:
        CLIENT.reset(token)


def test_sessions_are_capped_oldest_first() -> None:
    sessions = Sessions(Credentials.insecure(), max_sessions=3)
    refs = [sessions.login("u", "p") for _ in range(5)]
    assert [sessions.valid(r) for r in refs] == [False, False, True, True, True]


def test_local_root_login_is_trusted_only_on_the_owner_only_unix_socket() -> None:
    d = Dispatcher(Sessions(Credentials(user="root", password=None)))  # no password configured at all
    path = os.path.join(socket_dir(), "xapi")
    uds = make_unix_server(d, path)
    tcp = make_tcp_server(d, "127.0.0.1", 0)
    for s in (uds, tcp):
        threading.Thread(target=s.serve_forever, args=(0.05,), daemon=True).start()
    try:
        assert os.stat(path).st_mode & 0o777 == 0o600
        local = XenAPI.Session("http://" + path.replace("/", "_") + "/", transport=XenAPI.UDSTransport())
        local.xenapi.login_with_password("root", "", "2.0", "t")
        local.xenapi.session.logout()
        with pytest.raises(XenAPI.Failure):  # only root is trusted
            local.xenapi.login_with_password("admin", "", "2.0", "t")
        host, port = tcp.server_address[:2]
        with pytest.raises(XenAPI.Failure) as e:
            XenAPI.Session(f"http://{host}:{port}/").xenapi.login_with_password("root", "", "2.0", "t")
        assert e.value.details[0] == "SESSION_AUTHENTICATION_FAILED"
    finally:
        for s in (uds, tcp):
            s.shutdown()
            s.server_close()


def test_the_connection_cap_fits_the_fd_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    import resource

    from evtchn.api import server

    limits = {"now": (256, 256)}
    monkeypatch.setattr(resource, "getrlimit", lambda _r: limits["now"])
    monkeypatch.setattr(resource, "setrlimit", lambda _r, v: limits.update(now=v))
    assert server._fd_budget(4096) == 128  # hard limit 256: keep 128 for files and listeners
    limits["now"] = (1024, 1 << 20)
    assert server._fd_budget(4096) == 4096 and limits["now"] == (4096 + 128, 1 << 20)  # soft raised
