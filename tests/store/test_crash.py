"""Kill a process at random points while it starts and stops VMs: the host file never holds half a start."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evtchn.store import Store, create_store, open_store
from evtchn.toolstack.host import Host
from evtchn.toolstack.spec import seed_vm_spec
from tests.api.hostkit import fill_dom0

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("crash_worker.py")
KILLS = 8


def _check(store: Store[Host]) -> None:
    host = store.read()
    host.check_invariants()  # no leaked port, no dangling peer, no daemon holding a dead domain's port
    rows = {r.name: r for r in store.vms()}
    for vm in host.vms.values():
        row = rows[vm.name]
        assert (row.power_state, row.domid) == (vm.power_state, vm.domid), f"rows disagree for {vm.name}"
        if vm.power_state == "Halted":
            assert vm.domid is None and not any(d.connected or d.dom0_ports for d in vm.devices)
        else:
            assert vm.domid in host.hv.domains
            assert all(d.connected for d in vm.devices), f"{vm.name} running with a device half plugged"


@pytest.mark.parametrize("path", ["as-is", "partial"])
def test_sigkill_during_starts_leaves_no_half_started_vm(tmp_path: Path, path: str) -> None:
    """as-is: the store as the models are; partial: stand-in trackers force the partial write path."""
    host = Host.create("xenserver-6.1")
    baseline = host.dom0_ports_used()
    for i in range(8):
        host.define_vm(seed_vm_spec(f"g{i}"))  # HVM, 3 disks, 1 NIC: 6 dom0 ports on 6.1
    store = create_store(host, tmp_path / "host.db")
    fill_dom0(store, leave=30)  # room for 5 guests: some starts fail and must roll back too
    in_flight = failed = 0
    for seed in range(KILLS):
        rng = random.Random(seed)
        gen_before = store.generation()
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        child = subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                str(store.path),
                str(seed),
                *(["partial"] if path == "partial" else []),
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert child.stdout is not None
        lines: list[str] = []
        begins, wanted = 0, rng.randint(1, 8)
        while begins < wanted:
            line = child.stdout.readline()
            assert line, "worker died by itself"
            lines.append(line.strip())
            begins += line.startswith("B")
        time.sleep(rng.uniform(0, 0.03))
        child.send_signal(signal.SIGKILL)
        lines += [x.strip() for x in child.stdout.read().splitlines()]
        child.wait()
        assert child.returncode == -signal.SIGKILL
        commits = sum(x.startswith("C") for x in lines)
        failed += sum(x.startswith("F") for x in lines)
        delta = open_store(store.path).generation() - gen_before
        # every printed commit is in the file; at most one more, committed but killed before printing
        assert delta in (commits, commits + 1)
        if lines[-1].startswith("B"):
            in_flight += 1
        else:
            assert delta == commits
        _check(open_store(store.path))
    print(f"kills inside a transaction: {in_flight}/{KILLS}, failed starts seen: {failed}")
    assert in_flight >= KILLS // 3, f"only {in_flight} of {KILLS} kills landed inside a transaction"
    assert failed > 0, "no start failed: the rollback path was not exercised"
    # and nothing leaked over all those kills: stopping everything gives dom0 back its baseline
    with open_store(store.path).transaction() as h:
        for vm in h.vms.values():
            if vm.power_state != "Halted":
                h.shutdown_vm(vm.name)
        assert h.dom0_ports_used() == baseline
