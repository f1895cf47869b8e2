"""The endpoint's protocol layer with a toy method table: envelope, encodings, sessions, errors, HTTP."""

from __future__ import annotations

import http.client
import json
import os
import socket
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import XenAPI

from evtchn.api.dispatch import Dispatcher
from evtchn.api.errors import ApiFailure
from evtchn.api.server import SocketInUse, make_unix_server
from evtchn.api.sessions import Credentials, CredentialsError, Sessions
from tests.api.harness import Endpoint, serving, socket_dir


def _toy(creds: Credentials) -> Dispatcher:
    d = Dispatcher(Sessions(creds))
    d.add("toy.big", lambda: {"n": 2**40, "neg": -1, "flag": True, "xs": [1, "a"]}, [])
    d.add("toy.add", lambda a, b: int(a) + int(b), ["a", "b"])
    d.add("toy.fail", lambda ref: (_ for _ in ()).throw(ApiFailure("HANDLE_INVALID", "VM", ref)), ["vm"])
    d.add("toy.bug", lambda: (_ for _ in ()).throw(RuntimeError("boom")), [])
    return d


@pytest.fixture
def ep() -> Iterator[Endpoint]:
    with serving(_toy(Credentials(user="root", password="pw"))) as e:
        yield e


def _raw(ep: Endpoint) -> Any:
    """A bare stdlib client: sees the envelope itself and does no SESSION_INVALID retries."""
    return xmlrpc.client.ServerProxy(ep.url, allow_none=True)


