"""The profile model: every plumbing setting and failure text a host profile holds, validated on load.

    Profile.model_validate(data)         # what get_profile() does with a file after `base:` merging
    KernelFlavour(name="…", per_vcpu=["virq:0", "ipi:resched"])   # a kernel's binds, as data
    Failure(message="…{errno}…")         # a start-time failure's text and XenAPI error

The built-in profiles are data in profile_data.py; profiles.py loads them by name or from a file.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from evtchn.toolstack import bounds as B
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
    # vCPU 0's own order when it differs (a permutation of per_vcpu + smp_only; the smp_only entries drop
    # out on a 1-vCPU domain). Linux ≥ 4.12 binds the PV spinlock IPI on CPU 0 in smp_prepare_cpus, before
    # xen_smp_intr_init(0), but on the others from the cpuhp "online" step, after the per-CPU IPIs.
    boot_order: list[str] | None = None
    global_virqs: list[int] = Field(default_factory=list)  # dom0 only (console, pcpu, mcelog)
    fifo: bool = False  # tries EVTCHNOP_init_control at boot (reference §12)
    blkfront_max_queues: int = Field(default=1, ge=1, le=B.BACKEND_QUEUES.hi)  # capped at the guest's vCPUs
    netfront_max_queues: int = Field(default=1, ge=1, le=B.BACKEND_QUEUES.hi)  # capped at the guest's vCPUs
    netfront_split: bool = False
    netfront_ctrl_ring: bool = False  # uses netback's control ring (hash/mapping configuration)
    # Where the kernel's IRQ core puts a newly bound non-per-CPU channel (interdomain, PIRQ, global VIRQ,
    # /dev/xen/evtchn ports): "cpu0" (Linux < 5.11: the affinity mask is forced to CPU 0) or "least_loaded"
    # (Linux >= 5.11, commit 93b6adbf0420 "xen/events: Implement irq distribution": select_target_cpu()
    # picks the online CPU with the fewest channels, then EVTCHNOP_bind_vcpu). kernel.target_vcpu().
    irq_affinity: Literal["cpu0", "least_loaded"] = "cpu0"
    # The guest's grant table as its frontends take from it (devices/xenbus.py grant()): the first ref
    # its allocator hands out (the ones below are the toolstack's, console 0 and xenstore 1), and the
    # buffer refs netfront reserves per queue, tx then rx, before it grants that queue's two rings.
    grant_first_free: int = Field(default=8, ge=0)
    netfront_tx_grants: int = Field(default=0, ge=0)
    netfront_rx_grants: int = Field(default=0, ge=0)
    # Its frontends answer a backend's Closing by going Closed (Linux: xenbus_frontend_closed() from
    # blkfront's blkback_changed / netfront's netback_changed); the backend then goes Closed too.
    frontend_closes: bool = False
    # BUG_ON text when a per-vCPU bind fails (linux: drivers/xen/events/events_base.c).
    bug_line: str = "kernel BUG at drivers/xen/events/events_base.c! RIP: {function}"
    # The source line of each binder's BUG for this kernel version ({line} in bug_line), by function.
    bug_lines: dict[str, int] = Field(default_factory=dict)

    @field_validator("per_vcpu", "smp_only")
    @classmethod
    def _binds(cls, v: list[str]) -> list[str]:
        for b in v:
            if not _BIND.match(b):
                raise ValueError(f"bind {b!r} is neither 'virq:<number>' nor 'ipi:<name>'")
            if b.startswith("virq:") and int(b[5:]) >= NR_VIRQS:
                raise ValueError(f"bind {b!r}: VIRQs are numbered 0..{NR_VIRQS - 1}")
        return v

    @model_validator(mode="after")
    def _boot_order(self) -> KernelFlavour:
        if self.boot_order is not None and sorted(self.boot_order) != sorted(self.per_vcpu + self.smp_only):
            raise ValueError("boot_order must list exactly the per_vcpu and smp_only binds, reordered")
        return self

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
        return _template(v, function="bind_virq_to_irq", vcpu=0, bind="virq:0", line=0)


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
    # The toolstack destroys the half-built domain, but a dom0 daemon still maps one of its pages, so Xen
    # cannot finish: the domain stays dying (`(null)` `--p--d` in xl list), keeping its domid.
    leaves_dying: bool = False

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
    # xenstore: directories the toolstack makes under /local/domain/<domid> when it creates the domain,
    # and whether it leaves the backends' /local/domain/0/error/backend/... nodes after unplug/destroy.
    domain_dirs: list[str] = Field(default_factory=list)
    keep_backend_errors: bool = False
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
