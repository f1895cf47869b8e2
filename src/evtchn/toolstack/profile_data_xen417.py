"""The `xen-4.17` profile: Debian 12's Xen 4.17 with its Linux 6.1 dom0 and guests, xl/libxl and oxenstored.

    BUILTIN_PROFILES["xen-4.17"].dom0_kernel.boot_order   # spinlock IPI second on CPU 0, last elsewhere

Every text below was read in that version's source (xen: RELEASE-4.17.5; linux: v6.1); the sources dict
says where. `xen-xl` stays the profile for current Xen. dom0's 2-level variant (`xen.fifo_events=0` on the
dom0 kernel command line) is the shipped file examples/profiles/xen-4.17-2level.yaml (docs/fidelity.md).
"""

from __future__ import annotations

from evtchn.toolstack.profile_model import XL_ORDER, Failure, KernelFlavour, Profile

# Where a kernel puts a new non-per-CPU channel (KernelFlavour.irq_affinity), as read in Linux.
IRQ_SPREAD_SOURCE = (
    "; new interdomain/PIRQ/global-VIRQ channels go to the least-loaded online vCPU (linux >= 5.11: commit "
    "93b6adbf0420 'xen/events: Implement irq distribution', events_base.c select_target_cpu)"
)
IRQ_CPU0_SOURCE = (
    "; its channels stay on vCPU 0 (linux < 5.11: xen_irq_init forced the affinity to CPU 0, so evtchn.c's "
    "round robin, removed by commit 26599cd34323, could only pick CPU 0)"
)

# linux v6.1: CPU 0 binds its timer VIRQ at time_init (arch/x86/xen/time.c xen_time_init), then the PV
# spinlock IPI (arch/x86/xen/smp_pv.c xen_pv_smp_prepare_cpus: xen_init_lock_cpu(0) before
# xen_smp_intr_init(0)), then resched, callfunc, [debug under 2-level], callfuncsingle (arch/x86/xen/smp.c
# xen_smp_intr_init) and the PV irq_work IPI (smp_pv.c xen_smp_intr_init_pv). Other CPUs bind timer and
# IPIs from the cpuhp "prepare" step (enlighten_pv.c xen_cpu_up_prepare_pv) and the spinlock IPI from the
# "online" step (enlighten.c xen_cpu_up_online), i.e. last. xen_init_spinlocks() turns PV spinlocks off
# on a 1-CPU domain (arch/x86/xen/spinlock.c), hence smp_only.
# A guest whose own table has no port left for a per-CPU bind dies in the binder (linux 6.1.166,
# drivers/xen/events/events_base.c): bind_virq_to_irq gets -ENOSPC, which is not -EEXIST, so
# BUG_ON(ret < 0) at line 1399; bind_ipi_to_irq's EVTCHNOP_bind_ipi failure is BUG() at line 1282.
# "kernel BUG at %s:%u!" is lib/bug.c report_bug()'s text. The line moves between 6.1 point releases
# (Debian 12 ships 6.1.1xx); 6.1.166 as read (unifreq/linux-6.1.y 525d1212a).
LINUX61_BUG = "kernel BUG at drivers/xen/events/events_base.c:{line}! RIP: {function}"
LINUX61_BUG_LINES = {"bind_virq_to_irq": 1399, "bind_ipi_to_irq": 1282}
_FIFO_PER_CPU = ["virq:0", "ipi:resched", "ipi:callfunc", "ipi:callfuncsingle"]
LINUX61_PV_DOM0 = KernelFlavour(
    name="Linux 6.1 PV dom0 (Debian 12, FIFO)",
    per_vcpu=[*_FIFO_PER_CPU, "ipi:irqwork"],
    smp_only=["ipi:spinlock"],
    boot_order=["virq:0", "ipi:spinlock", "ipi:resched", "ipi:callfunc", "ipi:callfuncsingle", "ipi:irqwork"],
    global_virqs=[2, 9, 16],
    fifo=True,
    irq_affinity="least_loaded",
)
LINUX61_PV_GUEST = KernelFlavour(
    name="Linux 6.1 PV guest (Debian 12, FIFO)",
    per_vcpu=[*_FIFO_PER_CPU, "ipi:irqwork"],
    smp_only=["ipi:spinlock"],
    boot_order=["virq:0", "ipi:spinlock", "ipi:resched", "ipi:callfunc", "ipi:callfuncsingle", "ipi:irqwork"],
    fifo=True,
    irq_affinity="least_loaded",
    blkfront_max_queues=4,
    netfront_max_queues=8,
    netfront_split=True,
    # linux v6.1 drivers/net/xen-netfront.c xennet_init_queue: NET_TX_RING_SIZE and NET_RX_RING_SIZE (256
    # each) buffer refs per queue before setup_netfront grants the tx and rx rings; v6.1 has the 5.19
    # allocator (drivers/xen/grant-table.c gnttab_set_free), refs from GNTTAB_NR_RESERVED_ENTRIES = 8 up.
    netfront_tx_grants=256,
    netfront_rx_grants=256,
    frontend_closes=True,  # blkfront_closing / netback_changed -> xenbus_frontend_closed()
    bug_line=LINUX61_BUG,
    bug_lines=LINUX61_BUG_LINES,
)
# HVM/PVH Linux: arch/x86/xen/smp_hvm.c xen_hvm_smp_prepare_cpus calls xen_smp_intr_init(0) *before*
# xen_init_lock_cpu(0), so the spinlock IPI is last on every CPU there; no irq_work IPI outside PV.
LINUX61_HVM_GUEST = LINUX61_PV_GUEST.model_copy(
    update={
        "name": "Linux 6.1 HVM/PVH guest with PV drivers (Debian 12, FIFO)",
        "per_vcpu": list(_FIFO_PER_CPU),
        "boot_order": None,
    }
)

