"""What xenstore shows around a domain's life on the xen-4.17 profile, as libxl 4.17 leaves it:
/local/domain/N/error (and libxl's other directories) exist from creation, and a backend's
xenbus_dev_fatal node under /local/domain/0/error/backend/... outlives the domain."""

from __future__ import annotations

from evtchn.toolstack import BUILTIN_PROFILES, DiskSpec, Host, VmSpec
from tests.toolstack.helpers import hardware_leaving, small_dom0

P = BUILTIN_PROFILES["xen-4.17"]


def test_libxl_makes_the_domain_directories_at_creation() -> None:
    # xen RELEASE-4.17.5 tools/libs/light/libxl_create.c:826-881 (libxl__domain_make).
    host = Host.create("xen-4.17")
    host.define_vm(VmSpec(name="g", type="pv"))
    vm = host.start_vm("g", boot=False)
    for sub in ("device", "control", "data", "drivers", "feature", "attr", "error"):
        assert host.xenstore.exists(f"/local/domain/{vm.domid}/{sub}"), sub
    host.check_invariants()


def test_backend_error_node_outlives_the_domain() -> None:
    """dom0 with 3 free ports: store and console take two, the first disk's ring the last; the second
    disk's blkback fails with ENOSPC, writes its error node, and libxl leaves it after destroy."""
    profile = small_dom0(P)
    host = Host.create(profile, hardware_leaving(profile, 3))
    spec = VmSpec(name="g", type="pv", vcpus=1, disks=[DiskSpec(userdevice=0), DiskSpec(userdevice=1)])
    host.define_vm(spec)
    vm = host.start_vm("g")
    domid = vm.domid
    failed = [d for d in vm.devices if d.state == "failed"]
    assert [d.devid for d in failed] == [51728]
    node = f"/local/domain/0/error/backend/vbd/{domid}/51728/error"
    assert host.xenstore.read(node).startswith("28 mapping ring-ref port ")
    host.destroy_vm("g")
    assert not host.xenstore.exists(f"/local/domain/{domid}")
    assert not host.xenstore.exists(f"/local/domain/0/backend/vbd/{domid}")
    assert host.xenstore.read(node).startswith("28 mapping ring-ref port ")  # libxl_device.c never rm's it
    host.check_invariants()


def test_other_profiles_keep_their_behaviour() -> None:
    assert all(
        not p.keep_backend_errors and not p.domain_dirs
        for n, p in BUILTIN_PROFILES.items()
        if n != "xen-4.17"
    )
