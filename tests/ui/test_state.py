"""What the dashboard computes, against the toolstack's own figures and a naive recount of the port table."""

from __future__ import annotations

from pathlib import Path

from evtchn.toolstack.host import Host
from evtchn.toolstack.spec import DiskSpec, NicSpec, VmSpec
from evtchn.ui.charts import gauge, hbars
from evtchn.ui.state import MAX_DEVICES_LISTED, host_view
from tests.api.hostkit import fill_dom0, new_host_file


def _host(tmp_path: Path) -> Host:
    host = Host.create("xenserver-6.2")
    web = VmSpec(name="web01", type="hvm", vcpus=2, disks=[DiskSpec(userdevice=0)], nics=[NicSpec(devid=0)])
    host.define_vm(web)
    host.define_vm(VmSpec(name="db", type="pv", disks=[DiskSpec(userdevice=i) for i in range(12)]))
    host.define_vm(VmSpec(name="idle", type="pv"))
    host.start_vm("web01")
    host.start_vm("db")
    return host


def test_holders_and_kinds_add_up_to_dom0s_used_ports(tmp_path: Path) -> None:
    host = _host(tmp_path)
    v = host_view(host)
    assert (v.used, v.usable) == (host.dom0_ports_used(), host.dom0_ports_usable())
    assert sum(n for _, n in v.by_holder) == v.used
    assert sum(v.by_kind.values()) == v.used
    held = dict(v.by_holder)
    assert held["web01"] == sum(len(p) for p in host.vm_dom0_ports("web01").values())
    assert "idle" not in held and "other consumers (fault-injected, tools)" not in held
    assert v.abi == "2-level" and any("4096" in e for e in v.abi_evidence)


def test_ports_no_vm_explains_are_other_consumers(tmp_path: Path) -> None:
    host = _host(tmp_path)
    for _ in range(5):  # what a fault-injected consumer does: dom0 allocates ports nobody's VM holds
        host.hv.alloc_unbound(0, 0, 0)
    v = host_view(host)
    assert dict(v.by_holder)["other consumers (fault-injected, tools)"] == 5
    assert v.by_kind["other"] == 5
    assert sum(n for _, n in v.by_holder) == v.used == host.dom0_ports_used()


def test_headroom_is_free_ports_over_each_shapes_cost(tmp_path: Path) -> None:
    from evtchn.toolstack import costs

    host = _host(tmp_path)
    v = host_view(host)
    assert len(v.headroom) == 3  # web01, db, idle: three shapes
    for h in v.headroom:
        name = h.shape.split()[1]
        cost = costs.vm_cost(host.profile, host.hardware, host.vm(name).spec).total
        assert (h.cost, h.more) == (cost, v.free // cost)
        assert h.binding_limit.startswith(("dom0 event channels", "guest max_event_channels"))


def test_a_vm_with_many_devices_lists_its_failed_ones_and_counts_the_rest(tmp_path: Path) -> None:
    store = new_host_file(tmp_path / "h.db", "xenserver-6.1")
    fill_dom0(store, leave=12)
    with store.transaction() as host:
        host.define_vm(VmSpec(name="big", type="pv", disks=[DiskSpec(userdevice=i) for i in range(20)]))
        host.start_vm("big")
    v = host_view(store.read())
    big = next(x for x in v.vms if x.name == "big")
    assert len(big.devices) == 20 and big.failed == 10  # 12 free: store + console + 10 disks connect
    assert len(big.listed) == MAX_DEVICES_LISTED and all("error 28" in d.error for d in big.listed)
    assert big.summary == "10 vbd connected, 2 vbd failed"  # the 2 failed ones not listed are counted
    assert v.full and v.free == 0


def test_gauge_and_bars_geometry() -> None:
    assert gauge(0, 100).level == "ok" and gauge(80, 100).level == "warn" and gauge(100, 100).level == "full"
    assert gauge(50, 100).percent == 50.0 and gauge(5, 0).level == "full"
    assert [b.width for b in hbars([("a", 10), ("b", 5), ("c", 0)])] == [100.0, 50.0, 0.0]
    assert hbars([]) == []
