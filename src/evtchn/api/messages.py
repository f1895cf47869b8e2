"""xapi-style `message` objects for the host's refusals (xen-api: ocaml/xapi/xapi_message.ml, the record
{uuid, name, priority, cls, obj_uuid, timestamp, body}).

    vm_refused(svc, row, "start", error)          # after the failed transaction was dropped
    device_failed(svc, "VBD", vm_row, device_uuid, text)

A message is a generic object in the host file (the store's `objects` table, class "message"), so every
process sees it and its creation is an `add` event in the same commit. xapi's own message table
(api_messages.ml) has VM_STARTED, VM_SUSPENDED, VBD_QOS_FAILED, ... but no name for a refused start or
hot-plug; these use VM_START_FAILED, VM_RESUME_FAILED, VM_MIGRATE_FAILED, VBD_PLUG_FAILED and
VIF_PLUG_FAILED, with priority 3 as xapi gives its *_QOS_FAILED warnings.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from evtchn.api.errors import ApiFailure

if TYPE_CHECKING:
    from evtchn.api.service import Service
    from evtchn.store.rows import VmRow
    from evtchn.toolstack.errors import StartError

PRIORITY = 3  # xapi: the *_QOS_FAILED messages' priority (api_messages.ml)
FIELDS = ["uuid", "name", "priority", "cls", "obj_uuid", "timestamp", "body"]


def record(name: str, cls: str, obj_uuid: str, body: str) -> dict[str, Any]:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H:%M:%SZ")
    return {"name": name, "priority": PRIORITY, "cls": cls, "obj_uuid": obj_uuid, "timestamp": stamp,
            "body": body}  # fmt: skip


def _post(svc: Service, rec: dict[str, Any]) -> None:
    try:
        with svc.txn() as tx:
            tx.put_object("message", rec, name_label=rec["name"])
    except ApiFailure:  # the host file stayed busy: the caller's own error is what matters
        pass


def vm_refused(svc: Service, row: VmRow, op: str, error: StartError) -> None:
    """A start / resume / migration the host refused: VM_<OP>_FAILED with the toolstack's one line."""
    name = {"resume": "VM_RESUME_FAILED", "pool_migrate": "VM_MIGRATE_FAILED"}.get(op, "VM_START_FAILED")
    _post(svc, record(name, "VM", row.uuid, f"{row.name}: {error.message}"))


def device_failed(svc: Service, cls: str, vm: VmRow, device_uuid: str, text: str) -> None:
    """A hot-plug whose backend (or frontend) failed: VBD_PLUG_FAILED / VIF_PLUG_FAILED on the device."""
    _post(svc, record(f"{cls}_PLUG_FAILED", cls, device_uuid, f"{vm.name}: {text}"))


def world_records(rows: list[Any]) -> dict[str, dict[str, Any]]:
    """ref -> message record, from the store's `message` objects (ObjectRow: ref, cls, uuid, ..., record)."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        rec = {k: r.record.get(k, "") for k in FIELDS}
        rec["uuid"] = r.uuid
        rec["priority"] = int(r.record.get("priority", PRIORITY))
        out[r.ref] = rec
    return out
