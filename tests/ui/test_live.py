"""The dashboard's live view (ui/live.py) against the naive model: after every change another process
commits to the host file, the view kept current part by part equals the view computed from a whole read
of the host (state.py host_view): the gauge, ports by kind and by holder, every VM row with its devices
and errors, the fault-injected consumers, and the headroom rows' "how many more"."""

from __future__ import annotations

import random
from pathlib import Path

from evtchn.store import Store, open_store
from evtchn.toolstack.errors import ToolstackError
from evtchn.toolstack.host import Host
from evtchn.toolstack.spec import DiskSpec, NicSpec, VmSpec
from evtchn.ui.live import LiveView
from evtchn.ui.state import HostView, Rows, host_view, vm_ports_by_kind
from evtchn.xen.errors import XenError
from tests.api.hostkit import fill_dom0, new_host_file


def _naive(store: Store[Host]) -> HostView:
    with store.snapshot():
        rows = Rows.of(store.vms(), store.devices())
    return host_view(store.read(), rows)


def _same(live: HostView, naive: HostView) -> None:
    assert (live.used, live.usable, live.fault_ports) == (naive.used, naive.usable, naive.fault_ports)
    assert live.vms == naive.vms
    assert live.by_kind == naive.by_kind
    assert live.by_holder == naive.by_holder
    mine = {h.shape: h.more for h in live.headroom}
    assert {h.shape: h.more for h in naive.headroom if h.shape in mine} == {
        s: n for s, n in mine.items() if s in {h.shape for h in naive.headroom}
    }


def _spec(name: str, rng: random.Random) -> VmSpec:
    disks = [DiskSpec(userdevice=i) for i in range(rng.randint(0, 3))]
    nics = [NicSpec(devid=i) for i in range(rng.randint(0, 2))]
    return VmSpec(name=name, type=rng.choice(["pv", "hvm"]), vcpus=1, memory_mib=64, disks=disks, nics=nics)


def test_live_view_equals_a_whole_read_after_every_change(tmp_path: Path) -> None:
    store = new_host_file(tmp_path / "host.db", "xenserver-6.2")
    rng = random.Random(13)
    with store.transaction() as host:
        for i in range(8):
            host.define_vm(_spec(f"vm{i}", rng))
            if i % 2:
                host.start_vm(f"vm{i}")
    live = LiveView(store)
    _same(live.current()[1], _naive(store))
    other: Store[Host] = open_store(tmp_path / "host.db")  # another process's connection
    names = [f"vm{i}" for i in range(8)]
    for step in range(20):
        what = rng.choice(["start", "shutdown", "pause", "define", "remove", "consume", "release"])
        what = "fill" if step == 14 else what  # once: dom0 at its limit, the next starts fail
        name = rng.choice(names)
        try:
            with other.transaction() as host:
                vm = host.vms[name]
                if what == "start" and vm.domid is None:
                    host.start_vm(name)
                elif what == "shutdown" and vm.domid is not None:
                    host.shutdown_vm(name)
                elif what == "pause" and vm.power_state == "Running":
                    host.pause_vm(name)
                elif what == "define":
                    names.append(f"new{step}")
                    host.define_vm(_spec(f"new{step}", rng))
                elif what == "remove" and vm.domid is None and len(names) > 2:
                    names.remove(name)
                    host.remove_vm(name)
                elif what == "consume":
                    for _ in range(rng.randint(1, 40)):
                        host.plumbing.fault.bind_unbound()
                elif what == "release":
                    host.plumbing.fault.unbind(rng.randint(1, 40))
        except (ToolstackError, XenError):  # dom0 out of ports: refused, nothing committed
            pass  # a start dom0 cannot take fails as the toolstack says; the view must still agree
        if what == "fill":
            fill_dom0(other, leave=rng.randint(0, 3), prefix=f"fill{step}-")  # dom0 at its limit
            names = [r.name for r in store.vms()]
        _same(live.current()[1], _naive(store))


def test_ports_by_kind_of_one_vm_equal_the_toolstacks(tmp_path: Path) -> None:
    store = new_host_file(tmp_path / "host.db", "xenserver-6.2")
    with store.transaction() as host:
        web = VmSpec(name="web", type="hvm", disks=[DiskSpec(userdevice=0)], nics=[NicSpec(devid=0)])
        host.define_vm(web)
        host.start_vm("web")
        vm = host.vm("web")
        p = host.plumbing
        assert vm.domid is not None
        daemons = {"xenstore": p.xenstored.ports_for(vm.domid), "console": p.xenconsoled.ports_for(vm.domid),
                   "device_model": p.qemu.ports_for(vm.domid)}  # fmt: skip
        want = {k: v for k, v in host.vm_dom0_ports("web").items() if v}
        assert {k: v for k, v in vm_ports_by_kind(vm, daemons).items() if v} == want