def _post(ep: Endpoint, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    host, port = ep.url.removeprefix("http://").rstrip("/").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("POST", path, body=body, headers=headers or {"Content-Type": "text/xml"})
    r = conn.getresponse()
    out = r.status, r.read()
    conn.close()
    return out


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_sdk_login_call_logout(ep: Endpoint, transport: str) -> None:
    s = ep.tcp_session() if transport == "tcp" else ep.unix_session()
    s.xenapi.login_with_password("root", "pw", "2.0", "evtchn-tests")
    assert s.handle.startswith("OpaqueRef:")
    # 64-bit ints travel as decimal strings; bools stay booleans
    assert s.xenapi.toy.big() == {"n": "1099511627776", "neg": "-1", "flag": True, "xs": ["1", "a"]}
    assert s.xenapi.toy.add("2", 3) == "5"
    with pytest.raises(XenAPI.Failure) as e:
        s.xenapi.toy.fail("OpaqueRef:nope")
    assert e.value.details == ["HANDLE_INVALID", "VM", "OpaqueRef:nope"]
    s.xenapi.session.logout()


def test_wrong_password_and_unknown_user(ep: Endpoint) -> None:
    for user, pw in [("root", "wrong"), ("admin", "pw"), ("root", "")]:
        s = ep.tcp_session()
        with pytest.raises(XenAPI.Failure) as e:
            s.xenapi.login_with_password(user, pw, "2.0", "t")
        assert e.value.details == ["SESSION_AUTHENTICATION_FAILED"]


def test_no_password_configured_rejects_every_login() -> None:
    with serving(_toy(Credentials(user="root", password=None))) as ep:
        for pw in ["", "root", "password"]:
            with pytest.raises(XenAPI.Failure) as e:
                ep.tcp_session().xenapi.login_with_password("root", pw, "2.0", "t")
            assert e.value.details == ["SESSION_AUTHENTICATION_FAILED"]
    with serving(_toy(Credentials.insecure())) as ep:
        s = ep.tcp_session()
        s.xenapi.login_with_password("anyone", "anything", "2.0", "t")
        assert s.xenapi.toy.add(1, 1) == "2"


def test_calls_without_a_valid_session_are_session_invalid(ep: Endpoint) -> None:
    raw = _raw(ep)
    assert raw.toy.add("OpaqueRef:bogus", 1, 2) == {
        "Status": "Failure",
        "ErrorDescription": ["SESSION_INVALID", "OpaqueRef:bogus"],
    }
    ok = raw.session.login_with_password("root", "pw", "2.0", "t")
    assert ok["Status"] == "Success"
    ref = ok["Value"]
    assert raw.toy.add(ref, 1, 2) == {"Status": "Success", "Value": "3"}
    assert raw.session.logout(ref) == {"Status": "Success", "Value": ""}
    assert raw.toy.add(ref, 1, 2)["ErrorDescription"] == ["SESSION_INVALID", ref]
    # the SDK re-logs-in on SESSION_INVALID; with no login to repeat it gives up
    s = ep.tcp_session()
    with pytest.raises(xmlrpc.client.Fault, match="You must log in"):
        s.xenapi.toy.add(1, 2)


def test_unknown_method_and_parameter_count(ep: Endpoint) -> None:
    raw = _raw(ep)
    ref = raw.session.login_with_password("root", "pw")["Value"]  # the 2-argument (API 1.1) form
    assert raw.VM.frobnicate(ref)["ErrorDescription"] == ["MESSAGE_METHOD_UNKNOWN", "VM.frobnicate"]
    # counts include the session, as xapi's do
    assert raw.toy.add(ref, 1)["ErrorDescription"] == [
        "MESSAGE_PARAMETER_COUNT_MISMATCH",
        "toy.add",
        "3",
        "2",
    ]
    assert raw.toy.add()["ErrorDescription"] == ["MESSAGE_PARAMETER_COUNT_MISMATCH", "toy.add", "3", "0"]
    s = ep.tcp_session()
    s.xenapi.login_with_password("root", "pw", "2.0", "t")
    with pytest.raises(XenAPI.Failure) as e:
        s.xenapi.toy.add(1, 2, 3)
    assert e.value.details == ["MESSAGE_PARAMETER_COUNT_MISMATCH", "toy.add", "3", "4"]


def test_a_handler_bug_is_internal_error_and_the_server_lives(ep: Endpoint) -> None:
    raw = _raw(ep)
    ref = raw.session.login_with_password("root", "pw", "2.0", "t")["Value"]
    assert raw.toy.bug(ref)["ErrorDescription"] == ["INTERNAL_ERROR", "RuntimeError: boom"]
    assert raw.toy.add(ref, 1, 1)["Value"] == "2"


@pytest.mark.parametrize("path", ["/", "/RPC2"])
def test_xmlrpc_paths(ep: Endpoint, path: str) -> None:
    body = xmlrpc.client.dumps(("root", "pw", "2.0", "t"), "session.login_with_password").encode()
    status, out = _post(ep, path, body)
    assert status == 200
    (env,), _ = xmlrpc.client.loads(out)
    assert isinstance(env, dict)
    assert env["Status"] == "Success" and env["Value"].startswith("OpaqueRef:")


@pytest.mark.parametrize("path", ["/jsonrpc", "/json"])
def test_jsonrpc_v1_and_v2(ep: Endpoint, path: str) -> None:
    hdr = {"Content-Type": "application/json"}
    login = {"method": "session.login_with_password", "params": ["root", "pw", "2.0", "t"], "id": 7}
    status, out = _post(ep, path, json.dumps(login).encode(), hdr)
    reply = json.loads(out)
    assert status == 200 and reply["id"] == 7 and reply["error"] is None
    ref = reply["result"]
    v1 = {"method": "toy.big", "params": [ref], "id": 8}
    assert json.loads(_post(ep, path, json.dumps(v1).encode(), hdr)[1]) == {
        "result": {"n": 2**40, "neg": -1, "flag": True, "xs": [1, "a"]},
        "error": None,
        "id": 8,
    }
    bad_v1 = {"method": "toy.fail", "params": [ref, "OpaqueRef:x"], "id": 9}
    assert json.loads(_post(ep, path, json.dumps(bad_v1).encode(), hdr)[1]) == {
        "result": None,
        "error": ["HANDLE_INVALID", "VM", "OpaqueRef:x"],
        "id": 9,
    }
    bad_v2 = {"jsonrpc": "2.0", "method": "toy.fail", "params": [ref, "OpaqueRef:x"], "id": "a"}
    assert json.loads(_post(ep, path, json.dumps(bad_v2).encode(), hdr)[1]) == {
        "jsonrpc": "2.0",
        "error": {"code": 1, "message": "HANDLE_INVALID", "data": ["VM", "OpaqueRef:x"]},
        "id": "a",
    }


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/", b"<not xml", 500),
        ("/", b"<?xml version='1.0'?><methodCall><params/></methodCall>", 500),
        ("/", b"\xff\xfe garbage", 500),
        ("/RPC2", b"", 500),
        ("/jsonrpc", b"{not json", 500),
        ("/jsonrpc", b'{"params": []}', 500),
        ("/jsonrpc", b'{"method": "x", "params": {"a": 1}}', 500),
        ("/jsonrpc", b"[1, 2]", 500),
        ("/nowhere", b"<x/>", 404),
    ],
)
def test_malformed_requests_get_http_errors(ep: Endpoint, path: str, body: bytes, status: int) -> None:
    code, page = _post(ep, path, body)
    assert code == status
    assert page.startswith(b"<html>")
    # and the server still answers properly afterwards
    assert _raw(ep).session.login_with_password("root", "pw")["Status"] == "Success"


