"""The cost table and the plumbing agree: for any spec, what vm_cost() predicts is what a start takes,
in dom0 (by kind and phase) and in the guest's own table (property test)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from evtchn.toolstack import DiskSpec, Host, NicSpec, VmSpec, vm_cost

PROFILES = ["xenserver-6.1", "xenserver-6.2", "xenserver-6.5", "xenserver-8", "xen-xl"]

specs = st.builds(
    lambda t, v, extra, disks, nics, pvd: VmSpec(
        name="p",
        type=t,
        vcpus=v,
        max_vcpus=v + extra,
        disks=[DiskSpec(userdevice=i, kind=k, queues=q) for i, (k, q) in enumerate(disks)],
        nics=[NicSpec(devid=i, queues=q) for i, q in enumerate(nics)],
        pv_drivers=pvd,
    ),
    st.sampled_from(["pv", "hvm", "pvh"]),
    st.integers(1, 6),
    st.integers(0, 2),
    st.lists(
        st.tuples(st.sampled_from(["disk", "disk", "cdrom"]), st.one_of(st.none(), st.integers(1, 6))),
        max_size=4,
    ),
    st.lists(st.one_of(st.none(), st.integers(1, 6)), max_size=3),
    st.booleans(),
)


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(PROFILES), specs)
def test_vm_cost_is_what_a_start_takes(profile: str, spec: VmSpec) -> None:
    host = Host.create(profile)
    cost = vm_cost(host.profile, host.hardware, spec)
    host.define_vm(spec)
    before = host.dom0_ports_used()
    vm = host.start_vm("p", boot=False)
    assert host.dom0_ports_used() - before == cost.start_time
    host.boot_vm("p")
    assert host.dom0_ports_used() - before == cost.total
    assert {k: len(v) for k, v in host.vm_dom0_ports("p").items()} == cost.by_kind
    assert host.hv.domains[vm.domid or 0].active_evtchns == cost.guest_ports
    assert host.can_start(spec).needed == cost.total
    host.check_invariants()
