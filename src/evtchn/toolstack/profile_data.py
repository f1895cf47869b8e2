"""The built-in host profiles as data: kernel flavours, failure texts, and each value's source.

    BUILTIN_PROFILES["xenserver-6.2"].sources["dm_bufioreq"]    # where that value comes from

Nothing in the toolstack branches on a profile's name: the device modules and costs.py read these fields
(reference §7, §8, §10, §12, §13).
"""

from __future__ import annotations

from typing import Any

from evtchn.toolstack.profile_data_bugs import LINUX_310_BUG, LINUX_2632_BUG
from evtchn.toolstack.profile_data_xen417 import (
    IRQ_CPU0_SOURCE,
    IRQ_SPREAD_SOURCE,
    LINUX61_BUG,
    LINUX61_BUG_LINES,
    XEN_417,
)
from evtchn.toolstack.profile_model import XL_ORDER, Failure, KernelFlavour, Profile

# ------------------------------------------------------------------ kernel flavours

_TIMER, _DEBUG = "virq:0", "virq:1"
_LINUX_2L = [_TIMER, "ipi:resched", "ipi:callfunc", _DEBUG, "ipi:callfuncsingle"]
_LINUX_FIFO = [_TIMER, "ipi:resched", "ipi:callfunc", "ipi:callfuncsingle"]

# Linux netfront reserves a ring's worth of grant refs per queue for its tx and rx buffers before it
# grants the queue's rings (drivers/net/xen-netfront.c xennet_init_queue: gnttab_alloc_grant_references(
# NET_TX_RING_SIZE / NET_RX_RING_SIZE), called from xennet_create_queues for every queue before
# talk_to_netback's setup_netfront loop). Both ring sizes are __CONST_RING_SIZE(xen_netif_{tx,rx}, 4096)
# = 256 (include/xen/interface/io/netif.h: 4032 bytes of slots, 12- and 8-byte unions, rounded down to
# a power of two). Refs below 8 are the toolstack's (include/xen/interface/grant_table.h
# GNTTAB_NR_RESERVED_ENTRIES 8, GNTTAB_RESERVED_CONSOLE 0, GNTTAB_RESERVED_XENSTORE 1), so a fresh
# guest's allocator hands out 8, 9, …; Linux >= 5.19 appends the entries of a grown table at the tail
# of the free list (gnttab_set_free), so they stay in order.
# [UNCERTAIN] Older kernels (the 2.6.32 / 3.10 guests below) put a grown table's entries at the head
# (grow_gnttab_list before 5.19); refs past their first 512-entry frame are not modelled that way.
NET_TX_RING_SIZE = NET_RX_RING_SIZE = 256