def test_bad_http_framing(ep: Endpoint) -> None:
    host, port = ep.url.removeprefix("http://").rstrip("/").split(":")
    for request, status in [
        (b"POST / HTTP/1.1\r\nHost: x\r\n\r\n", b"411"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", b"400"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n", b"413"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"405"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n", b"400"),
    ]:
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(request)
            assert sock.recv(100).split(b" ")[1] == status
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"complete nonsense here\r\n\r\n")  # no valid version: stdlib answers with a bare page
        assert b"Error code: 400" in sock.recv(1000)
    # a client that promises a body and hangs up does not hurt either
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n<meth")
    assert _raw(ep).session.login_with_password("root", "pw")["Status"] == "Success"


def test_unix_socket_is_private_and_not_clobbering(ep: Endpoint, tmp_path: Path) -> None:
    assert os.stat(ep.unix_path).st_mode & 0o777 == 0o600
    with pytest.raises(SocketInUse, match="another server is already listening"):
        make_unix_server(_toy(Credentials.insecure()), ep.unix_path)
    regular = tmp_path / "file"
    regular.write_text("keep me")
    with pytest.raises(SocketInUse, match="exists and is not a socket"):
        make_unix_server(_toy(Credentials.insecure()), regular)
    assert regular.read_text() == "keep me"
    # a stale socket (nobody listening) is replaced
    stale = os.path.join(socket_dir(), "stale")
    s = socket.socket(socket.AF_UNIX)
    s.bind(stale)
    s.close()
    srv = make_unix_server(_toy(Credentials.insecure()), stale)
    srv.server_close()
    assert not os.path.exists(stale)


def test_credentials_configuration(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("s3cret\nignored\n")
    c = Credentials.configure("root", str(pw), env={})
    assert c.accepts("root", "s3cret") and not c.accepts("root", "ignored")
    assert Credentials.configure("root", None, env={"EVTCHN_PASSWORD": "e"}).accepts("root", "e")
    assert not Credentials.configure("root", None, env={}).accepts("root", "")
    empty = tmp_path / "empty"
    empty.write_text("")
    with pytest.raises(CredentialsError, match=r"empty:1: expected the password on the first line"):
        Credentials.configure("root", str(empty), env={})
    with pytest.raises(CredentialsError, match="cannot read password file"):
        Credentials.configure("root", str(tmp_path / "missing"), env={})
