"""XenAPI sees fault injection: host.other_config["evtchn_fault_ports"], read-only (issue 12)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from evtchn.api.app import build_dispatcher
from evtchn.api.sessions import Credentials
from evtchn.cli import main
from tests.api.harness import serving
from tests.api.hostkit import new_host_file


@pytest.fixture
def hostfile(tmp_path: Path) -> Path:
    path = tmp_path / "host.db"
    new_host_file(path, "xenserver-6.2")
    return path


@pytest.fixture
def x(hostfile: Path) -> Iterator[Any]:
    from evtchn.store import open_store

    with serving(build_dispatcher(open_store(hostfile), Credentials(user="root", password="pw"))) as ep:
        s = ep.tcp_session()
        s.xenapi.login_with_password("root", "pw", "2.0", "evtchn-tests")
        yield s.xenapi


def test_host_other_config_counts_fault_ports_and_stays_read_only(x: Any, hostfile: Path) -> None:
    (host,) = x.host.get_all()
    assert x.host.get_other_config(host)["evtchn_fault_ports"] == "0"
    r = CliRunner().invoke(main, ["fault", "consume", "--leave-free", "10", "--host", str(hostfile)])
    assert r.exit_code == 0, r.stderr
    oc = x.host.get_other_config(host)
    held = int(oc["evtchn_fault_ports"])
    assert held > 0 and oc["dom0_evtchn_free"] == "10"
    x.host.set_other_config(host, {"evtchn_fault_ports": "0", "note": "mine"})
    oc = x.host.get_other_config(host)
    assert (oc["evtchn_fault_ports"], oc["note"]) == (str(held), "mine")
    r = CliRunner().invoke(main, ["fault", "release", "--host", str(hostfile)])
    assert r.exit_code == 0, r.stderr
    assert x.host.get_other_config(host)["evtchn_fault_ports"] == "0"
