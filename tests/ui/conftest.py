"""A served host file with the dashboard, and a small cookie-keeping HTTP client for it."""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from evtchn.api.app import build_dispatcher
from evtchn.api.sessions import Credentials
from evtchn.store import Store
from evtchn.toolstack.host import Host
from evtchn.ui.app import attach
from tests.api.harness import serving
from tests.api.hostkit import new_host_file

PASSWORD = "pw"


@dataclass
class Served:
    url: str  # http://127.0.0.1:PORT/
    path: Path  # the host file
    store: Store[Host]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    store = new_host_file(tmp_path / "host.db", "xenserver-6.1")
    with serving(build_dispatcher(store, Credentials(user="root", password=PASSWORD), [attach])) as ep:
        yield Served(ep.url, tmp_path / "host.db", store)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    text: str


class Browserless:
    """GET/POST with the session cookie kept, redirects not followed (the tests look at them)."""

    def __init__(self, url: str) -> None:
        u = urlsplit(url)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80
        self.cookie = ""

    def request(self, verb: str, path: str, form: dict[str, str] | None = None,
                headers: dict[str, str] | None = None, timeout: float = 30.0) -> Answer:  # fmt: skip
        c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        h = dict(headers or {})
        body = None
        if form is not None:
            body = urlencode(form).encode()
            h["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookie:
            h["Cookie"] = self.cookie
        try:
            c.request(verb, path, body=body, headers=h)
            r = c.getresponse()
            text = r.read().decode()
            got = {k.lower(): v for k, v in r.getheaders()}
        finally:
            c.close()
        if "set-cookie" in got:
            self.cookie = got["set-cookie"].split(";", 1)[0]
        return Answer(r.status, got, text)

    def login(self, password: str = PASSWORD) -> Answer:
        return self.request("POST", "/ui/login", {"user": "root", "password": password})

    def csrf(self) -> str:
        page = self.request("GET", "/ui").text
        m = re.search(r'<meta name="csrf" content="([0-9a-f]+)">', page)
        assert m, page[:400]
        return m.group(1)


@pytest.fixture
def client(served: Served) -> Browserless:
    return Browserless(served.url)