XS6_DOM0 = KernelFlavour(
    name="xenserver-6 dom0 (2.6.32, 32-bit PV)",
    per_vcpu=[*_LINUX_2L, "ipi:spinlock"],
    global_virqs=[2],
)
XS65_DOM0 = KernelFlavour(
    name="xenserver-6.5 dom0 (3.10, 64-bit PV)",
    per_vcpu=[*_LINUX_2L, "ipi:spinlock", "ipi:irqwork"],
    global_virqs=[2, 9, 16],
)
XS8_DOM0 = KernelFlavour(
    name="xenserver-8 dom0 (4.19, PV, FIFO)",
    per_vcpu=[*_LINUX_FIFO, "ipi:spinlock", "ipi:irqwork"],
    global_virqs=[2, 9, 16],
    fifo=True,
)
UPSTREAM_DOM0 = KernelFlavour(
    name="Linux 6.1 PV dom0 (FIFO)",
    per_vcpu=[*_LINUX_FIFO, "ipi:spinlock", "ipi:irqwork"],
    global_virqs=[2, 9, 16],
    fifo=True,
    irq_affinity="least_loaded",
)
XS6_LINUX_PV = KernelFlavour(
    netfront_tx_grants=NET_TX_RING_SIZE,
    netfront_rx_grants=NET_RX_RING_SIZE,
    frontend_closes=True,
    name="2.6.32-era Linux PV guest",
    per_vcpu=_LINUX_2L,
    smp_only=["ipi:spinlock"],
    bug_line=LINUX_2632_BUG.template,  # read in v2.6.32 (profile_data_bugs)
    bug_lines=LINUX_2632_BUG.lines,
)
XS65_LINUX_PV = KernelFlavour(
    netfront_tx_grants=NET_TX_RING_SIZE,
    netfront_rx_grants=NET_RX_RING_SIZE,
    frontend_closes=True,
    name="3.10-era Linux PV guest",
    per_vcpu=[*_LINUX_2L, "ipi:irqwork"],
    smp_only=["ipi:spinlock"],
    netfront_split=True,
    netfront_max_queues=1,
    bug_line=LINUX_310_BUG.template,  # read in 3.10.17 (profile_data_bugs)
    bug_lines=LINUX_310_BUG.lines,
)
MODERN_LINUX_PV = KernelFlavour(
    netfront_tx_grants=NET_TX_RING_SIZE,
    netfront_rx_grants=NET_RX_RING_SIZE,
    frontend_closes=True,
    name="Linux 6.1 PV/PVH guest (FIFO)",
    per_vcpu=[*_LINUX_FIFO, "ipi:irqwork"],
    smp_only=["ipi:spinlock"],
    fifo=True,
    irq_affinity="least_loaded",
    blkfront_max_queues=4,
    netfront_max_queues=8,
    netfront_split=True,
    bug_line=LINUX61_BUG,  # the kernel's own BUG line, read in 6.1.166 (profile_data_xen417)
    bug_lines=LINUX61_BUG_LINES,
)
MODERN_LINUX_HVM = KernelFlavour(
    netfront_tx_grants=NET_TX_RING_SIZE,
    netfront_rx_grants=NET_RX_RING_SIZE,
    frontend_closes=True,
    name="Linux 6.1 HVM guest with PV drivers (FIFO)",
    per_vcpu=_LINUX_FIFO,
    smp_only=["ipi:spinlock"],
    fifo=True,
    irq_affinity="least_loaded",
    blkfront_max_queues=4,
    netfront_max_queues=8,
    netfront_split=True,
    bug_line=LINUX61_BUG,  # the kernel's own BUG line, read in 6.1.166 (profile_data_xen417)
    bug_lines=LINUX61_BUG_LINES,
)
XS_WINDOWS_LEGACY = KernelFlavour(name="XenServer 6.x Windows PV drivers (xennet/xenvbd)")
XS_WINDOWS_8 = KernelFlavour(
    name="XenServer 8 Windows PV drivers (xenvif/xenvbd)",
    netfront_split=True,
    netfront_max_queues=8,
)

# ------------------------------------------------------------------ failure texts

_IOEMU_XS6 = 'xenopsd internal error: Device.Ioemu_failed("qemu-dm exited unexpectedly")'
_XS_STORE = 'xenopsd internal error: Xs_protocol.Error("{errname}")'
_XS_XENCTRL = 'xenopsd internal error: Xenctrl.Error("{errno}: {strerror}")'
_XS_CONSOLE = _XS_XENCTRL
_XL_ALLOC = "libxl: error: libxl_dom.c: Domain {domid}:xc_evtchn_alloc_unbound failed: {strerror}"
_XS_RING = "{errno} mapping ring-refs and evtchn"
_XL_CONSOLE = (
    "libxl: error: libxl_create.c:1982:console_xswait_callback: domain {domid} console tty: timed out"
)
_XL_DM = (
    "libxl: error: libxl_create.c:1867:domcreate_devmodel_started: "
    "Domain {domid}:device model did not start: -3"
)

