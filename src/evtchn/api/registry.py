"""The generic messages of every class, generated from the class's fields (xen-api: every class gets them
from ocaml/idl/datamodel_utils.ml): get_all, get_all_records, get_all_records_where, get_record,
get_by_uuid, get_by_name_label (classes with a name), get_<field>, and for writable fields set_<field>,
add_to_/remove_from_<map>, add_tags/remove_tags.

Writable fields are data: `WRITABLE[cls]` names the fields kept in the overlay. Setters with a toolstack
effect (VCPUs, memory) are registered by the modules that own them and take precedence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evtchn.api import catalog, overlay
from evtchn.api.coerce import as_bool, as_str, as_str_list, as_str_map
from evtchn.api.dispatch import Dispatcher
from evtchn.api.errors import ApiFailure
from evtchn.api.service import Service
from evtchn.api.where import parse_where
from evtchn.api.world import CLASSES, DOM0_NAME

_NAMED = {"VM", "SR", "VDI", "network", "host", "pool", "task"}
_COMMON = {"name_label": "str", "name_description": "str", "other_config": "map", "tags": "list"}
WRITABLE: dict[str, dict[str, str]] = {
    "VM": {**_COMMON, "PV_args": "str", "PV_bootloader": "str", "PV_kernel": "str", "PV_ramdisk": "str",
           "platform": "map", "HVM_boot_params": "map", "HVM_boot_policy": "str", "xenstore_data": "map",
           "actions_after_shutdown": "str", "actions_after_reboot": "str", "actions_after_crash": "str",
           "affinity": "str", "blocked_operations": "map", "VCPUs_params": "map", "is_a_template": "bool"},
    "SR": _COMMON, "VDI": _COMMON, "network": _COMMON,
    "host": {"name_label": "str", "name_description": "str", "other_config": "map", "tags": "list"},
    "pool": {**_COMMON, "default_SR": "str", "suspend_image_SR": "str", "crash_dump_SR": "str"},
    "VBD": {"other_config": "map"}, "VIF": {"other_config": "map"}, "PIF": {"other_config": "map"},
    "task": {"other_config": "map"},
}  # fmt: skip

# Fields of each class as they appear in records: for registering get_<field> before any object exists.
SAMPLE_FIELDS: dict[str, list[str]] = {}


def register_generic(d: Dispatcher, svc: Service, fields: dict[str, list[str]]) -> None:
    for cls in CLASSES:
        pure = cls != "task"  # task records change without a host commit; the answer cache keys on commits

        def get_all(c: str = cls) -> list[str]:
            return list(svc.world().objects[c])

        def get_all_records(c: str = cls) -> dict[str, Any]:
            return dict(svc.world().objects[c])

        def where(expr: Any, c: str = cls) -> dict[str, Any]:
            pred = parse_where(as_str(expr, "expr"))
            return {r: rec for r, rec in svc.world().objects[c].items() if pred(rec)}

        def by_uuid(uuid: Any, c: str = cls) -> str:
            ref = svc.world().by_uuid[c].get(uuid) if isinstance(uuid, str) else None
            if ref is None:
                raise ApiFailure("UUID_INVALID", c, uuid)
            return ref

        d.add(f"{cls}.get_all", get_all, [], pure=pure)
        d.add(f"{cls}.get_all_records", get_all_records, [], pure=pure)
        d.add(f"{cls}.get_all_records_where", where, ["expr"], pure=pure)
        d.add(f"{cls}.get_record", lambda ref, c=cls: svc.record(c, ref), ["self"], pure=pure)
        d.add(f"{cls}.get_by_uuid", by_uuid, ["uuid"], pure=pure)
        if cls in _NAMED:
            named = lambda label, c=cls: by_name(svc, c, label)  # noqa: E731
            d.add(f"{cls}.get_by_name_label", named, ["label"], pure=pure)
        for f in fields.get(cls, []):
            name = f"{cls}.get_{f}"
            if name not in d.methods:
                d.add(name, lambda ref, c=cls, f=f: svc.record(c, ref)[f], ["self"], pure=pure)
        for f, kind in WRITABLE.get(cls, {}).items():
            _register_setters(d, svc, cls, f, kind)


def by_name(svc: Service, cls: str, label: Any) -> list[str]:
    """get_by_name_label. For VMs without building the whole view: the candidates are the VM rows of that
    name and the objects an overlay row renamed to it, each checked against its record; only a label a
    built-in VM (dom0, a template) is born with needs the whole view (a 1 000-VM host's view is ~9 MiB)."""
    if cls == "VM" and isinstance(label, str) and label not in _builtin_vm_names():
        with svc.store.snapshot():
            refs = [r.ref for r in svc.store.vms_by_name(label)]
            refs += [r for r in overlay.refs_named(svc.store._db(), "VM", label) if r not in refs]
            out: list[str] = []
            for ref in refs:
                try:
                    if svc.record("VM", ref)["name_label"] == label:
                        out.append(ref)
                except ApiFailure:  # a built-in VM the user destroyed keeps an overlay row
                    continue
            return out
    return [r for r, rec in svc.world().objects[cls].items() if rec.get("name_label") == label]


def _builtin_vm_names() -> set[str]:
    return {DOM0_NAME, *(t.name_label for t in catalog.TEMPLATES)}


def _register_setters(d: Dispatcher, svc: Service, cls: str, field: str, kind: str) -> None:
    coerce: dict[str, Callable[[Any, str], Any]] = {
        "str": as_str, "map": as_str_map, "list": as_str_list, "bool": as_bool,
    }  # fmt: skip

    def write(ref: Any, change: Callable[[Any], Any]) -> str:
        with svc.txn() as tx:
            rec = svc.record(cls, ref)  # validates the handle against the committed host
            stored = overlay.get(tx.conn, ref) or {}
            value = change(stored.get(field, rec[field]))
            stored[field] = value
            if field == "other_config" and cls == "VM":
                # keys the toolstack view adds (evtchn_*) are derived; a removal of one must stick
                stored["other_config_removed"] = [k for k in rec[field] if k not in value]
            overlay.put(tx.conn, ref, cls, stored)
        return ""

    def setter(ref: Any, value: Any) -> str:
        v = coerce[kind](value, field)
        return write(ref, lambda _old: v)

    if f"{cls}.set_{field}" not in d.methods:
        d.add(f"{cls}.set_{field}", setter, ["self", "value"])
    if kind == "map":

        def add_to(ref: Any, key: Any, value: Any) -> str:
            k, v = as_str(key, "key"), as_str(value, "value")

            def change(old: dict[str, str]) -> dict[str, str]:
                if k in old:
                    raise ApiFailure("MAP_DUPLICATE_KEY", cls, field, svc.record(cls, ref)["uuid"], k)
                return {**old, k: v}

            return write(ref, change)

        def remove_from(ref: Any, key: Any) -> str:
            k = as_str(key, "key")
            return write(ref, lambda old: {a: b for a, b in old.items() if a != k})

        d.add(f"{cls}.add_to_{field}", add_to, ["self", "key", "value"])
        d.add(f"{cls}.remove_from_{field}", remove_from, ["self", "key"])
    if kind == "list" and field == "tags":

        def add_tag(ref: Any, value: Any) -> str:
            tag = as_str(value, "value")
            return write(ref, lambda old: old if tag in old else [*old, tag])

        d.add(f"{cls}.add_tags", add_tag, ["self", "value"])
        d.add(f"{cls}.remove_tags", lambda ref, v: write(ref, lambda old: [t for t in old if t != v]),
              ["self", "value"])  # fmt: skip


