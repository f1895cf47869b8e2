"""Grant references as Linux 6.1 frontends take them, in xenstore and in the backends' error messages.

Sources (linux v6.1):
- include/xen/interface/grant_table.h: GNTTAB_NR_RESERVED_ENTRIES 8 (GNTTAB_RESERVED_CONSOLE 0 and
  GNTTAB_RESERVED_XENSTORE 1 are the toolstack's); drivers/xen/grant-table.c (read in 6.1.166):
  gnttab_init() puts 8.. on the free list with
  gnttab_set_free(), a grown table's entries are appended at the tail (since 5.19), and get_free_entries()
  takes from the head, so a fresh guest hands out 8, 9, 10, ... in order.
- drivers/net/xen-netfront.c: xennet_create_queues() runs xennet_init_queue() for every queue, which reserves
  NET_TX_RING_SIZE then NET_RX_RING_SIZE (256 each, __CONST_RING_SIZE on a 4 KiB page) buffer refs with
  gnttab_alloc_grant_references(); only then does talk_to_netback() call setup_netfront() per queue, which
  grants the tx ring, then the rx ring, then allocates the event channel(s).
- drivers/block/xen-blkfront.c: talk_to_blkback() -> setup_blkring() grants the ring (one page by default,
  max_ring_page_order 0) and allocates its channel; blkfront reserves nothing before (its request grants
  come with I/O, after the backend connected).
- drivers/net/xen-netback/xenbus.c connect_data_rings(): "mapping shared-frames %lu/%lu port tx %u rx %u".
"""

from __future__ import annotations

from evtchn.inspect.findings import Message
from evtchn.inspect.readers.messages import classify
from evtchn.toolstack import BUILTIN_PROFILES, DiskSpec, Host, NicSpec, VmSpec
from tests.toolstack.helpers import hardware_leaving, small_dom0

P = BUILTIN_PROFILES["xen-4.17"]
RING = 256  # NET_TX_RING_SIZE == NET_RX_RING_SIZE


def _start(spec: VmSpec, host: Host | None = None) -> tuple[Host, int]:
    host = host or Host.create("xen-4.17")
    host.define_vm(spec)
    vm = host.start_vm(spec.name)
    assert vm.domid is not None
    return host, vm.domid


def test_single_queue_guest_two_disks_one_nic() -> None:
    spec = VmSpec(
        name="g", type="pv", vcpus=1, disks=[DiskSpec(userdevice=0), DiskSpec(userdevice=1)], nics=[NicSpec()]
    )
    host, domid = _start(spec)
    r = host.xenstore.read
    dev = f"/local/domain/{domid}/device"
    assert (r(f"{dev}/vbd/51712/ring-ref"), r(f"{dev}/vbd/51728/ring-ref")) == ("8", "9")
    # netfront: refs 10..265 for tx buffers, 266..521 for rx buffers, then the tx and rx rings.
    assert r(f"{dev}/vif/0/tx-ring-ref") == str(10 + 2 * RING)
    assert r(f"{dev}/vif/0/rx-ring-ref") == str(11 + 2 * RING)
    host.check_invariants()


def test_multi_queue_nic_reserves_for_every_queue_first() -> None:
    spec = VmSpec(name="g", type="pv", vcpus=2, disks=[DiskSpec()], nics=[NicSpec()])
    host, domid = _start(spec)
    r = host.xenstore.read
    dev = f"/local/domain/{domid}/device"
    # blkfront: one ring per queue, min(4, 2 vCPUs) = 2 rings: refs 8, 9.
    assert (r(f"{dev}/vbd/51712/queue-0/ring-ref"), r(f"{dev}/vbd/51712/queue-1/ring-ref")) == ("8", "9")
    first_ring = 10 + 2 * 2 * RING  # both queues' tx and rx buffers: 10..1033
    assert r(f"{dev}/vif/0/multi-queue-num-queues") == "2"
    assert [r(f"{dev}/vif/0/queue-{q}/{k}-ring-ref") for q in (0, 1) for k in ("tx", "rx")] == [
        str(first_ring + i) for i in range(4)
    ]


def test_a_second_nic_follows_the_first_nics_reservations() -> None:
    spec = VmSpec(name="g", type="pv", vcpus=1, nics=[NicSpec(devid=0), NicSpec(devid=1)])
    host, domid = _start(spec)
    r = host.xenstore.read
    assert r(f"/local/domain/{domid}/device/vif/1/tx-ring-ref") == str(8 + 2 * (2 * RING) + 2)


def test_netback_message_carries_the_real_refs() -> None:
    """dom0 with 4 free ports: store, console and the disk's ring take three, the NIC's tx port the last;
    netback fails binding rx and prints the refs netfront wrote."""
    profile = small_dom0(P)
    host = Host.create(profile, hardware_leaving(profile, 4))
    spec = VmSpec(name="g", type="pv", vcpus=1, disks=[DiskSpec()], nics=[NicSpec()])
    host, domid = _start(spec, host)
    vm = host.vm("g")
    vif = vm.device("vif", 0)
    assert vif is not None and vif.state == "failed"
    tx, rx = vif.guest_ports
    text = f"28 mapping shared-frames {9 + 2 * RING}/{10 + 2 * RING} port tx {tx} rx {rx}"
    assert host.xenstore.read(f"/local/domain/0/error/backend/vif/{domid}/0/error") == text
    assert f"vif vif-{domid}-0: {text}" in vm.messages
    # The analyser's message reader still reads the line, numbers and all.
    got = classify(f"vif vif-{domid}-0: {text}")
    assert isinstance(got, Message) and (got.domid, got.device, got.port, got.errno) == (
        domid,
        "vif 0",
        tx,
        28,
    )
    host.check_invariants()


def test_kernels_without_netfront_reservations_keep_their_refs() -> None:
    # Windows PV drivers are not Linux netfront: no reservation data, rings from the first free ref.
    kernel = BUILTIN_PROFILES["xenserver-8"].hvm_guest_kernel
    assert (kernel.netfront_tx_grants, kernel.netfront_rx_grants, kernel.grant_first_free) == (0, 0, 8)
    assert P.pv_guest_kernel.netfront_tx_grants == P.pv_guest_kernel.netfront_rx_grants == RING
