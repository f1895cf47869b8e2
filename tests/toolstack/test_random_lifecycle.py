"""Random lifecycles on hosts with few free dom0 ports: after every operation nothing has leaked, and dom0's
use is its baseline plus exactly what the live VMs hold (property test)."""

from __future__ import annotations

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from evtchn.toolstack import (
    BadPowerState,
    DiskSpec,
    Host,
    NicSpec,
    StartError,
    ToolstackError,
    VmSpec,
    get_profile,
)
from evtchn.toolstack.errors import DeviceError
from tests.toolstack.helpers import hardware_leaving, small_dom0

PROFILES = ["xenserver-6.1", "xenserver-6.2", "xenserver-6.5", "xenserver-8", "xen-xl"]

specs = st.builds(
    lambda t, v, nd, nn, pvd, cap, cd: VmSpec(
        name="x",
        type=t,
        vcpus=v,
        disks=[DiskSpec(userdevice=i, kind="cdrom" if cd and i == nd - 1 else "disk") for i in range(nd)],
        nics=[NicSpec(devid=i) for i in range(nn)],
        pv_drivers=pvd,
        max_event_channels=cap,
    ),
    st.sampled_from(["pv", "hvm", "pvh"]),
    st.integers(1, 3),
    st.integers(0, 3),
    st.integers(0, 2),
    st.booleans(),
    st.one_of(st.none(), st.integers(1, 30)),
    st.booleans(),
)
OPS = ["start"] * 5 + ["start_paused", "start_noboot", "boot", "unpause", "shutdown", "reboot", "destroy"]
# issue 10's lifecycle: each binds or frees through the same atoms, with the same failures as start
OPS += ["pause", "suspend", "resume", "migrate", "plug_disk", "plug_nic", "unplug_disk", "unplug_nic"]
ops = st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 3)), min_size=1, max_size=25)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PROFILES), st.integers(0, 25), st.lists(specs, min_size=4, max_size=4), ops)
def test_random_lifecycle_never_leaks(
    profile_name: str, free: int, vm_specs: list[VmSpec], script: list[tuple[str, int]]
) -> None:
    profile = small_dom0(get_profile(profile_name))
    host = Host.create(profile, hardware_leaving(profile, free))
    baseline = host.dom0_ports_used()
    for i, spec in enumerate(vm_specs):
        host.define_vm(spec.model_copy(update={"name": f"vm{i}"}))
    for op, idx in script:
        name = f"vm{idx}"
        try:
            if op.startswith("start"):
                host.start_vm(name, paused=op == "start_paused", boot=op != "start_noboot")
            elif op == "boot":
                host.boot_vm(name)
            elif op.startswith("plug"):
                host.plug_device(name, DiskSpec(userdevice=5) if op == "plug_disk" else NicSpec(devid=3))
            elif op.startswith("unplug"):
                devices = host.vm(name).devices
                if devices:
                    dev = devices[0 if op == "unplug_disk" else -1]
                    host.unplug_device(name, dev.kind, dev.devid)
            else:
                getattr(host, f"{op}_vm")(name)
        except StartError as e:
            event(f"start failed in {e.op}")
        except BadPowerState:
            event("bad power state")
        except DeviceError as e:
            event(f"{op}: {e.xenapi_code}")
        except ToolstackError as e:
            assert "already booted" in e.message
        if op.startswith("start") and host.vms[name].power_state != "Halted":
            states = {d.state for d in host.vms[name].devices}
            event("started with " + ",".join(sorted(states)))
        host.check_invariants()
        # dom0 holds its baseline plus, for each live VM, exactly its store/console/qemu/backend ports.
        live_ports = 0
        for vm in host.vms.values():
            if vm.domid is None:
                assert all(not d.dom0_ports for d in vm.devices)
                continue
            live_ports += len(host.xenstored.ports_for(vm.domid)) + len(host.xenconsoled.ports_for(vm.domid))
            live_ports += len(host.qemu.ports_for(vm.domid)) + sum(len(d.dom0_ports) for d in vm.devices)
        assert host.dom0_ports_used() == baseline + live_ports
    for vm in list(host.vms.values()):
        if vm.power_state in ("Running", "Paused"):
            host.destroy_vm(vm.name)
    assert host.dom0_ports_used() == baseline
    assert set(host.hv.domains) == {0}
    host.check_invariants()
