"""Device states after a connect-time failure, on both ends in xenstore, and what the guest sees.

Linux v6.1: a backend that cannot bind calls xenbus_dev_fatal() (drivers/xen/xenbus/xenbus_client.c:
error/<nodename>/error, then xenbus_switch_state(Closing)); the frontend's otherend_changed handler
(xen-blkfront.c blkback_changed -> blkfront_closing, xen-netfront.c netback_changed) calls
xenbus_frontend_closed() -> Closed (6); the backend's frontend_changed (xen-blkback/xenbus.c,
xen-netback/xenbus.c, case XenbusStateClosed) switches to Closed and, `online` being 1, stays.
blkfront adds the gendisk only on the backend's Connected (blkfront_connect); netfront registered its
net_device in xennet_connect() once its own rings and ports are set up.
"""

from __future__ import annotations

from evtchn.toolstack import BUILTIN_PROFILES, DiskSpec, Host, NicSpec, VmSpec
from evtchn.toolstack.guest_view import disk_name, guest_view
from tests.toolstack.helpers import hardware_leaving, small_dom0

SPEC = VmSpec(
    name="g", type="pv", vcpus=1, disks=[DiskSpec(userdevice=0), DiskSpec(userdevice=1)], nics=[NicSpec()]
)


def _host(profile_name: str, free: int) -> Host:
    profile = small_dom0(BUILTIN_PROFILES[profile_name])
    host = Host.create(profile, hardware_leaving(profile, free))
    host.define_vm(SPEC)
    return host


def test_blkback_failure_closes_both_ends() -> None:
    """3 free dom0 ports: store, console, the first disk's ring. The second disk and the NIC fail."""
    host = _host("xen-4.17", 3)
    vm = host.start_vm("g")
    d = vm.domid
    assert d is not None
    r = host.xenstore.read
    assert r(f"/local/domain/0/backend/vbd/{d}/51712/state") == "4"
    assert r(f"/local/domain/{d}/device/vbd/51712/state") == "4"
    for kind, devid in (("vbd", 51728), ("vif", 0)):
        assert r(f"/local/domain/0/backend/{kind}/{d}/{devid}/state") == "6", kind  # Closed
        assert r(f"/local/domain/{d}/device/{kind}/{devid}/state") == "6", kind  # Closed
        assert r(f"/local/domain/0/error/backend/{kind}/{d}/{devid}/error").startswith("28 mapping ")
        assert r(f"/local/domain/0/backend/{kind}/{d}/{devid}/online") == "1"  # still registered
    # blkfront_closing keeps the ring: the guest's port stays allocated, unbound, for dom0.
    failed = vm.device("vbd", 51728)
    assert failed is not None and failed.dom0_ports == [] and len(failed.guest_ports) == 1
    assert host.hv.domains[d].ports.state[failed.guest_ports[0]] != 0
    # The guest: xvda in /proc/partitions, xvdb absent; eth0 still listed (netfront registered it in
    # xennet_connect before netback failed).
    view = guest_view(vm)
    assert view.partitions == ["xvda"]
    assert view.interfaces == ["eth0"]
    host.check_invariants()


def test_all_connected_guest_sees_everything() -> None:
    host = Host.create("xen-4.17")
    host.define_vm(SPEC)
    vm = host.start_vm("g")
    assert guest_view(vm).partitions == ["xvda", "xvdb"]
    assert guest_view(vm).interfaces == ["eth0"]
    host.destroy_vm("g")
    assert guest_view(host.vm("g")).partitions == []


def test_tapdisk_backends_keep_closing() -> None:
    """XenServer's tapdisk3 reports in its own key; its handshake is not Linux blkback's."""
    host = _host("xenserver-8", 3)
    vm = host.start_vm("g")
    d = vm.domid
    failed = [x for x in vm.devices if x.kind == "vbd" and x.state == "failed"]
    for x in failed:
        assert host.xenstore.read(f"/local/domain/0/backend/vbd3/{d}/{x.devid}/state") == "5"


def test_disk_names() -> None:
    # 202<<8 | disk<<4 (xvda = 51712), the extended form 1<<28 | disk<<8.
    assert [disk_name(51712), disk_name(51728), disk_name(51712 + 16 * 15)] == ["xvda", "xvdb", "xvdp"]
    assert [disk_name((1 << 28) | (26 << 8)), disk_name((1 << 28) | (27 << 8))] == ["xvdaa", "xvdab"]


def test_a_nic_whose_frontend_got_no_port_is_absent() -> None:
    """max_event_channels leaves the guest no port for netfront: talk_to_netback fails, no net_device."""
    host = Host.create("xen-4.17")
    # ports 1-2 store/console, 3-7 the one vCPU's binds (no spinlock IPI), 8 the disk: none for the NIC.
    spec = SPEC.model_copy(update={"disks": SPEC.disks[:1], "max_event_channels": 8})
    host.define_vm(spec)
    vm = host.start_vm("g")
    nic = vm.device("vif", 0)
    assert nic is not None and nic.state == "absent"
    assert guest_view(vm) == type(guest_view(vm))(["xvda"], [])
    host.check_invariants()


def test_frontends_that_got_no_port_close_as_their_drivers_do() -> None:
    """xenbus_alloc_evtchn() failing is itself a xenbus_dev_fatal (frontend Closing, backend follows);
    netfront then closes both ends, blkfront_closing() returns early: a disk stays Closing on both."""
    host = Host.create("xen-4.17")
    # ports 1-2 store/console, 3-7 the vCPU's binds: nothing left for either frontend.
    spec = SPEC.model_copy(update={"disks": SPEC.disks[:1], "max_event_channels": 7})
    host.define_vm(spec)
    vm = host.start_vm("g")
    d = vm.domid
    r = host.xenstore.read
    assert [x.state for x in vm.devices] == ["absent", "absent"]
    assert (
        r(f"/local/domain/{d}/device/vbd/51712/state"),
        r(f"/local/domain/0/backend/vbd/{d}/51712/state"),
    ) == (
        "5",
        "5",
    )
    assert (r(f"/local/domain/{d}/device/vif/0/state"), r(f"/local/domain/0/backend/vif/{d}/0/state")) == (
        "6",
        "6",
    )
    assert r(f"/local/domain/{d}/error/device/vbd/51712/error") == "28 allocating event channel"
    assert guest_view(vm) == type(guest_view(vm))([], [])
    host.check_invariants()


def test_a_hot_plug_the_toolstack_took_back_is_gone_from_the_guest() -> None:
    import pytest

    from evtchn.toolstack import DeviceError

    host = _host("xen-4.17", 8)  # store, console, two disks, the NIC's pair: 2 left, one more NIC's worth
    vm = host.start_vm("g")
    assert guest_view(vm).interfaces == ["eth0"]
    host.plug_device("g", NicSpec(devid=1))
    with pytest.raises(DeviceError):
        host.plug_device("g", NicSpec(devid=2))
    nic2 = vm.device("vif", 2)
    assert nic2 is not None and nic2.state == "failed" and not nic2.guest_ports  # detached again
    assert guest_view(vm).interfaces == ["eth0", "eth1"]
    host.check_invariants()
