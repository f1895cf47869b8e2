"""Headroom on a host as it is now (twin/headroom.py): the analytic answer against starting the VMs on a copy,
and `can-start --max` / `plan --host` as a user runs them (exit codes, JSON, the host file never written)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from evtchn.cli import main
from evtchn.plan.mix import Mix, Shape
from evtchn.store import create_store
from evtchn.toolstack.host import Host
from evtchn.toolstack.spec import DiskSpec, NicSpec, seed_vm_spec
from evtchn.twin.headroom import headroom, verify

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def busy_host(profile: str, n: int, failing_last: bool = False) -> Host:
    """A host with n seed VMs running, plus one wide PV VM (4 disks, 2 NICs) so the shapes differ."""
    host = Host.create(profile)
    for i in range(n):
        host.define_vm(seed_vm_spec(f"vm{i}"))
        host.start_vm(f"vm{i}")
    wide = seed_vm_spec("wide").model_copy(
        update={
            "type": "pv",
            "disks": [DiskSpec(userdevice=u) for u in range(4)],
            "nics": [NicSpec(devid=0), NicSpec(devid=1)],
        }
    )
    host.define_vm(wide)
    host.start_vm("wide")
    return host


@pytest.mark.parametrize("profile", ["xenserver-6.1", "xenserver-6.2", "xenserver-8"])
def test_analytic_headroom_equals_starting_them_on_a_copy(profile: str) -> None:
    host = busy_host(profile, 7)
    before = host.to_state()
    mix = Mix((Shape("seed", seed_vm_spec(), 2), Shape("wide", host.vm("wide").spec, 1)))
    room = headroom(host, mix)
    sim = verify(host, mix)
    assert sim.ok_vms == room.max_vms
    assert sim.failure is not None and sim.failure.limit in room.binding
    assert host.to_state() == before  # verify ran on a copy


def test_dom0_headroom_is_the_ports_really_free_divided_by_the_cost() -> None:
    host = busy_host("xenserver-6.1", 3)
    room = headroom(host, Mix((Shape("seed", seed_vm_spec()),)))
    d0 = room.limit("dom0_evtchn")
    assert d0.free == host.dom0_ports_free() == 1023 - host.dom0_ports_used()
    assert d0.fit == d0.free // d0.per_vm[0]
    assert room.binding == ("dom0_evtchn",) and room.max_vms == d0.fit


def test_a_full_host_has_no_headroom_and_the_copy_says_why() -> None:
    host = busy_host("xenserver-6.1", 0)
    mix = Mix((Shape("seed", seed_vm_spec()),))
    n = headroom(host, mix).max_vms
    for i in range(n):
        host.define_vm(seed_vm_spec(f"more{i}"))
        host.start_vm(f"more{i}")
    room = headroom(host, mix)
    assert room.max_vms == 0 and room.binding == ("dom0_evtchn",)
    sim = verify(host, mix)
    assert sim.ok_vms == 0 and sim.failure is not None and sim.failure.limit == "dom0_evtchn"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_can_start_max_reads_the_host_file_and_never_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "lab.db"
    create_store(busy_host("xenserver-6.2", 4), path)
    before = digest(path)
    r = run("can-start", str(EXAMPLES / "web.yaml"), "--max", "--host", str(path), "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["running_vms"] == 5 and doc["shapes"] == ["web"]
    assert doc["max_more_vms"] == doc["simulated"]["ok_vms"] > 0
    assert doc["simulated_equals_analytic"] is True
    assert doc["binding"] and doc["simulated"]["failure"]["limit"] in doc["binding"]
    assert digest(path) == before
    text = run("can-start", str(EXAMPLES / "web.yaml"), "--max", "--host", str(path))
    assert f"{doc['max_more_vms']} more VMs of web fit" in text.stdout
    assert f"analytic {doc['max_more_vms']} = simulated {doc['max_more_vms']}" in text.stdout


def test_can_start_max_exits_1_on_a_full_host(tmp_path: Path) -> None:
    host = Host.create("xenserver-6.1")
    mix = Mix((Shape("seed", seed_vm_spec()),))
    for i in range(headroom(host, mix).max_vms):
        host.define_vm(seed_vm_spec(f"s{i}"))
        host.start_vm(f"s{i}")
    path = tmp_path / "full.db"
    create_store(host, path)
    r = run("can-start", "seed", "--max", "--host", str(path))
    assert r.exit_code == 1, r.output
    assert "0 more VMs of seed fit" in r.stdout and "meets dom0 event channels" in r.stdout


def test_plan_host_plans_a_mix_on_the_file(tmp_path: Path) -> None:
    path = tmp_path / "lab.db"
    create_store(busy_host("xenserver-6.1", 2), path)
    r = run("plan", "--host", str(path), "--vm", "seed:2", "--vm", str(EXAMPLES / "web.yaml"), "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["shapes"] == ["seed", "web"] and doc["profile"] == "xenserver-6.1"
    assert doc["simulated_equals_analytic"] is True


def test_plan_host_refuses_options_that_do_not_apply(tmp_path: Path) -> None:
    path = tmp_path / "lab.db"
    create_store(Host.create("xenserver-6.1"), path)
    r = run("plan", "--host", str(path), "--compare")
    assert r.exit_code == 2 and r.stderr.strip().count("\n") == 0
    assert "does not take --compare" in r.stderr


def test_can_start_max_on_a_missing_file_is_one_line(tmp_path: Path) -> None:
    r = run("can-start", "seed", "--max", "--host", str(tmp_path / "nope.db"))
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "nope.db" in lines[0], r.stderr
