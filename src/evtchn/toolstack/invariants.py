"""The host's invariants: no leaked port, no dangling peer, no record that disagrees with the hypervisor.

    check(plumbing, vms)     # AssertionError naming the first thing that is wrong
"""

from __future__ import annotations

from collections.abc import Iterable

from evtchn.toolstack.devices.dom0_daemons import DOM0
from evtchn.toolstack.plumbing import Plumbing
from evtchn.toolstack.records import HALTED, SUSPENDED, Vm
from evtchn.xen import ECS


def dying_orphans(p: Plumbing, live: set[int]) -> set[int]:
    """Dying domains no VM owns: what a failed creation left (Failure.leaves_dying)."""
    return {d for d, dom in p.hv.domains.items() if dom.dying and d not in live}


def check(p: Plumbing, vms: Iterable[Vm]) -> None:
    p.hv.check_invariants()
    vms = list(vms)
    d0 = p.hv.domains[DOM0]
    held = [port for b in p.binders for port in b.all_ports()]
    assert len(held) == len(set(held)), "a dom0 port is held twice"
    used = set(d0.ports.used_ports())
    assert set(held) == used, (
        f"dom0 ports not held by any component: {sorted(used - set(held))[:10]}, "
        f"held but free: {sorted(set(held) - used)[:10]}"
    )
    for port in p.fault.all_ports():  # IOCTL_EVTCHN_BIND_UNBOUND_PORT: unbound, remote dom0 (fault.py)
        assert d0.ports.state[port] == ECS.UNBOUND and d0.ports.rdom[port] == DOM0, f"fault port {port}"
    live = {vm.domid for vm in vms if vm.domid is not None}
    zombies = dying_orphans(p, live)
    for domid in zombies:  # a failed creation's dying domain: no port, no xenstore home (domain.destroy)
        assert not p.hv.domains[domid].ports.used_ports(), f"dying domain {domid} holds ports"
    assert set(p.hv.domains) - {DOM0} - zombies == live, f"domains {set(p.hv.domains)} vs live VMs {live}"
    assert set(p.footprints) == live and p.resident_mib == sum(p.footprints.values()), "memory ledger"
    for vm in vms:
        if vm.power_state in (HALTED, SUSPENDED):
            assert vm.domid is None, f"{vm.power_state.lower()} VM {vm.name} has domid {vm.domid}"
            continue
        assert vm.domid is not None
        assert p.by_domid.get(vm.domid) is vm
        _check_devices(p, vm)
    for key in p.xenstored.held:
        if isinstance(key, int):
            assert key in live, f"xenstored holds a port for dead domain {key}"
    for daemon in (p.xenconsoled, p.qemu):
        for key in daemon.held:
            if isinstance(key, int):
                assert key in live, f"{daemon.name} holds a port for dead domain {key}"
    for backend in (p.blkback, p.netback):
        for key in backend.held:
            assert isinstance(key, tuple) and key[0] in live, f"{backend.name} holds ports for {key}"
    doms = {int(x) for x in p.xenstore.ls("/local/domain")}
    assert doms == live | {DOM0}, f"xenstore has domains {sorted(doms)}, live {sorted(live | {DOM0})}"


def _check_devices(p: Plumbing, vm: Vm) -> None:
    assert vm.domid is not None
    t = p.hv.domains[vm.domid].ports
    for dev in vm.devices:
        if dev.connected:
            assert len(dev.dom0_ports) == len(dev.guest_ports), f"{vm.name} {dev.kind} {dev.devid}"
            for gp, dp in zip(dev.guest_ports, dev.dom0_ports, strict=True):
                assert t.state[gp] == ECS.INTERDOMAIN and t.rdom[gp] == DOM0 and t.union[gp] == dp, (
                    f"{vm.name} {dev.kind} {dev.devid}: guest port {gp} not connected to dom0 {dp}"
                )
        else:
            assert not dev.dom0_ports, f"{vm.name} {dev.kind} {dev.devid} holds dom0 ports unconnected"
            for gp in dev.guest_ports:
                assert t.state[gp] == ECS.UNBOUND, f"{vm.name}: frontend port {gp} not unbound"
