"""Real hosts for API tests: a host file, and dom0 filled to an exact number of free ports."""

from __future__ import annotations

from pathlib import Path

from evtchn.store import Store, create_store
from evtchn.toolstack import costs
from evtchn.toolstack.host import Host
from evtchn.toolstack.spec import DiskSpec, VmSpec


def new_host_file(path: Path, profile: str = "xenserver-6.1") -> Store[Host]:
    return create_store(Host.create(profile), path)


def _pv(name: str, disks: int) -> VmSpec:
    return VmSpec(
        name=name, type="pv", vcpus=1, memory_mib=64, disks=[DiskSpec(userdevice=i) for i in range(disks)]
    )


def fill_dom0(store: Store[Host], leave: int, prefix: str = "filler") -> None:
    """Start PV filler VMs (one dom0 port per disk, plus store and console) until exactly `leave` dom0 ports
    are free. A real host gets there by running VMs; so does this."""
    with store.transaction() as host:
        fixed = costs.vm_cost(host.profile, host.hardware, _pv("x", 0)).total
        per_disk = costs.vm_cost(host.profile, host.hardware, _pv("x", 1)).total - fixed
        assert per_disk == 1, "filler sizing assumes one dom0 port per PV disk"
        n = sum(1 for vm in host.vms.values() if vm.name.startswith(prefix))
        while (excess := host.dom0_ports_free() - leave) > 0:
            assert excess >= fixed, f"cannot leave exactly {leave} free ports with fillers of {fixed}"
            disks = 200 if excess >= 200 + 2 * fixed else excess - fixed
            name = f"{prefix}{n}"
            n += 1
            host.define_vm(_pv(name, disks))
            host.start_vm(name)
        assert host.dom0_ports_free() == leave


def drain_fillers(store: Store[Host], prefix: str = "filler") -> None:
    with store.transaction() as host:
        for name in [vm.uuid for vm in host.vms.values() if vm.name.startswith(prefix)]:
            host.shutdown_vm(name)
            host.remove_vm(name)
