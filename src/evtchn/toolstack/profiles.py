"""Host profiles: every plumbing setting and failure text as data, each value with its source.

    p = get_profile("xenserver-6.2")
    p = get_profile("my-host.yaml")      # a user's file; `base: xenserver-6.2` inherits and overrides
    p.sources["dm_bufioreq"]             # where that value comes from

Nothing in the toolstack branches on a profile's name: the Host, the device table in costs.py and the
components read these fields (reference §7, §8, §10, §12, §13).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from evtchn.toolstack import bounds as B
from evtchn.toolstack._loading import read_mapping, validate_model
from evtchn.toolstack.errors import ProfileError
from evtchn.toolstack.safe_load import exists
from evtchn.xen.constants import NR_VIRQS

_BIND = re.compile(r"^(virq:\d+|ipi:[a-z_]+)$")


def _template(template: str, /, **fields: object) -> str:
    """Check a failure text against the placeholders the toolstack fills in, so that a profile file with
    a typo is refused when it loads (naming the field), not when dom0 first runs out."""
    try:
        template.format(**fields)
    except KeyError as e:
        known = ", ".join("{" + k + "}" for k in fields)
        raise ValueError(f"{template!r}: unknown placeholder {{{e.args[0]}}} (known: {known})") from None
    except IndexError:
        raise ValueError(f"{template!r}: positional placeholders are not filled in; use a name") from None
    except ValueError as e:
        raise ValueError(f"{template!r}: {e}") from None
    return template


# Example values of the placeholders each template gets (the types the toolstack passes).
_FAILURE_FIELDS: dict[str, object] = {
    "vm": "uuid",
    "name": "vm",
    "uuid": "uuid",
    "domid": 1,
    "errno": 28,
    "errname": "ENOSPC",
    "strerror": "No space left on device",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KernelFlavour(_Model):
    """What a kernel binds by itself and how its PV frontends negotiate (linux: arch/x86/xen/smp*.c)."""

    name: str
    # Per vCPU, in bind order: "virq:<n>" or "ipi:<name>"; `smp_only` binds happen only with >1 vCPU.
    per_vcpu: list[str] = Field(default_factory=list)
    smp_only: list[str] = Field(default_factory=list)
    global_virqs: list[int] = Field(default_factory=list)  # dom0 only (console, pcpu, mcelog)
    fifo: bool = False  # tries EVTCHNOP_init_control at boot (reference §12)
    blkfront_max_queues: int = Field(default=1, ge=1, le=B.BACKEND_QUEUES.hi)  # capped at the guest's vCPUs
    netfront_max_queues: int = Field(default=1, ge=1, le=B.BACKEND_QUEUES.hi)  # capped at the guest's vCPUs
    netfront_split: bool = False
    netfront_ctrl_ring: bool = False  # uses netback's control ring (hash/mapping configuration)
    # BUG_ON text when a per-vCPU bind fails (linux: drivers/xen/events/events_base.c).
    bug_line: str = "kernel BUG at drivers/xen/events/events_base.c! RIP: {function}"

    @field_validator("per_vcpu", "smp_only")
    @classmethod
    def _binds(cls, v: list[str]) -> list[str]:
        for b in v:
            if not _BIND.match(b):
                raise ValueError(f"bind {b!r} is neither 'virq:<number>' nor 'ipi:<name>'")
            if b.startswith("virq:") and int(b[5:]) >= NR_VIRQS:
                raise ValueError(f"bind {b!r}: VIRQs are numbered 0..{NR_VIRQS - 1}")
        return v

    @field_validator("global_virqs")
    @classmethod
    def _virqs(cls, v: list[int]) -> list[int]:
        for n in v:
            if not 0 <= n < NR_VIRQS:
                raise ValueError(f"VIRQ {n}: VIRQs are numbered 0..{NR_VIRQS - 1}")
        return v

    @field_validator("bug_line")
    @classmethod
    def _bug_line(cls, v: str) -> str:
        return _template(v, function="bind_virq_to_irq", vcpu=0, bind="virq:0")


StartOp = Literal["xenstored_introduce", "xenconsoled_bind", "VBD_plug", "VIF_plug", "VM_create_device_model"]
XENOPSD_ORDER: tuple[StartOp, ...] = (
    "xenstored_introduce",
    "xenconsoled_bind",
    "VBD_plug",
    "VIF_plug",
    "VM_create_device_model",
)
XL_ORDER: tuple[StartOp, ...] = (
    "xenstored_introduce",
    "xenconsoled_bind",
    "VM_create_device_model",
    "VBD_plug",
    "VIF_plug",
)


class Failure(_Model):
    """How a start-time failure surfaces: the one-line message and the XenAPI error it maps to.

    Templates may use {vm} {uuid} {domid} {errno} {errname} {strerror}.
    """

    message: str
    xenapi_code: str = "INTERNAL_ERROR"
    xenapi_params: list[str] = Field(default_factory=lambda: ["{message}"])

    @field_validator("message")
    @classmethod
    def _message(cls, v: str) -> str:
        return _template(v, **_FAILURE_FIELDS)

    @field_validator("xenapi_params")
    @classmethod
    def _params(cls, v: list[str]) -> list[str]:
        return [_template(p, message="message", **_FAILURE_FIELDS) for p in v]


class Profile(_Model):
    name: str
    description: str
    toolstack: Literal["xenopsd", "xl"]
    xen_version: tuple[int, int]
    # dom0
    dom0_width: Literal[32, 64]
    dom0_max_evtchns: int | None = None  # None: the 2L ABI's width²; 6.2's special case sets 4096
    dom0_kernel: KernelFlavour
    xenconsoled_log_hv: bool = False  # binds VIRQ_CON_RING
    # guests
    guest_width: Literal[32, 64] = 64
    guest_max_evtchn_port: int = Field(default=-1, ge=-1, le=B.PORT.hi)  # -1: no cap (xenopsd); libxl 1023
    pv_guest_kernel: KernelFlavour
    hvm_guest_kernel: KernelFlavour  # the PV drivers inside an HVM guest
    pvh_guest_kernel: KernelFlavour | None = None  # None: the PV guest's
    hvm_cdrom_pv: bool = False
    console_pv: bool = True
    console_hvm: bool = False
    console_pvh: bool = True
    # backends
    vbd_backend: Literal["blkback", "tapdisk"] = "blkback"
    blkback_max_queues: int | None = Field(default=1, ge=1, le=B.BACKEND_QUEUES.hi)  # None: dom0's vCPUs
    netback_split: bool = False
    netback_ctrl_ring: bool = False  # advertises feature-ctrl-ring (Linux 4.8+)
    netback_max_queues: int | None = Field(default=1, ge=1, le=B.BACKEND_QUEUES.hi)  # None: dom0's vCPUs
    # device model
    dm_ports_per_vcpu: int = Field(default=1, ge=0, le=B.VCPUS.hi)
    dm_bufioreq: bool = False
    ioreq_at_domain_create: bool = False  # Xen ≤ 4.3 allocated ioreq ports at vCPU init
    ca140252_workaround: bool = False
    # The micro-ops after VM_create and VM_build, in the toolstack's order (reference §8.1; libxl spawns
    # the device model before attaching disks and NICs).
    start_order: list[StartOp] = Field(default_factory=lambda: list(XENOPSD_ORDER))
    # failure texts
    store_failure: Failure
    console_failure: Failure
    dm_failure: Failure
    guest_alloc_failure: Failure  # the toolstack's own alloc_unbound in the guest (store, console, ioreq)
    vbd_error: str  # what the block backend writes to its error node; {errno} {port} {ring_ref}
    vif_error: str  # netback; {errno} {tx_ref} {rx_ref} {tx} {rx}
    vif_ctrl_error: str = "{errno} mapping shared-frame {ring_ref} port {port}"
    device_error_display: str = "{text}"  # how the toolstack shows a device error against the VM
    frontend_alloc_error: str = "{errno} allocating event channel"
    sources: dict[str, str] = Field(default_factory=dict)

    @field_validator("vbd_error")
    @classmethod
    def _vbd_error(cls, v: str) -> str:
        return _template(v, errno=28, port=1, ring_ref="8")

    @field_validator("vif_error")
    @classmethod
    def _vif_error(cls, v: str) -> str:
        return _template(v, errno=28, tx_ref="8", rx_ref="9", tx=1, rx=2)

    @field_validator("vif_ctrl_error")
    @classmethod
    def _vif_ctrl_error(cls, v: str) -> str:
        return _template(v, errno=28, ring_ref="8", port="1")

    @field_validator("device_error_display")
    @classmethod
    def _device_error_display(cls, v: str) -> str:
        return _template(v, text="28 mapping ring-refs and evtchn")

    @field_validator("frontend_alloc_error")
    @classmethod
    def _frontend_alloc_error(cls, v: str) -> str:
        return _template(v, errno=28)

    @model_validator(mode="after")
    def _check(self) -> Profile:
        if sorted(self.start_order) != sorted(XENOPSD_ORDER):
            raise ValueError(f"start_order must order exactly {', '.join(XENOPSD_ORDER)}")
        if self.dom0_max_evtchns is not None and self.dom0_max_evtchns not in (1024, 4096):
            raise ValueError("dom0_max_evtchns must be 1024 or 4096 (a 2-level ABI word size squared)")
        return self

    @property
    def dom0_abi_limit(self) -> int:
        """max_evtchns(dom0): FIFO 131072, else the 2L limit (6.2's special case included)."""
        if self.dom0_kernel.fifo and self.xen_version >= (4, 4):
            return 131072
        return self.dom0_max_evtchns or self.dom0_width * self.dom0_width

    def guest_kernel(self, vm_type: str) -> KernelFlavour:
        if vm_type == "hvm":
            return self.hvm_guest_kernel
        if vm_type == "pvh" and self.pvh_guest_kernel is not None:
            return self.pvh_guest_kernel
        return self.pv_guest_kernel

    def console_for(self, vm_type: str) -> bool:
        return {"pv": self.console_pv, "hvm": self.console_hvm, "pvh": self.console_pvh}[vm_type]


# ------------------------------------------------------------------ kernel flavours

_TIMER, _DEBUG = "virq:0", "virq:1"
_LINUX_2L = [_TIMER, "ipi:resched", "ipi:callfunc", _DEBUG, "ipi:callfuncsingle"]
_LINUX_FIFO = [_TIMER, "ipi:resched", "ipi:callfunc", "ipi:callfuncsingle"]

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
)
XS6_LINUX_PV = KernelFlavour(
    name="2.6.32-era Linux PV guest",
    per_vcpu=_LINUX_2L,
    smp_only=["ipi:spinlock"],
)
XS65_LINUX_PV = KernelFlavour(
    name="3.10-era Linux PV guest",
    per_vcpu=[*_LINUX_2L, "ipi:irqwork"],
    smp_only=["ipi:spinlock"],
    netfront_split=True,
    netfront_max_queues=1,
)
MODERN_LINUX_PV = KernelFlavour(
    name="Linux 6.1 PV/PVH guest (FIFO)",
    per_vcpu=[*_LINUX_FIFO, "ipi:irqwork"],
    smp_only=["ipi:spinlock"],
    fifo=True,
    blkfront_max_queues=4,
    netfront_max_queues=8,
    netfront_split=True,
)
MODERN_LINUX_HVM = KernelFlavour(
    name="Linux 6.1 HVM guest with PV drivers (FIFO)",
    per_vcpu=_LINUX_FIFO,
    smp_only=["ipi:spinlock"],
    fifo=True,
    blkfront_max_queues=4,
    netfront_max_queues=8,
    netfront_split=True,
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
        "pv_guest_kernel": "the seed's PV guest binds VIRQ 0, IPI, IPI, VIRQ 1, IPI on vCPU 0 (§10)",
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
        "pv_guest_kernel": "3.10-era Linux guest: 2L, split netfront (reference §7.2)",
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
        "dom0_kernel": "4.19 PV dom0 initialises FIFO (reference §12); debug VIRQ only under 2L (§6)",
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
        "dom0_kernel": "Linux 6.1 PV dom0 with FIFO (reference §8.3a, §12)",
        "guest_max_evtchn_port": "libxl default max_event_channels 1023 (reference §1, §8.2)",
        "pv_guest_kernel": "Linux 6.1 guests (reference §8.3a); blkfront 4 queues, netfront min(8, vCPUs) "
        "(reference §7.2)",
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
    p.name: p for p in (XENSERVER_61, XENSERVER_62, XENSERVER_65, XENSERVER_8, XEN_XL)
}
DEFAULT_PROFILE = "xenserver-6.2"


