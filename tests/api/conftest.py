"""Fixtures shared by the SDK-driven tests of the larger object model (test modules with their own `store`
and `ep` keep those)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evtchn.api.app import build_dispatcher
from evtchn.api.sessions import Credentials
from evtchn.store import Store
from evtchn.toolstack.host import Host
from tests.api.harness import Endpoint, serving
from tests.api.hostkit import new_host_file

GIB = 1024**3


@pytest.fixture
def store(tmp_path: Path) -> Store[Host]:
    return new_host_file(tmp_path / "host.db", "xenserver-6.2")


@pytest.fixture
def ep(store: Store[Host]) -> Iterator[Endpoint]:
    with serving(build_dispatcher(store, Credentials(user="root", password="pw"))) as e:
        yield e


@pytest.fixture(params=["tcp", "unix"])
def x(ep: Endpoint, request: pytest.FixtureRequest) -> Any:
    """A logged-in SDK proxy (session.xenapi) over each transport."""
    s = ep.tcp_session() if request.param == "tcp" else ep.unix_session()
    s.xenapi.login_with_password("root", "pw", "2.0", "evtchn-tests")
    return s.xenapi