_XS_SOURCES = {
    "toolstack": "reference §8.1 (xenopsd micro-ops)",
    "guest_max_evtchn_port": "xen-api: ocaml/xenopsd/xc/domain.ml, max_evtchn_port = -1 (reference §1)",
    "console_hvm": "CA-73960 removed the HVM console to save a dom0 port (reference §7.3, §13.6)",
    "console_pv": "6.2 blog: 'for PV guests one for the console daemon' (reference §10)",
    "console_pvh": "xenopsd writes console keys for PV, HVM and PVH (reference §7.2)",
    "xenconsoled_log_hv": "xenconsoled default --log=none; VIRQ_CON_RING only with --log=hv (§6, §8.3)",
    "hvm_cdrom_pv": "linux: drivers/block/xen-blkfront.c ignores CD-ROM VBDs in HVM guests; XenServer "
    "Windows xenvbd likewise leaves the CD emulated (reference §7.1: emulated devices use no channels)",
    "store_failure": "[UNCERTAIN] reference §8.3: xenstored returns the errno name in its error reply and "
    "xenopsd reports any exception as 'xenopsd internal error: <Printexc>'; the OCaml xenstore client "
    "raises Xs_protocol.Error with that name",
    "console_failure": "[UNCERTAIN] xenconsoled's bind fails in its own process; modelled as xenopsd's "
    "console wait failing with the errno it sees, Xenctrl.Error('%d: %s') style (reference §8.3)",
    "vbd_error": "6.2 blog quotes 'error 28 mapping ring-refs and evtchn' (reference §10, §8.3 [UNCERTAIN "
    "origin])",
    "vif_error": "the 6.2 blog's text applied to VIFs too (reference §10; XenServer's netback text is "
    "[UNCERTAIN])",
    "device_error_display": "6.2 blog: 'error 28 mapping ring-refs and evtchn' (reference §10)",
    "frontend_alloc_error": "linux: drivers/xen/xenbus/xenbus_client.c xenbus_alloc_evtchn() (§8.3a)",
    "guest_alloc_failure": "xenctrl raises Xenctrl.Error('%d: %s') (errno, strerror), reported as "
    "'xenopsd internal error: <Printexc>' (reference §8.3)",
    "start_order": "xenopsd VM.start: VBDs, then VIFs, then the device model (reference §8.1)",
    "netback_ctrl_ring": "off: whether XenServer's Windows xenvif uses the control ring is [UNCERTAIN] "
    "(reference §7.2, §13.7)",
    "ca140252_workaround": "xen-api: ocaml/xenopsd/lib/xenopsd.ml, default false (reference §8.1)",
}

_XS6_COMMON: dict[str, Any] = {
    "toolstack": "xenopsd",
    "dom0_width": 32,
    "dom0_kernel": XS6_DOM0,
    "pv_guest_kernel": XS6_LINUX_PV,
    "hvm_guest_kernel": XS_WINDOWS_LEGACY,
    "console_hvm": False,
    "vbd_backend": "blkback",
    "blkback_max_queues": 1,
    "netback_split": False,
    "netback_max_queues": 1,
    "ioreq_at_domain_create": True,
    "store_failure": Failure(message=_XS_STORE),
    "console_failure": Failure(message=_XS_CONSOLE),
    "dm_failure": Failure(message=_IOEMU_XS6),
    "guest_alloc_failure": Failure(message=_XS_XENCTRL),
    "vbd_error": _XS_RING,
    "vif_error": _XS_RING,
    "device_error_display": "error {text}",
}

XENSERVER_61 = Profile(
    name="xenserver-6.1",
    description="XenServer 6.1: 32-bit dom0, 2-level ABI, 1024 dom0 channels; HVM device model 1 port/vCPU",
    xen_version=(4, 1),
    dm_ports_per_vcpu=1,
    dm_bufioreq=False,
    **_XS6_COMMON,
    sources={
        **_XS_SOURCES,
        "xen_version": "XenServer 6.1 shipped Xen 4.1.3 (reference §10 [UNCERTAIN])",
        "dom0_width": "'XenServer uses a 32-bit dom0 / 1,024 dom0 event channels' (reference §10)",
        "dom0_max_evtchns": "2L limit of a 32-bit domain: 32² = 1024 (reference §1)",
        "dom0_kernel": "2.6.32 PV dom0: timer, resched, callfunc, debug, callfuncsingle, spinlock per vCPU; "
        "hvc VIRQ_CONSOLE (linux: arch/x86/xen/smp.c, time.c, spinlock.c; reference §7.3)",
        "pv_guest_kernel": "the seed's PV guest binds VIRQ 0, IPI, IPI, VIRQ 1, IPI on vCPU 0 (§10); its "
        "BUG line: " + LINUX_2632_BUG.source,
        "hvm_guest_kernel": "XenServer 6.x Windows PV drivers: one ring per VBD, one channel per VIF "
        "(6.2 blog, reference §10)",
        "vbd_backend": "blkback, one ring per VBD ('one per virtual disk', reference §10)",
        "netback_split": "2.6.32 netback has no split channels ('one per VIF', reference §10)",
        "dm_ports_per_vcpu": "'for HVM guests one per vCPU' before 6.2 (reference §10)",
        "dm_bufioreq": "no buffered-ioreq channel before Xen 4.2 (reference §7.1)",
        "ioreq_at_domain_create": "Xen 4.1 hvm_vcpu_initialise() allocates the ioreq port per vCPU "
        "(reference §7.1, §8.4 CA-140252 background)",
        "dm_failure": "6.2 blog quotes 'xenopsd internal error: Device.Ioemu_failed(\"qemu-dm exited "
        "unexpectedly\")' (reference §10); xen-api: ocaml/xenopsd/xc/device.ml (2013) raises it",
    },
)

