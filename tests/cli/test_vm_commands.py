"""`evtchn vm …` on a host file: bulk verbs in one process, names or uuids, --json, exit codes (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from evtchn.cli.exits import EXIT_NO, EXIT_REFUSED, EXIT_USAGE
from evtchn.cli.hostfile import CliError, resolve
from evtchn.store import create_store, open_store
from evtchn.toolstack import Host, seed_vm_spec
from evtchn.toolstack.profiles import get_profile
from tests.cli.run import run_cli
from tests.toolstack.helpers import hardware_leaving

SPEC = "name: web\ntype: pv\nvcpus: 1\nmemory_mib: 256\ndisks:\n  - {userdevice: 0}\n"




@pytest.fixture
def hostfile(tmp_path: Path) -> Path:
    path = tmp_path / "h.db"
    create_store(Host.create("xenserver-6.2"), path)
    return path


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    p = tmp_path / "web.yaml"
    p.write_text(SPEC)
    return p


def test_create_count_names_the_copies_and_start_all(hostfile: Path, spec: Path, tmp_path: Path) -> None:
    db = tmp_path / "db.yaml"
    db.write_text(SPEC.replace("name: web", "name: db"))
    code, out, _ = run_cli(hostfile, "vm", "create", str(spec), str(db), "--count", "3")
    assert code == 0
    names = [line.split()[2] for line in out.splitlines()]
    assert names == ["web-1", "web-2", "web-3", "db-1", "db-2", "db-3"]
    assert all(line.startswith("created VM ") for line in out.splitlines())
    code, out, _ = run_cli(hostfile, "vm", "start", "--all")
    assert code == 0 and out.count("started ") == 6
    assert {r.power_state for r in open_store(hostfile).vms()} == {"Running"}
    code, out, _ = run_cli(hostfile, "vm", "shutdown", "web-2", "db-1")
    assert (code, out) == (0, "shut down web-2\nshut down db-1\n")
    states = {r.name: r.power_state for r in open_store(hostfile).vms()}
    assert [n for n, s in sorted(states.items()) if s == "Halted"] == ["db-1", "web-2"]
    code, out, _ = run_cli(hostfile, "vm", "shutdown", "--all")
    assert code == 0 and out.count("shut down ") == 4
    both = run_cli(hostfile, "vm", "start", "--all", "web-1")
    assert both[2] == "evtchn: give VM names or --all, not both\n"
    assert run_cli(hostfile, "vm", "start")[:1] == (EXIT_USAGE,)


def test_a_bad_spec_among_several_defines_nothing(hostfile: Path, spec: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nvcpus: lots\n")
    code, out, err = run_cli(hostfile, "vm", "create", str(spec), str(bad))
    assert code == EXIT_USAGE and out == "" and err.startswith(f"evtchn: {bad}:2: field vcpus:")
    assert open_store(hostfile).vms() == []


def _name_max_length() -> int:
    from evtchn.toolstack.spec import VmSpec

    (limit,) = [m.max_length for m in VmSpec.model_fields["name"].metadata if hasattr(m, "max_length")]
    return int(limit)


def test_count_names_are_checked_like_a_spec_name(hostfile: Path, tmp_path: Path) -> None:
    longest = "w" * _name_max_length()  # a valid name; its copies' names are one suffix too long
    long = tmp_path / "long.yaml"
    long.write_text(SPEC.replace("name: web", f"name: {longest}"))
    code, out, err = run_cli(hostfile, "vm", "create", str(long), "--count", "3")
    assert code == EXIT_USAGE and out == ""  # nothing is defined
    assert err.startswith(f"evtchn: {long}: --count copy name '{longest}-1': ") and err.count("\n") == 1
    assert open_store(hostfile).vms() == []


def test_bulk_failure_stops_at_that_vm_and_keeps_the_earlier_ones(
    hostfile: Path, spec: Path
) -> None:
    assert run_cli(hostfile, "vm", "create", str(spec), "--count", "2")[0] == 0
    with open_store(hostfile).transaction() as host:  # web-3 will clash: define it by hand first
        host.define_vm(seed_vm_spec("web-3"))
    code, out, err = run_cli(hostfile, "vm", "create", str(spec), "--count", "4")
    assert code == EXIT_USAGE
    assert out == ""  # web-1 exists already: the first copy stops the run
    assert err == "evtchn: web-1: a VM named 'web-1' already exists (stopped: 0 of 4 done)\n"
    assert run_cli(hostfile, "vm", "start", "web-2")[0] == 0
    code, out, err = run_cli(hostfile, "vm", "start", "web-1", "web-2", "web-3")
    assert (code, out) == (EXIT_USAGE, "started web-1: domid 2, running\n")
    assert err == "evtchn: web-2: VM web-2 is running; this needs it halted (stopped: 1 of 3 done)\n"
    states = {r.name: r.power_state for r in open_store(hostfile).vms()}
    assert states == {"web-1": "Running", "web-2": "Running", "web-3": "Halted"}


def test_a_refused_start_exits_3_and_a_typo_exits_2(tmp_path: Path) -> None:
    profile = get_profile("xenserver-6.1")
    path = tmp_path / "short.db"
    host = Host.create(profile, hardware_leaving(profile, 1))  # 1 free dom0 port: no VM can start
    host.define_vm(seed_vm_spec("a"))
    create_store(host, path)
    code, out, err = run_cli(path, "vm", "start", "a")
    assert code == EXIT_REFUSED and out == "" and err.count("\n") == 1 and err.startswith("evtchn: ")
    assert open_store(path).vm(name="a").power_state == "Halted"  # type: ignore[union-attr]
    assert run_cli(path, "vm", "start", "b") == (EXIT_USAGE, "", "evtchn: no VM named 'b'\n")
    assert run_cli(path, "vm", "shutdown", "a")[0] == EXIT_USAGE  # a bad power state is an input error


def test_can_start_says_no_with_exit_1(tmp_path: Path, spec: Path) -> None:
    profile = get_profile("xenserver-6.1")
    path = tmp_path / "short.db"
    create_store(Host.create(profile, hardware_leaving(profile, 1)), path)
    assert run_cli(path, "can-start", str(spec))[0] == EXIT_NO


def test_every_vm_argument_takes_a_uuid(hostfile: Path, spec: Path) -> None:
    assert run_cli(hostfile, "vm", "create", str(spec))[0] == 0
    (row,) = open_store(hostfile).vms()
    assert run_cli(hostfile, "vm", "start", row.uuid)[1] == "started web: domid 1, running\n"
    code, out, _ = run_cli(hostfile, "vm", "show", row.uuid, "--json")
    assert code == 0 and json.loads(out)["name"] == "web"
    assert run_cli(hostfile, "vm", "destroy", row.uuid)[1] == "destroyed domain of web; it is halted\n"
    assert run_cli(hostfile, "vm", "remove", row.uuid)[1] == "removed web\n"


def test_an_ambiguous_name_lists_the_uuids() -> None:
    vms = [SimpleNamespace(name="web", uuid=u) for u in ("b-uuid", "a-uuid")]
    vms.append(SimpleNamespace(name="db", uuid="c-uuid"))
    with pytest.raises(CliError) as e:
        resolve("web", vms)
    assert e.value.code == EXIT_USAGE
    assert e.value.message == "2 VMs are named 'web'; give a uuid: a-uuid, b-uuid"
    assert resolve("a-uuid", vms) is vms[1]  # a uuid always picks one
    assert resolve("db", vms) is vms[2]
    vms.append(SimpleNamespace(name="a-uuid", uuid="d-uuid"))
    assert resolve("a-uuid", vms) is vms[1]  # a uuid wins over a VM named like it (xe does the same)


def test_list_and_host_show_json_carry_the_table(hostfile: Path, spec: Path) -> None:
    assert run_cli(hostfile, "vm", "create", str(spec), "--count", "2")[0] == 0
    assert run_cli(hostfile, "vm", "start", "web-2")[0] == 0
    code, out, _ = run_cli(hostfile, "vm", "list", "--json")
    assert code == 0
    vms = json.loads(out)
    host = open_store(hostfile).read()
    want = []
    for name in ("web-1", "web-2"):
        vm = host.vms[name]
        want.append(
            {
                "name": name, "uuid": vm.uuid, "power_state": vm.power_state, "domid": vm.domid,
                "type": "pv", "vcpus": 1, "memory_mib": 256,
                "dom0_ports": sum(len(p) for p in host.vm_dom0_ports(name).values()),
                "devices": 1, "failed_devices": 0,
            }
        )  # fmt: skip
    assert vms == want
    code, out, _ = run_cli(hostfile, "host", "show", "--json")
    assert code == 0
    doc = json.loads(out)
    assert (doc["profile"], doc["hardware"], doc["vms"]) == ("xenserver-6.2", host.hardware.name, want)
    assert doc["host_file"] == str(hostfile)
    d0, d1 = doc["domains"]
    dom0 = host.hv.domains[0]
    assert d0 == {"domid": 0, "name": "Domain-0", "used": dom0.active_evtchns,
                  "free": dom0.limit_port - dom0.active_evtchns, "limit": dom0.limit_port}  # fmt: skip
    assert (d1["domid"], d1["name"]) == (host.vms["web-2"].domid, "web-2")
    text = run_cli(hostfile, "host", "show")[1]
    assert f"   {d1['domid']}   web-2 " in text and "web-1   Halted" in text
