"""The real host through the store: parts rebuild it exactly, and a write of only the changed parts (as
the dirty trackers report them) leaves the same file as a full rewrite would."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from evtchn.store import create_store, open_store
from evtchn.store.codec import HOST_CODEC, dom0_ports_by_domain
from evtchn.toolstack import Host, seed_vm_spec
from evtchn.toolstack.errors import StartError
from tests.store.standins import install


def _host(n: int = 6, profile: str = "xenserver-6.1") -> Host:
    host = Host.create(profile)
    for i in range(n):
        host.define_vm(seed_vm_spec(f"g{i}"))
    return host


def _ops(host: Host, rng: random.Random, count: int) -> None:
    names = sorted(vm.name for vm in host.vms.values())
    for _ in range(count):
        name = rng.choice(names)
        try:
            if host.vms[name].power_state == "Halted":
                host.start_vm(name)
            else:
                rng.choice([host.shutdown_vm, host.destroy_vm, host.reboot_vm])(name)
        except StartError:
            pass


def test_parts_rebuild_the_host_exactly() -> None:
    host = _host()
    _ops(host, random.Random(1), 20)
    again = HOST_CODEC.assemble(list(HOST_CODEC.parts(host)))
    assert again.to_state() == host.to_state()
    assert list(again.xenstore.walk("/")) == list(host.xenstore.walk("/"))


def _track(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Install the stand-in trackers on every Host; count the partial writes."""
    return install(HOST_CODEC, monkeypatch.setattr)


def test_partial_writes_match_the_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _track(monkeypatch)
    store = create_store(_host(), tmp_path / "h.db")
    rng = random.Random(7)
    for _ in range(25):
        with store.transaction() as host:
            _ops(host, rng, 1)
        expected = host.to_state()
        fresh = open_store(store.path).read()
        assert fresh.to_state() == expected
        assert list(fresh.xenstore.walk("/")) == list(host.xenstore.walk("/"))
    assert sum(calls) >= 25  # the writes above went through the partial path


def test_vm_rows_count_what_dom0_holds_for_each_vm(tmp_path: Path) -> None:
    store = create_store(_host(8), tmp_path / "h.db")
    with store.transaction() as host:
        _ops(host, random.Random(3), 12)
    per = dom0_ports_by_domain(host)
    rows = {r.name: r for r in open_store(store.path).vms()}
    for vm in host.vms.values():
        assert rows[vm.name].dom0_ports == (per[vm.domid] if vm.domid is not None else 0)
        assert rows[vm.name].power_state == vm.power_state and rows[vm.name].domid == vm.domid


def test_one_domain_is_read_from_its_part_alone(tmp_path: Path) -> None:
    store = create_store(_host(3), tmp_path / "h.db")
    with store.transaction() as host:
        vm = host.start_vm("g1")
    assert vm.domid is not None
    got = open_store(store.path).domain(vm.domid)
    assert got is not None and got.domid == vm.domid
    assert bytes(got.ports.state) == bytes(host.hv.domains[vm.domid].ports.state)
    assert open_store(store.path).domain(4000) is None