XENSERVER_62 = Profile(
    name="xenserver-6.2",
    description="XenServer 6.2: as 6.1 but dom0 special-cased to 4096 channels; HVM 2 ports per vCPU",
    xen_version=(4, 1),
    dom0_max_evtchns=4096,
    dm_ports_per_vcpu=1,
    dm_bufioreq=True,
    **_XS6_COMMON,
    sources={
        **XENSERVER_61.sources,
        "xen_version": "XenServer 6.2 is believed to be Xen 4.1.x (reference §10 [UNCERTAIN])",
        "dom0_max_evtchns": "6.2 blog: dom0 special-cased to 4096 (reference §10; how a 32-bit dom0 got "
        "4096 is [UNCERTAIN], §13.2: modelled as a 64-bit 2L word for dom0 only)",
        "dm_ports_per_vcpu": "'rising to two in XenServer 6.2' read as one per vCPU + buffered ioreq "
        "(reference §13.1; agrees with the 6→7 example for 1 vCPU)",
        "dm_bufioreq": "the buffered-ioreq port (HVM_PARAM_BUFIOREQ_EVTCHN, reference §7.1, §13.1)",
    },
)

XENSERVER_65 = Profile(
    name="xenserver-6.5",
    description="XenServer 6.5 (Creedence): 64-bit dom0, 4096 2L channels, tapdisk3 VBDs",
    toolstack="xenopsd",
    xen_version=(4, 4),
    dom0_width=64,
    dom0_kernel=XS65_DOM0,
    pv_guest_kernel=XS65_LINUX_PV,
    hvm_guest_kernel=XS_WINDOWS_LEGACY,
    console_hvm=False,
    vbd_backend="tapdisk",
    blkback_max_queues=1,
    netback_split=True,
    netback_max_queues=1,
    dm_ports_per_vcpu=1,
    dm_bufioreq=True,
    ioreq_at_domain_create=False,
    store_failure=Failure(message=_XS_STORE),
    console_failure=Failure(message=_XS_CONSOLE),
    dm_failure=Failure(message=_IOEMU_XS6),
    guest_alloc_failure=Failure(message=_XS_XENCTRL),
    vbd_error=_XS_RING,
    vif_error=_XS_RING,
    device_error_display="error {text}",
    sources={
        **_XS_SOURCES,
        "xen_version": "XenServer 6.5 is believed to be Xen 4.4 (reference §10 [UNCERTAIN])",
        "dom0_width": "6.5: 64-bit dom0, 4096 2L ports natively (reference §10)",
        "dom0_kernel": "3.10-based dom0: no FIFO (Linux FIFO support from 3.14, reference §5, §10)",
        "pv_guest_kernel": "3.10-era Linux guest: 2L, split netfront (reference §7.2); its BUG line: "
        + LINUX_310_BUG.source,
        "hvm_guest_kernel": "Windows PV drivers of the 6.5 era: one channel per VIF [UNCERTAIN] (§13.7)",
        "vbd_backend": "tapdisk3 ('vbd3', XenServer 6.5+): one port, no multi-queue (reference §7.2)",
        "netback_split": "netback separate_tx_rx_irq defaults true from Linux 3.10 (reference §7.2)",
        "netback_max_queues": "3.10 netback predates multi-queue (reference §7.2)",
        "dm_ports_per_vcpu": "ioreq: one per vCPU (reference §7.1)",
        "dm_bufioreq": "plus the buffered-ioreq port (reference §7.1)",
        "ioreq_at_domain_create": "Xen 4.4 ioreq servers allocate at device-model start (CA-140252, §8.4)",
        "dm_failure": "xenopsd raised Ioemu_failed 'qemu-dm exited unexpectedly' before CA-120586 (2016)",
    },
)

