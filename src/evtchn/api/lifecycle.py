"""VM power operations through the toolstack, with xapi's errors (xen-api: ocaml/xapi/xapi_vm.ml).

Every operation runs in one store transaction: the toolstack binds or frees event channels, and on a failure
the transaction is dropped, so the host is exactly as before (a failed resume or migrate leaves the VM where
it was, nothing leaks).

Suspend, resume and localhost migration use the toolstack's own calls when it has them (`suspend_vm`,
`resume_vm`, `migrate_vm`, `pause_vm`). Until then they are composed from the calls it has, with the same
event-channel effect: suspend tears the domain down (every port on both sides released) and the VM shows
Suspended; resume starts it again, binding everything, so it fails exactly like a start; a localhost
migration builds a second domain with the VM's devices while the first still holds its ports (so a short dom0
refuses it), then the first is torn down and the VM runs on the new domain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evtchn.api import overlay
from evtchn.api.coerce import as_bool
from evtchn.api.errors import ApiFailure
from evtchn.api.service import Service
from evtchn.api.world import SUSPENDED
from evtchn.store.rows import VmRow
from evtchn.store.sqlite import Txn
from evtchn.toolstack.errors import BadPowerState, NoSuchVm, StartError, ToolstackError
from evtchn.toolstack.host import Host


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


def _bad_power(row: VmRow, expected: list[str], actual: str) -> ApiFailure:
    return ApiFailure("VM_BAD_POWER_STATE", row.ref, ", ".join(expected), actual.lower())


def _suspended(tx: Txn[Host], row: VmRow) -> bool:
    return row.power_state == "Halted" and bool((overlay.get(tx.conn, row.ref) or {}).get(SUSPENDED))


def _set_suspended(tx: Txn[Host], row: VmRow, value: bool) -> None:
    overlay.update(tx.conn, row.ref, "VM", **{SUSPENDED: value})


def run(svc: Service, ref: Any, op: str, *args: Any) -> str:
    """One power operation on a VM; `args` as the XenAPI call has them after the VM."""
    with svc.txn() as tx:
        row = vm_row(svc, ref, tx, op)
        h = tx.host
        suspended = _suspended(tx, row)
        if suspended and op not in ("resume", "hard_shutdown"):
            raise _bad_power(row, _EXPECTED.get(op, ["halted"]), "suspended")
        try:
            _OPS[op](tx, h, row, suspended, *args)
        except BadPowerState as e:
            raise _bad_power(row, e.expected, e.actual) from None
        except StartError as e:  # raised inside the transaction: nothing of the operation is kept
            raise start_failure(e, row) from None
        except NoSuchVm:
            raise ApiFailure("HANDLE_INVALID", "VM", ref) from None
        except ToolstackError as e:
            raise ApiFailure("INTERNAL_ERROR", e.message) from None
    return ""


_EXPECTED = {"start": ["halted"], "resume": ["suspended"]}


def _start(tx: Txn[Host], h: Host, row: VmRow, suspended: bool, start_paused: Any, force: Any) -> None:
    paused = as_bool(start_paused, "start_paused")
    as_bool(force, "force")
    h.start_vm(row.name, paused=paused)


def _shutdown(tx: Txn[Host], h: Host, row: VmRow, suspended: bool) -> None:
    h.shutdown_vm(row.name)


def _hard_shutdown(tx: Txn[Host], h: Host, row: VmRow, suspended: bool) -> None:
    if suspended:  # a suspended VM's image is discarded: it becomes Halted
        _set_suspended(tx, row, False)
        return
    h.destroy_vm(row.name)


def _reboot(tx: Txn[Host], h: Host, row: VmRow, suspended: bool) -> None:
    h.reboot_vm(row.name)


def _unpause(tx: Txn[Host], h: Host, row: VmRow, suspended: bool) -> None:
    h.unpause_vm(row.name)


def _pause(tx: Txn[Host], h: Host, row: VmRow, suspended: bool) -> None:
    pause: Callable[[str], object] | None = getattr(h, "pause_vm", None)
    if pause is None:
        raise ApiFailure("OPERATION_NOT_ALLOWED", "this toolstack cannot pause a VM")
    pause(row.name)


def _suspend(tx: Txn[Host], h: Host, row: VmRow, suspended: bool) -> None:
    own: Callable[[str], object] | None = getattr(h, "suspend_vm", None)
    if own is not None:
        own(row.name)
        return
    if row.power_state != "Running":
        raise BadPowerState(row.name, ["running"], row.power_state)
    h.shutdown_vm(row.name)  # the domain goes; every port on both sides is released
    _set_suspended(tx, row, True)


def _resume(tx: Txn[Host], h: Host, row: VmRow, suspended: bool, start_paused: Any, force: Any) -> None:
    paused = as_bool(start_paused, "start_paused")
    as_bool(force, "force")
    own: Callable[..., object] | None = getattr(h, "resume_vm", None)
    if own is not None:
        own(row.name, paused=paused)
        return
    if not suspended:
        raise BadPowerState(row.name, ["suspended"], row.power_state)
    h.start_vm(row.name, paused=paused)  # binds everything again: fails exactly like a start
    _set_suspended(tx, row, False)


def _pool_migrate(tx: Txn[Host], h: Host, row: VmRow, suspended: bool, host: Any, options: Any) -> None:
    if host != tx.host_meta()["host_ref"]:
        raise ApiFailure("HANDLE_INVALID", "host", host)
    own: Callable[[str], object] | None = getattr(h, "migrate_vm", None)
    if own is not None:
        own(row.name)
        return
    vm = h.vm(row.name)
    if vm.power_state != "Running":
        raise BadPowerState(row.name, ["running"], vm.power_state)
    # the receiving domain: the VM's devices bound while the sending one still holds its ports
    twin = vm.spec.model_copy(update={"name": _twin_name(h, row.name)})
    h.define_vm(twin)
    received = h.start_vm(twin.name)
    failed = next((d for d in received.devices if d.error or d.frontend_error), None)
    if failed is not None:  # the receiving side's devices could not connect: the migration fails
        raise ApiFailure("INTERNAL_ERROR", f"xenopsd internal error: {failed.error or failed.frontend_error}")
    h.shutdown_vm(twin.name)
    h.remove_vm(twin.name)
    h.reboot_vm(row.name)  # the VM now runs on a fresh domain, as after the switch-over


def _twin_name(h: Host, name: str) -> str:
    n = 0
    while f"{name[:56]}.mig{n}" in h.vms:
        n += 1
    return f"{name[:56]}.mig{n}"


_OPS: dict[str, Callable[..., None]] = {
    "start": _start, "clean_shutdown": _shutdown, "hard_shutdown": _hard_shutdown, "shutdown": _shutdown,
    "clean_reboot": _reboot, "hard_reboot": _reboot, "unpause": _unpause, "pause": _pause,
    "suspend": _suspend, "resume": _resume, "pool_migrate": _pool_migrate,
}  # fmt: skip
ARGS: dict[str, list[str]] = {
    "start": ["vm", "start_paused", "force"], "resume": ["vm", "start_paused", "force"],
    "pool_migrate": ["vm", "host", "options"],
}  # fmt: skip