def get_profile(name_or_path: str) -> Profile:
    """A built-in profile by name, or a YAML/TOML/JSON file (optionally `base: <built-in>` + overrides)."""
    if name_or_path in BUILTIN_PROFILES:
        return BUILTIN_PROFILES[name_or_path]
    p = Path(name_or_path)
    if not exists(p):
        known = ", ".join(BUILTIN_PROFILES)
        raise ProfileError(f"{name_or_path}: no such profile file or built-in profile (built-in: {known})")
    data = read_mapping(p, "profile")
    base_name = data.pop("base", None)
    if base_name is not None:
        if not isinstance(base_name, str):
            known = ", ".join(BUILTIN_PROFILES)
            raise ProfileError(f"{p}: field base: expected the name of a built-in profile ({known})")
        if base_name not in BUILTIN_PROFILES:
            raise ProfileError(f"{p}: field base: unknown built-in profile {base_name!r}")
        merged = BUILTIN_PROFILES[base_name].model_dump()
        own_sources = data.pop("sources", None) or {}
        if not isinstance(own_sources, dict):
            raise ProfileError(f"{p}: field sources: expected a mapping of field → source")
        sources = dict(merged.get("sources", {}))
        for key in data:
            sources[key] = str(own_sources.get(key, p))
        sources.update({str(k): str(v) for k, v in own_sources.items()})
        data = _deep_merge(merged, data)
        data["sources"] = sources
    data.setdefault("name", p.stem)
    return validate_model(Profile, data, str(p))


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
