"""The per-VM record cache (api/records.py) and the whole view built from the previous one (world.py
`build(prev=)`) against the naive model: after every write, by this server or by another process on the
same host file, each VM / VBD / VIF record the service answers, and every object of the whole view, equal
those of a view built from scratch. A cache that missed one events row, or a part reused when its inputs
moved, would answer a stale record here."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from evtchn.api import overlay
from evtchn.api.service import Service
from evtchn.api.world import build
from evtchn.store import Store, open_store
from evtchn.toolstack.host import Host
from evtchn.toolstack.spec import DiskSpec, VmSpec
from tests.api.hostkit import new_host_file


def _fresh(svc: Service) -> dict[str, dict[str, dict[str, Any]]]:
    """The naive model: every record rebuilt from all the rows, nothing reused."""
    with svc.store.snapshot() as gen:
        return build((gen, svc.tasks.version), svc._inputs()).objects


def _check(svc: Service) -> None:
    fresh = _fresh(svc)
    # the whole view, built from the previous one (unchanged VMs' parts reused), equals one built afresh
    assert svc.world().objects == fresh
    for cls in ("VM", "VBD", "VIF"):
        for ref, rec in fresh[cls].items():
            if cls == "VM" and (rec["is_a_template"] or rec["is_control_domain"]):
                continue
            assert svc.record(cls, ref) == rec, (cls, rec.get("name_label"))


def _spec(name: str) -> VmSpec:
    return VmSpec(name=name, type="pv", vcpus=1, memory_mib=64, disks=[DiskSpec(userdevice=0)])


def test_cached_records_follow_every_write_of_any_process(tmp_path: Path) -> None:
    store = new_host_file(tmp_path / "host.db", "xenserver-6.2")
    with store.transaction() as host:
        for i in range(6):
            host.define_vm(_spec(f"vm{i}"))
    svc = Service(store)
    other: Store[Host] = open_store(tmp_path / "host.db")  # a second writer with its own connections
    rng = random.Random(7)
    names = [f"vm{i}" for i in range(6)]
    _check(svc)
    for step in range(40):
        name = rng.choice(names)
        row = store.vm(name=name)
        assert row is not None
        writer = rng.choice([store, other])
        what = rng.choice(["start", "shutdown", "describe", "define"])
        with writer.txn() as tx:
            vm = tx.host.vms[name]
            if what == "start" and vm.domid is None:
                tx.host.start_vm(name)
            elif what == "shutdown" and vm.domid is not None:
                tx.host.shutdown_vm(name)
            elif what == "describe":  # an overlay-only change: its events row is all that says so
                overlay.update(tx.conn, row.ref, "VM", name_description=f"step {step}")
            elif what == "define":
                names.append(f"new{step}")
                tx.host.define_vm(_spec(f"new{step}"))
        _check(svc)
        svc.record("VM", row.ref)  # read between writes: the part is cached, then must be dropped
    assert any(svc.record("VM", r.ref)["name_description"].startswith("step") for r in store.vms())
