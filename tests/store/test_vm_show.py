"""`evtchn vm show NAME`: the device errors a connect-time failure leaves against the VM (reference §8.3a)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from evtchn.cli import main
from evtchn.store import create_store
from evtchn.toolstack import Host, seed_vm_spec


def _degraded_host(path: Path) -> tuple[str, int]:
    """Seed VMs on xenserver-6.1 until one runs degraded; save the host; (its name, failed devices)."""
    host = Host.create("xenserver-6.1")
    for i in range(1, 1024):  # a 1023-port dom0 runs out long before this
        host.define_vm(seed_vm_spec(f"vm{i}"))
        vm = host.start_vm(f"vm{i}")
        failed = [d for d in vm.devices if d.state == "failed"]
        if failed:
            create_store(host, path)
            return vm.name, len(failed)
    raise AssertionError("no VM ran degraded on a 1023-port dom0")


def test_vm_show_reports_backend_errors(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    name, nfailed = _degraded_host(path)
    r = CliRunner().invoke(main, ["vm", "show", name, "--host", str(path)])
    assert r.exit_code == 0, r.output
    assert f"{name} (" in r.stdout and "Running" in r.stdout
    assert r.stdout.count("error 28 mapping ring-refs and evtchn") == nfailed
    r = CliRunner().invoke(main, ["vm", "show", name, "--json", "--host", str(path)])
    info = json.loads(r.stdout)
    failed = [d for d in info["devices"] if d["state"] == "failed"]
    assert len(failed) == nfailed
    assert all(d["error"] == "error 28 mapping ring-refs and evtchn" and not d["dom0_ports"] for d in failed)
    held = info["dom0_ports"]
    assert len(held["xenstore"]) == 1 and len(held["device_model"]) == 1  # 6.1: one ioreq port per vCPU
    connected = sorted(p for d in info["devices"] if d["connected"] for p in d["dom0_ports"])
    assert sorted(held.get("vbd", []) + held.get("vif", [])) == connected


def test_vm_show_unknown_vm_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    create_store(Host.create("xenserver-6.2"), path)
    r = CliRunner().invoke(main, ["vm", "show", "nope", "--host", str(path)])
    assert r.exit_code == 2
    assert r.stderr == "evtchn: no VM named 'nope'\n"
