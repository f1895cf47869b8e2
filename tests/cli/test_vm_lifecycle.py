"""`evtchn vm suspend|resume|pause|unpause|migrate|clone|plug-disk|plug-nic|unplug` on a host file: the
toolstack's own calls, their event-channel effect, one-line errors and exit codes (issue 10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evtchn.cli.exits import EXIT_REFUSED, EXIT_USAGE
from evtchn.store import create_store, open_store
from evtchn.toolstack import Host
from tests.api.hostkit import drain_fillers, fill_dom0
from tests.cli.run import run_cli

SPEC = "name: web\ntype: pv\nvcpus: 1\nmemory_mib: 256\ndisks:\n  - {userdevice: 0}\nnics:\n  - {devid: 0}\n"




def _used(path: Path) -> int:
    return open_store(path).read().dom0_ports_used()


@pytest.fixture
def running(tmp_path: Path) -> Path:
    path = tmp_path / "h.db"
    create_store(Host.create("xenserver-6.2"), path)
    spec = tmp_path / "web.yaml"
    spec.write_text(SPEC)
    assert run_cli(path, "vm", "create", str(spec))[0] == 0
    assert run_cli(path, "vm", "start", "web")[0] == 0
    return path


def test_suspend_resume_pause_unpause_and_their_ports(running: Path) -> None:
    up = _used(running)
    assert run_cli(running, "vm", "pause", "web") == (0, "paused web\n", "")
    assert _used(running) == up
    code, out, _ = run_cli(running, "vm", "unpause", "web")
    assert code == 0 and out.startswith("unpaused web: domid ")
    assert run_cli(running, "vm", "suspend", "web") == (0, "suspended web\n", "")
    assert _used(running) < up and open_store(running).vm(name="web").power_state == "Suspended"  # type: ignore[union-attr]
    code, _, err = run_cli(running, "vm", "pause", "web")
    assert code == EXIT_USAGE and err.startswith("evtchn: VM web is suspended; this needs it running")
    code, out, _ = run_cli(running, "vm", "resume", "web")
    assert code == 0 and out.startswith("resumed web: domid ") and _used(running) == up
    open_store(running).read().check_invariants()


def test_resume_and_migrate_on_a_short_dom0_exit_3_and_leave_the_vm_where_it_was(running: Path) -> None:
    store = open_store(running)
    fill_dom0(store, leave=1)  # room for neither a second copy of the VM's ports nor a resume
    domid = store.vm(name="web").domid  # type: ignore[union-attr]
    before = _used(running)
    code, out, err = run_cli(running, "vm", "migrate", "web")
    assert code == EXIT_REFUSED and out == "" and err.count("\n") == 1 and err.startswith("evtchn: ")
    assert store.vm(name="web").domid == domid and _used(running) == before  # type: ignore[union-attr]
    drain_fillers(store)
    assert run_cli(running, "vm", "suspend", "web")[0] == 0
    fill_dom0(store, leave=0)
    code, _, err = run_cli(running, "vm", "resume", "web")
    assert code == EXIT_REFUSED and "ENOSPC" in err and err.count("\n") == 1
    assert store.vm(name="web").power_state == "Suspended"  # type: ignore[union-attr]
    store.read().check_invariants()


def test_hot_plug_on_a_short_dom0_keeps_the_device_detached_with_the_backend_message(running: Path) -> None:
    code, out, _ = run_cli(running, "vm", "plug-nic", "web", "--devid", "1")
    assert code == 0 and out == "plugged vif 1 into web: connected\n"
    assert run_cli(running, "vm", "unplug", "web", "vif", "1") == (0, "unplugged vif 1 from web\n", "")
    code, _, err = run_cli(running, "vm", "unplug", "web", "vif", "1")
    assert (code, err) == (EXIT_USAGE, "evtchn: vif 1 of VM web is not attached\n")
    store = open_store(running)
    fill_dom0(store, leave=0)
    before = _used(running)
    code, out, err = run_cli(running, "vm", "plug-disk", "web", "--userdevice", "3")
    assert code == EXIT_REFUSED and out == ""
    assert err == "evtchn: web: vbd 51760 not connected: error 28 mapping ring-refs and evtchn\n"
    assert _used(running) == before
    (dev,) = [d for d in store.read().vm("web").devices if (d.kind, d.devid) == ("vbd", 51760)]
    assert not dev.connected and dev.error and "error 28" in dev.error
    store.read().check_invariants()


def test_clone_of_a_halted_vm_and_memory_refusal(running: Path, tmp_path: Path) -> None:
    code, _, err = run_cli(running, "vm", "clone", "web", "web copy")
    assert code == EXIT_USAGE and "running" in err
    assert run_cli(running, "vm", "shutdown", "web")[0] == 0
    code, out, _ = run_cli(running, "vm", "clone", "web", "web")  # names may repeat, as in xapi
    assert code == 0 and out.startswith("cloned web as web (")
    code, _, err = run_cli(running, "vm", "start", "web")
    assert code == EXIT_USAGE and "2 VMs are named 'web'; give a uuid" in err
    big = tmp_path / "big.yaml"
    big.write_text("name: big\ntype: pv\nvcpus: 1\nmemory_mib: 2000000\n")
    assert run_cli(running, "vm", "create", str(big))[0] == 0
    code, out, err = run_cli(running, "vm", "start", "big")
    assert code == EXIT_REFUSED and out == "" and err.count("\n") == 1
    assert "HOST_NOT_ENOUGH_FREE_MEMORY" in err
