"""`evtchn fault consume|release|show`: dom0 exhaustion rehearsed on a host file (issue 12, issue 13)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evtchn.cli.exits import EXIT_USAGE
from evtchn.store import create_store, open_store
from evtchn.toolstack import Host
from evtchn.toolstack.fault import FAULT_BINDER
from evtchn.toolstack.profiles import get_profile
from evtchn.xen import ECS
from tests.cli.run import run_cli
from tests.toolstack.helpers import hardware_leaving

SPEC = "name: web\ntype: pv\nvcpus: 1\nmemory_mib: 256\ndisks: [{userdevice: 0}]\nnics: [{devid: 0}]\n"




@pytest.fixture
def hostfile(tmp_path: Path) -> Path:
    path = tmp_path / "h.db"
    create_store(Host.create("xenserver-6.2"), path)
    spec = tmp_path / "web.yaml"
    spec.write_text(SPEC)
    assert run_cli(path, "vm", "create", str(spec))[0] == 0
    return path


def _fault_ports(path: Path) -> list[int]:
    host = open_store(path).read()
    host.check_invariants()
    return host.plumbing.fault.all_ports()


def test_consume_fails_a_start_as_a_short_dom0_does_and_release_lets_it_run(
    hostfile: Path, tmp_path: Path
) -> None:
    free = open_store(hostfile).read().dom0_ports_free()
    code, out, err = run_cli(hostfile, "fault", "consume", "--leave-free", "2")
    assert (code, err) == (0, "")
    assert out == f"fault injection bound {free - 2} ports in domain 0: holds {free - 2}, 2 left free\n"
    assert len(_fault_ports(hostfile)) == free - 2

    # The same VM on a real dom0 that has only 2 ports left (its PIRQs took the rest).
    short = tmp_path / "short.db"
    profile = get_profile("xenserver-6.2")
    create_store(Host.create(profile, hardware_leaving(profile, 2)), short)
    assert run_cli(short, "vm", "create", str(tmp_path / "web.yaml"))[0] == 0
    expected = run_cli(short, "vm", "start", "web")
    # dom0 binds xenstore and console; the backends then fail with ENOSPC (reference §8) as on a real host.
    assert expected[2] == (
        "evtchn: web: vbd 51712 not connected: error 28 mapping ring-refs and evtchn\n"
        "evtchn: web: vif 0 not connected: error 28 mapping ring-refs and evtchn\n"
    )
    assert run_cli(hostfile, "vm", "start", "web") == expected
    # what follows the first line (the uuid)
    shown = [run_cli(h, "vm", "show", "web")[1].split("\n", 1)[1] for h in (hostfile, short)]
    assert shown[0] == shown[1] and "vif 0: error 28 mapping ring-refs and evtchn" in shown[0]
    host = open_store(hostfile).read()
    host.check_invariants()
    assert host.vm("web").power_state == "Running" and host.dom0_ports_free() == 0
    assert run_cli(hostfile, "vm", "shutdown", "web")[0] == 0

    code, out, _ = run_cli(hostfile, "fault", "release", "--count", "10")
    assert (code, out) == (0, f"fault injection closed 10 ports in domain 0: holds {free - 12}, 12 free\n")
    assert run_cli(hostfile, "fault", "release")[0] == 0
    assert _fault_ports(hostfile) == []
    assert run_cli(hostfile, "vm", "start", "web")[:2] == (0, "started web: domid 2, running\n")
    assert open_store(hostfile).read().vm("web").power_state == "Running"
    assert open_store(hostfile).read().dom0_ports_free() == free - _dom0_cost(hostfile)


def _dom0_cost(path: Path) -> int:
    host = open_store(path).read()
    return sum(len(v) for v in host.vm_dom0_ports("web").values())


def test_ports_are_unbound_remote_dom0_and_shown_everywhere(hostfile: Path) -> None:
    assert run_cli(hostfile, "fault", "consume", "--leave-free", "100")[0] == 0
    ports = _fault_ports(hostfile)
    host = open_store(hostfile).read()
    t = host.hv.domains[0].ports
    assert all(t.state[p] == ECS.UNBOUND and t.rdom[p] == 0 for p in ports)
    code, out, _ = run_cli(hostfile, "lsevtchn", "0")
    assert code == 0
    # lsevtchn prints an unbound port as "waiting connection" (tools/xcutils/lsevtchn.c)
    assert f"{ports[-1]}: VCPU 0: Interdomain (Waiting connection) - Remote Domain 0" in out.splitlines()
    dump = run_cli(hostfile, "debug-keys", "e")[1].splitlines()  # ECS_UNBOUND is state 2, d= its remote
    assert f"{ports[-1]:8d} [0/0/0]: s=2 n=0 x=0 d=0" in dump
    code, out, _ = run_cli(hostfile, "host", "show")
    assert f"fault injection holds {len(ports)} dom0 ports" in out
    doc = json.loads(run_cli(hostfile, "host", "show", "--json")[1])
    assert doc["fault_ports"] == len(ports)
    shown = run_cli(hostfile, "fault", "show")[1]
    assert shown == f"fault injection holds {len(ports)} ports; dom0 has 100 free\n"


def test_persisted_across_processes(hostfile: Path) -> None:
    cli = [sys.executable, "-c", "from evtchn.cli import main; main()", "fault"]
    run = [*cli, "consume", "--leave-free", "7", "--host", str(hostfile)]
    done = subprocess.run(run, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    host = open_store(hostfile).read()
    assert host.dom0_ports_free() == 7
    assert {b.name for b in host.binders} >= {FAULT_BINDER}
    release = [*cli, "release", "--all", "--host", str(hostfile)]
    assert subprocess.run(release, capture_output=True, text=True, check=False).returncode == 0
    assert _fault_ports(hostfile) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["consume", "--domain", "7", "--leave-free", "2"],
            "evtchn: --domain 7: no such domain on this host\n",
        ),
        (
            ["consume", "--domain", "-1", "--leave-free", "2"],
            "evtchn: --domain -1: a domid is not negative\n",
        ),
        (["consume", "--leave-free", "-3"], "evtchn: --leave-free -3: must not be negative\n"),
        (
            ["consume", "--leave-free", "99999"],
            "evtchn: --leave-free 99999: domain 0 has only {free} free event channels\n",
        ),
        (["release", "--count", "5"], "evtchn: --count 5: fault injection holds only 0 ports\n"),
        (["release", "--count", "-5"], "evtchn: --count -5: must not be negative\n"),
        (["release", "--count", "1", "--all"], "evtchn: give --count N or --all, not both\n"),
    ],
)
def test_bad_arguments_are_one_line_exit_2(hostfile: Path, args: list[str], message: str) -> None:
    free = open_store(hostfile).read().dom0_ports_free()
    before = open_store(hostfile).generation()
    code, out, err = run_cli(hostfile, "fault", *args)
    assert (code, out, err) == (EXIT_USAGE, "", message.format(free=free))
    assert open_store(hostfile).generation() == before


def test_a_running_guest_domain_is_refused(hostfile: Path) -> None:
    assert run_cli(hostfile, "vm", "start", "web")[0] == 0
    domid = open_store(hostfile).read().vm("web").domid
    code, _, err = run_cli(hostfile, "fault", "consume", "--domain", str(domid), "--leave-free", "2")
    assert (code, err) == (
        EXIT_USAGE,
        f"evtchn: --domain {domid}: fault injection runs in dom0 only (domain 0)\n",
    )


def test_a_host_saved_before_fault_injection_loads_with_none_held() -> None:
    state = Host.create("xenserver-6.2").to_state()
    del state["binders"][FAULT_BINDER]  # as a host file written before `evtchn fault` existed
    host = Host.from_state(state)
    host.check_invariants()
    assert host.plumbing.fault.count() == 0
    assert host.plumbing.fault.name in {b.name for b in host.binders}
