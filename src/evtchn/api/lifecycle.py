"""VM power operations through the toolstack, with xapi's errors (xen-api: ocaml/xapi/xapi_vm.ml).

Every operation runs in one store transaction and is the toolstack's own call (`start_vm`, `pause_vm`,
`suspend_vm`, `resume_vm`, `reboot_vm`, `migrate_vm`, ...), so it binds or frees event channels exactly as
the toolstack does; on a failure the transaction is dropped and the host is exactly as before (a failed
resume leaves the VM Suspended, a failed localhost migration leaves it running on its old domain).

A start, resume or migration the host refuses also leaves a xapi-style `message` (api/messages.py),
committed on its own after the failed operation was dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evtchn.api import messages
from evtchn.api.coerce import as_bool
from evtchn.api.crash_action import check_start
from evtchn.api.errors import ApiFailure
from evtchn.api.service import Service
from evtchn.store.rows import VmRow
from evtchn.store.sqlite import Txn
from evtchn.toolstack.errors import AmbiguousVm, BadPowerState, NoSuchVm, StartError, ToolstackError
from evtchn.toolstack.host import Host
from evtchn.toolstack.records import HALTED, SUSPENDED


def start_failure(e: StartError, row: VmRow) -> ApiFailure:
    """The toolstack's XenAPI error, with its VM parameter (the uuid) given as the VM ref, as xapi does."""
    return ApiFailure(e.xenapi_code, *[row.ref if p == row.uuid else p for p in e.xenapi_params])


def vm_row(svc: Service, ref: Any, tx: Txn[Host], op: str = "start") -> VmRow:
    """The toolstack VM behind a ref; a template or dom0 is refused as xapi refuses it."""
    row = tx.vm(ref=ref) if isinstance(ref, str) else None
    if row is not None:
        return row
    rec = svc.world().objects["VM"].get(ref) if isinstance(ref, str) else None
    if rec is not None and rec["is_control_domain"]:
        raise ApiFailure("OPERATION_NOT_ALLOWED", "Operations on domain 0 are not allowed")
    if rec is not None and rec["is_a_template"]:
        raise ApiFailure("VM_IS_TEMPLATE", ref, op)
    raise ApiFailure("HANDLE_INVALID", "VM", ref)


def run(svc: Service, ref: Any, op: str, *args: Any) -> str:
    """One power operation on a VM; `args` as the XenAPI call has them after the VM."""
    refused: tuple[StartError, VmRow] | None = None
    try:
        with svc.txn() as tx:
            row = vm_row(svc, ref, tx, op)
            try:
                _OPS[op](tx, row, *args)
            except BadPowerState as e:
                raise ApiFailure("VM_BAD_POWER_STATE", row.ref, ", ".join(e.expected), e.actual) from None
            except StartError as e:  # raised inside the transaction: nothing of the operation is kept
                refused = (e, row)
                raise start_failure(e, row) from None
            except (NoSuchVm, AmbiguousVm):
                raise ApiFailure("HANDLE_INVALID", "VM", ref) from None
            except ToolstackError as e:
                raise ApiFailure("INTERNAL_ERROR", e.message) from None
    except ApiFailure:
        if refused is not None:
            messages.vm_refused(svc, refused[1], op, refused[0])
        raise
    return ""


def _start(tx: Txn[Host], row: VmRow, start_paused: Any, force: Any) -> None:
    paused = as_bool(start_paused, "start_paused")
    as_bool(force, "force")
    spec = tx.host.vm(row.uuid).spec
    check_start(spec.on_crash, spec.type)  # xapi's assert_can_boot_here (api/crash_action.py)
    tx.host.start_vm(row.uuid, paused=paused)


def _resume(tx: Txn[Host], row: VmRow, start_paused: Any, force: Any) -> None:
    paused = as_bool(start_paused, "start_paused")
    as_bool(force, "force")
    tx.host.resume_vm(row.uuid, paused=paused)


def _hard_shutdown(tx: Txn[Host], row: VmRow) -> None:
    vm = tx.host.vm(row.uuid)
    if vm.power_state == SUSPENDED:  # xapi discards the suspend image: the VM is Halted, nothing to free
        vm.power_state = HALTED
        tx.host.vms.mark(vm)
        return
    tx.host.destroy_vm(row.uuid)


def _pool_migrate(tx: Txn[Host], row: VmRow, host: Any, options: Any) -> None:
    if host != tx.host_meta()["host_ref"]:
        raise ApiFailure("HANDLE_INVALID", "host", host)
    if not isinstance(options, dict):
        raise ApiFailure("FIELD_TYPE_ERROR", "options")
    tx.host.migrate_vm(row.uuid)


_OPS: dict[str, Callable[..., object]] = {
    "start": _start,
    "clean_shutdown": lambda tx, row: tx.host.shutdown_vm(row.uuid),
    "shutdown": lambda tx, row: tx.host.shutdown_vm(row.uuid),
    "hard_shutdown": _hard_shutdown,
    "clean_reboot": lambda tx, row: tx.host.reboot_vm(row.uuid),
    "hard_reboot": lambda tx, row: tx.host.reboot_vm(row.uuid, hard=True),
    "pause": lambda tx, row: tx.host.pause_vm(row.uuid),
    "unpause": lambda tx, row: tx.host.unpause_vm(row.uuid),
    "suspend": lambda tx, row: tx.host.suspend_vm(row.uuid),
    "resume": _resume,
    "pool_migrate": _pool_migrate,
}
ARGS: dict[str, list[str]] = {
    "start": ["vm", "start_paused", "force"], "resume": ["vm", "start_paused", "force"],
    "pool_migrate": ["vm", "host", "options"],
}  # fmt: skip