XENSERVER_8 = Profile(
    name="xenserver-8",
    description="XenServer 8 / XCP-ng 8: FIFO dom0 (131071 ports), tapdisk3, split VIFs",
    toolstack="xenopsd",
    xen_version=(4, 17),
    dom0_width=64,
    dom0_kernel=XS8_DOM0,
    pv_guest_kernel=MODERN_LINUX_PV,
    hvm_guest_kernel=XS_WINDOWS_8,
    console_hvm=False,
    vbd_backend="tapdisk",
    blkback_max_queues=1,
    netback_split=True,
    netback_max_queues=None,
    dm_ports_per_vcpu=1,
    dm_bufioreq=True,
    ioreq_at_domain_create=False,
    store_failure=Failure(message=_XS_STORE),
    console_failure=Failure(message=_XS_CONSOLE),
    dm_failure=Failure(
        message="An emulator required to run this VM failed to start: qemu-dm: Daemon exited unexpectedly",
        xenapi_code="FAILED_TO_START_EMULATOR",
        xenapi_params=["{vm}", "qemu-dm", "Daemon exited unexpectedly"],
    ),
    guest_alloc_failure=Failure(message=_XS_XENCTRL),
    vbd_error=_XS_RING,
    vif_error=_XS_RING,
    device_error_display="error {text}",
    sources={
        **_XS_SOURCES,
        "xen_version": "XenServer 8 ships Xen 4.17 (XCP-ng 8.2: 4.13)",
        "dom0_kernel": "4.19 PV dom0 initialises FIFO (reference §12); debug VIRQ only under 2L (§6)"
        + IRQ_CPU0_SOURCE,
        "pv_guest_kernel": "modern Linux: FIFO, blkfront 4 queues, netfront min(8, vCPUs) split (§7.2)",
        "hvm_guest_kernel": "XenServer Windows xenvif supports split channels (reference §7.2); queue count "
        "[UNCERTAIN] (§13.7), modelled as min(8, vCPUs)",
        "vbd_backend": "tapdisk3 one port per VBD (reference §7.2)",
        "netback_split": "netback separate_tx_rx_irq default true (reference §7.2)",
        "netback_max_queues": "netback multi-queue-max-queues = dom0 CPUs (reference §7.2)",
        "dm_ports_per_vcpu": "ioreq one per vCPU (reference §7.1)",
        "dm_bufioreq": "plus buffered ioreq (reference §7.1)",
        "ioreq_at_domain_create": "ioreq server ports are allocated when qemu creates its server (§8.4)",
        "dm_failure": 'xen-api: ocaml/xenopsd/xc/device.ml wait_path raises Ioemu_failed ("qemu-dm", "Daemon '
        'exited unexpectedly") when qemu dies while starting; xapi_xenops maps it to '
        "FAILED_TO_START_EMULATOR [vm; name; msg] (CA-120586, reference §8.3); message: the error's doc text",
    },
)