_LIBXL_417 = "xen RELEASE-4.17.5 tools/libs/light/"
# LOG(ERROR, "%s: timed out", xswa->what) with what = "domain %d console tty" (libxl_create.c:1948, 1974).
XL417_CONSOLE = (
    "libxl: error: libxl_create.c:1974:console_xswait_callback: domain {domid} console tty: timed out"
)
# LOGD(ERROR, domid, "device model did not start: %d", ret): libxl_internal.c:239 prefixes "Domain %d:".
XL417_DM = (
    "libxl: error: libxl_create.c:1894:domcreate_devmodel_started: "
    "Domain {domid}:device model did not start: -3"
)
XL_CREATE_FAILED_EXIT = 3  # xl_vmcontrol.c:1258-1261 returns -rc; ERROR_FAIL is -3 (libxl_types.idl:49)

XEN_417 = Profile(
    name="xen-4.17",
    description="Debian 12: Xen 4.17 + Linux 6.1 dom0 and guests (FIFO), xl/libxl, oxenstored; guests capped "
    "at 1023; libxl's 4.17 messages",
    toolstack="xl",
    xen_version=(4, 17),
    dom0_width=64,
    dom0_kernel=LINUX61_PV_DOM0,
    guest_max_evtchn_port=1023,
    pv_guest_kernel=LINUX61_PV_GUEST,
    hvm_guest_kernel=LINUX61_HVM_GUEST,
    pvh_guest_kernel=LINUX61_HVM_GUEST,
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
    store_failure=Failure(message=XL417_CONSOLE, leaves_dying=True),
    console_failure=Failure(message=XL417_CONSOLE),
    dm_failure=Failure(message=XL417_DM),
    guest_alloc_failure=Failure(message=XL417_CONSOLE),
    vbd_error="{errno} mapping ring-ref port {port}",
    vif_error="{errno} mapping shared-frames {tx_ref}/{rx_ref} port tx {tx} rx {rx}",
    device_error_display="{text}",
    domain_dirs=["device", "control", "data", "drivers", "feature", "attr", "error"],
    keep_backend_errors=True,
    sources={
        "toolstack": "xl/libxl 4.17 (Debian 12 xen-utils-4.17), oxenstored (reference §8.2, §8.3a)",
        "xen_version": "Xen 4.17.5 as observed (reference §8.3a)",
        "dom0_kernel": "linux v6.1: FIFO (reference §12); per-CPU binds and the boot CPU's order: "
        "arch/x86/xen/smp_pv.c xen_pv_smp_prepare_cpus, smp.c xen_smp_intr_init, enlighten.c "
        "xen_cpu_up_online, time.c xen_time_init; globals VIRQ_CONSOLE (hvc_xen), PCPU_STATE, MCA. "
        "xen.fifo_events=0 on dom0's command line (events_base.c module_param fifo_events) gives a 2-level "
        "dom0 that also binds VIRQ_DEBUG per vCPU (smp.c: 'if (!xen_fifo_events)'): "
        "examples/profiles/xen-4.17-2level.yaml" + IRQ_SPREAD_SOURCE,
        "guest_max_evtchn_port": "libxl default max_event_channels 1023 (reference §1, §8.2)",
        "pv_guest_kernel": "linux v6.1 PV guest: as dom0's CPU binds; blkfront 4 queues, netfront "
        "min(8, vCPUs) split (reference §7.2)" + IRQ_SPREAD_SOURCE,
        "hvm_guest_kernel": "linux v6.1 HVM guest: arch/x86/xen/smp_hvm.c binds the spinlock IPI after "
        "xen_smp_intr_init(0) on CPU 0 as on the others; no PV irq_work IPI",
        "pvh_guest_kernel": "a PVH guest takes the HVM SMP path (arch/x86/xen/enlighten_pvh.c)",
        "start_order": _LIBXL_417 + "libxl_create.c:1885-1898 domcreate_devmodel_started then "
        "domcreate_attach_devices: the device model before disks and NICs",
        "console_hvm": "libxl adds console 0 for HVM too (reference §8.2)",
        "console_pv": "libxl console 0 (reference §8.2)",
        "console_pvh": "libxl console 0 (reference §8.2)",
        "xenconsoled_log_hv": "xenconsoled default --log=none (reference §6, §8.3)",
        "hvm_cdrom_pv": "linux: xen-blkfront ignores CD-ROMs in HVM guests",
        "vbd_backend": "blkback, one port per ring; multi-queue (reference §7.2)",
        "blkback_max_queues": "blkback multi-queue-max-queues default: dom0 CPUs (reference §7.2)",
        "netback_split": "netback feature-split-event-channels default 1 (reference §7.2)",
        "netback_max_queues": "netback multi-queue-max-queues default: dom0 CPUs (reference §7.2)",
        "netback_ctrl_ring": "netback offers feature-ctrl-ring; Linux netfront does not use it (§7.2)",
        "dm_ports_per_vcpu": "ioreq: one per vCPU (reference §7.1)",
        "dm_bufioreq": "plus buffered ioreq (reference §7.1)",
        "ioreq_at_domain_create": "ioreq server created by qemu at start (reference §7.1)",
        "store_failure": _LIBXL_417 + "libxl_dom.c:502 ignores xs_introduce_domain()'s result; xl create "
        "then times out on the console tty, libxl_create.c:1974 (reference §8.3a). domcreate_complete() "
        "then destroys the domain (libxl__domain_destroy, domcreate_destruction_cb), but oxenstored mapped "
        "the store ring before its bind_interdomain failed and keeps that mapping for a domain it never "
        "introduced (it only unmaps domains in its table on @releaseDomain) [UNCERTAIN: the holder is our "
        "reading], so Xen cannot free the domain: it stays '(null)' '--p--d' in xl list keeping its "
        "domid, as observed on 4.17.5 (issue 12); xenconsoled's mapping goes on @releaseDomain "
        "(tools/console/daemon/io.c cleanup_domain), so a console bind failure leaves no zombie",
        "console_failure": _LIBXL_417 + "libxl_create.c:1974 console_xswait_callback (reference §8.3a)",
        "dm_failure": _LIBXL_417 + "libxl_create.c:1894 domcreate_devmodel_started (LOGD: 'Domain %d:')",
        "guest_alloc_failure": _LIBXL_417 + "libxl_dom.c:376-377 does not check xc_evtchn_alloc_unbound(), "
        "so the failure surfaces as the console tty timeout (libxl_create.c:1974)",
        "vbd_error": "linux v6.1 drivers/block/xen-blkback/xenbus.c 'mapping ring-ref port %u' (§8.3)",
        "vif_error": "linux v6.1 drivers/net/xen-netback/xenbus.c 'mapping shared-frames %lu/%lu port tx %u "
        "rx %u' (reference §8.3)",
        "vif_ctrl_error": "linux v6.1 xen-netback connect_ctrl_ring 'mapping shared-frame %u port %u'",
        "domain_dirs": _LIBXL_417 + "libxl_create.c:826-881 libxl__domain_make: xs_mknod of device, "
        "control, data, drivers, feature, attr and error under /local/domain/<domid>",
        "keep_backend_errors": _LIBXL_417 + "libxl_device.c removes a device's backend and frontend paths "
        "but never /local/domain/0/error/...: the kernel backend's xenbus_dev_fatal nodes stay "
        "(observed on 4.17.5, issue 12)",
        "device_error_display": "the backend's xenbus_dev_fatal text as-is (reference §8.3a)",
        "frontend_alloc_error": "linux v6.1 drivers/xen/xenbus/xenbus_client.c xenbus_alloc_evtchn()",
    },
)
