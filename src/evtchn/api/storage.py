"""The local SR and its VDIs (xen-api: ocaml/xapi/xapi_vdi.ml, xapi_sr.ml): VDI.create and VDI.destroy with
the SR's free-space accounting. A VDI that does not fit is SR_FULL [requested; maximum] (bytes), as the SM
backends report it; a VDI attached to a running VM cannot be destroyed (VDI_IN_USE [vdi; operation])."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from evtchn.api import overlay
from evtchn.api.coerce import as_int, as_record, as_str
from evtchn.api.errors import ApiFailure
from evtchn.api.service import Service
from evtchn.store.sqlite import Txn
from evtchn.toolstack.host import Host

_KEPT = (
    "name_label", "name_description", "type", "sharable", "read_only", "other_config", "sm_config", "tags",
)  # fmt: skip


def _sr_space(svc: Service, tx: Txn[Host]) -> tuple[int, int]:
    """(used, physical size) of the local SR, counting VDIs created earlier in this transaction."""
    sr = next(iter(svc.world().objects["SR"].values()))
    used = sum(
        int(f.get("virtual_size", 0))
        for _, (cls, f) in overlay.read_all(tx.conn).items()
        if cls == "VDI" and not f.get(overlay.DELETED)
    )
    return used, int(sr["physical_size"])


def new_vdi(svc: Service, tx: Txn[Host], rec: dict[str, Any]) -> str:
    """Create one VDI on the local SR inside `tx`; its ref."""
    size = as_int(rec.get("virtual_size", 0), "virtual_size")
    if size < 0:
        raise ApiFailure("INVALID_VALUE", "virtual_size", str(size))
    used, physical = _sr_space(svc, tx)
    if used + size > physical:
        raise ApiFailure("SR_FULL", str(size), str(physical - used))
    ref = f"OpaqueRef:{uuidlib.uuid4()}"
    fields = {k: rec[k] for k in _KEPT if k in rec}
    vdi_uuid = str(uuidlib.uuid4())
    fields.update(uuid=vdi_uuid, virtual_size=size, location=vdi_uuid)
    overlay.put(tx.conn, ref, "VDI", fields)
    return ref


def vdi_create(svc: Service, record: Any) -> str:
    rec = as_record(record)
    sr = rec.get("SR")
    if not isinstance(sr, str) or sr not in svc.world().objects["SR"]:
        raise ApiFailure("HANDLE_INVALID", "SR", sr)
    as_str(rec.get("name_label", ""), "name_label")
    with svc.txn() as tx:
        return new_vdi(svc, tx, rec)


def vdi_destroy(svc: Service, ref: Any) -> str:
    w = svc.world()
    vdi = w.objects["VDI"].get(ref) if isinstance(ref, str) else None
    if vdi is None:
        raise ApiFailure("HANDLE_INVALID", "VDI", ref)
    for vbd in vdi["VBDs"]:
        vm = w.objects["VM"][w.objects["VBD"][vbd]["VM"]]
        if vm["power_state"] != "Halted":
            raise ApiFailure("VDI_IN_USE", ref, "destroy")
    with svc.txn() as tx:
        overlay.delete(tx.conn, ref)
        for vbd in vdi["VBDs"]:  # the VBDs stay, empty of a disk image (as after a forget)
            overlay.update(tx.conn, vbd, "VBD", VDI="OpaqueRef:NULL")
    return ""