XEN_XL = Profile(
    name="xen-xl",
    description="Upstream Xen with xl/libxl: FIFO everywhere, guests capped at 1023, HVM console, "
    "split and multi-queue VIFs, multi-queue blkback",
    toolstack="xl",
    xen_version=(4, 22),
    dom0_width=64,
    dom0_kernel=UPSTREAM_DOM0,
    guest_max_evtchn_port=1023,
    pv_guest_kernel=MODERN_LINUX_PV,
    hvm_guest_kernel=MODERN_LINUX_HVM,
    pvh_guest_kernel=MODERN_LINUX_HVM,
    start_order=list(XL_ORDER),
    console_hvm=True,
    vbd_backend="blkback",
    blkback_max_queues=None,
    netback_split=True,
    netback_max_queues=None,
    netback_ctrl_ring=True,
    dm_ports_per_vcpu=1,
    dm_bufioreq=True,
    ioreq_at_domain_create=False,
    store_failure=Failure(message=_XL_CONSOLE),
    console_failure=Failure(message=_XL_CONSOLE),
    dm_failure=Failure(message=_XL_DM),
    guest_alloc_failure=Failure(message=_XL_ALLOC),
    vbd_error="{errno} mapping ring-ref port {port}",
    vif_error="{errno} mapping shared-frames {tx_ref}/{rx_ref} port tx {tx} rx {rx}",
    device_error_display="{text}",
    sources={
        "toolstack": "xl/libxl (reference §8.2)",
        "xen_version": "current Xen (reference preamble: HEAD after 4.22)",
        "dom0_kernel": "Linux 6.1 PV dom0 with FIFO (reference §8.3a, §12)" + IRQ_SPREAD_SOURCE,
        "guest_max_evtchn_port": "libxl default max_event_channels 1023 (reference §1, §8.2)",
        "pv_guest_kernel": "Linux 6.1 guests (reference §8.3a); blkfront 4 queues, netfront min(8, vCPUs) "
        "(reference §7.2)" + IRQ_SPREAD_SOURCE,
        "hvm_guest_kernel": "Linux HVM guest with PV drivers (reference §7.1, §8.3a)",
        "pvh_guest_kernel": "a PVH Linux guest takes the HVM SMP path: no PV-only irq_work IPI "
        "(linux: arch/x86/xen/enlighten_pvh.c, smp_hvm.c)",
        "start_order": "libxl: store/console at build, device model spawned before disks and NICs are "
        "attached (xen: tools/libs/light/libxl_create.c domcreate_launch_dm, domcreate_attach_devices)",
        "console_hvm": "libxl adds console 0 for HVM too (reference §8.2)",
        "console_pv": "libxl console 0 (reference §8.2)",
        "console_pvh": "libxl console 0 (reference §8.2)",
        "xenconsoled_log_hv": "xenconsoled default --log=none (reference §6, §8.3)",
        "hvm_cdrom_pv": "linux: xen-blkfront ignores CD-ROMs in HVM guests",
        "vbd_backend": "blkback, one port per ring; multi-queue (reference §7.2)",
        "blkback_max_queues": "blkback multi-queue-max-queues default: dom0 CPUs (reference §7.2)",
        "netback_split": "netback feature-split-event-channels default 1 (reference §7.2)",
        "netback_max_queues": "netback multi-queue-max-queues default: dom0 CPUs (reference §7.2)",
        "dm_ports_per_vcpu": "ioreq: one per vCPU (reference §7.1)",
        "dm_bufioreq": "plus buffered ioreq (reference §7.1)",
        "ioreq_at_domain_create": "ioreq server created by qemu at start (reference §7.1)",
        "store_failure": "xl create times out waiting for the console tty (reference §8.3a)",
        "console_failure": "same: xenconsoled never writes console/tty (reference §8.3a)",
        "guest_alloc_failure": "libxl logs the failed xc_evtchn_alloc_unbound [exact text UNCERTAIN]",
        "dm_failure": "libxl reports the device model start failure (xen: tools/libs/light/libxl_create.c) "
        "[line number UNCERTAIN]",
        "vbd_error": "linux: xen-blkback 'mapping ring-ref port %u' via xenbus_dev_fatal (reference §8.3)",
        "vif_error": "linux: xen-netback 'mapping shared-frames %lu/%lu port tx %u rx %u' (reference §8.3)",
        "device_error_display": "the backend's xenbus_dev_fatal text as-is (reference §8.3a)",
        "frontend_alloc_error": "linux: xenbus_alloc_evtchn() (reference §8.3a)",
        "netback_ctrl_ring": "netback offers feature-ctrl-ring, but Linux netfront does not use it "
        "(linux: drivers/net/xen-netback/xenbus.c, xen-netfront.c; reference §7.2)",
        "vif_ctrl_error": "linux: xen-netback connect_ctrl_ring 'mapping shared-frame %u port %u'",
    },
)

BUILTIN_PROFILES: dict[str, Profile] = {
    p.name: p for p in (XENSERVER_61, XENSERVER_62, XENSERVER_65, XENSERVER_8, XEN_XL, XEN_417)
}
DEFAULT_PROFILE = "xenserver-6.2"
