"""The XenAPI this simulator serves (reference §11): every class's generic messages, VM lifecycle, devices,
storage, host and session calls, tasks with `Async.*`, and events.

    service = XapiService(open_store(path))
    service.register(dispatcher)         # adds "VM.start", "Async.VM.start", "event.from", get_<field>, …

Reads come from one view of the host file per change (service.py, world.py); every change is one store
transaction through the toolstack, so the server's threads, and other processes using the same host file,
serialise there.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from evtchn.api import catalog, crash_action, devices, lifecycle, messages, storage, vm_calls
from evtchn.api.dispatch import Dispatcher
from evtchn.api.errors import ApiFailure
from evtchn.api.events import Change, EventFeed, HostEventSource
from evtchn.api.registry import register_generic
from evtchn.api.service import Service, servertime
from evtchn.api.world import CLASSES, World, build
from evtchn.store.errors import EventsLost, StoreError
from evtchn.store.sqlite import Store
from evtchn.toolstack.host import Host

# Calls with no Async form in xapi, or that must stay synchronous here.
_SYNC_ONLY = ("session.", "event.", "event_from", "task.", "system.", "Async.")


class XapiService:
    def __init__(self, store: Store[Host]) -> None:
        self.svc = Service(store)
        self.store = store
        source = HostEventSource(self._read_changes, self.svc.version, self.svc.changed)
        self.svc.after_commit.append(source.after_commit)
        self.events = EventFeed(source)

    def _read_changes(self, token: int | None) -> tuple[World, list[Change], int]:
        """The view and the store's logged changes after `token`, in one read of the host file. A token
        the store no longer keeps (this server fell 10 000 changes behind) leaves them to the view diff."""
        try:
            with self.store.snapshot():
                world = self.svc.world()
                if token is None:
                    return world, [], self.store.last_event()
                try:
                    got, new = self.store.events_since(token)
                except EventsLost:
                    return world, [], self.store.last_event()
        except StoreError as e:
            raise ApiFailure("INTERNAL_ERROR", e.message) from None
        return world, [(e.cls, e.ref, e.operation, e.snapshot) for e in got], new

    def register(self, d: Dispatcher) -> None:
        svc = self.svc
        m: dict[str, tuple[Callable[..., Any], list[str]]] = {
            "VM.create": (lambda rec: vm_calls.create(svc, rec), ["args"]),
            "VM.destroy": (lambda ref: vm_calls.destroy(svc, ref), ["self"]),
            "VM.clone": (lambda ref, name: vm_calls.clone(svc, ref, name), ["vm", "new_name"]),
            "VM.copy": (lambda ref, name, sr: vm_calls.clone(svc, ref, name, sr), ["vm", "new_name", "sr"]),
            "VM.provision": (lambda ref: vm_calls.provision(svc, ref), ["vm"]),
            "VM.set_VCPUs_max": (lambda r, v: vm_calls.set_vcpus_max(svc, r, v), ["self", "value"]),
            "VM.set_VCPUs_at_startup": (
                lambda r, v: vm_calls.set_vcpus_at_startup(svc, r, v), ["self", "value"]
            ),
            "VM.set_memory_limits": (
                lambda r, a, b, c, e: vm_calls.set_memory(svc, r, a, b, c, e),
                ["self", "static_min", "static_max", "dynamic_min", "dynamic_max"],
            ),
            "VM.set_memory": (lambda r, v: vm_calls.set_memory(svc, r, v, v, v, v), ["self", "value"]),
            "VM.set_actions_after_crash": (
                lambda r, v: crash_action.set_actions_after_crash(svc, r, v), ["self", "value"]
            ),
            "VM.get_allowed_VBD_devices": (lambda r: devices.allowed_vbd_devices(svc, r), ["vm"]),
            "VM.get_allowed_VIF_devices": (lambda r: devices.allowed_vif_devices(svc, r), ["vm"]),
            "VDI.create": (lambda rec: storage.vdi_create(svc, rec), ["args"]),
            "VDI.destroy": (lambda ref: storage.vdi_destroy(svc, ref), ["self"]),
            "host.get_servertime": (lambda h: self._host(h) and servertime(), ["host"]),
            "host.compute_free_memory": (lambda h: self._host(h) and svc.world().free_memory, ["host"]),
            "host.get_vms_which_prevent_evacuation": (self.prevent_evacuation, ["self"]),
            "host.evacuate": (self.evacuate, ["host"]),
            "task.cancel": (svc.tasks.cancel, ["task"]),
            "task.destroy": (svc.tasks.destroy, ["self"]),
        }
        for op in ("clean_shutdown", "hard_shutdown", "clean_reboot", "hard_reboot", "pause", "unpause",
                   "suspend", "start", "resume", "pool_migrate", "shutdown"):  # fmt: skip
            params = lifecycle.ARGS.get(op, ["vm"])
            m[f"VM.{op}"] = (lambda ref, *a, op=op: lifecycle.run(svc, ref, op, *a), params)
        for cls in ("VBD", "VIF"):
            m[f"{cls}.create"] = (lambda rec, c=cls: devices.create(svc, c, rec), ["args"])
            m[f"{cls}.destroy"] = (lambda ref, c=cls: devices.destroy(svc, c, ref), ["self"])
            m[f"{cls}.plug"] = (lambda ref, c=cls: devices.plug(svc, c, ref, True), ["self"])
            m[f"{cls}.unplug"] = (lambda ref, c=cls: devices.plug(svc, c, ref, False), ["self"])
            m[f"{cls}.unplug_force"] = (lambda ref, c=cls: devices.plug(svc, c, ref, False), ["self"])
        for name, (fn, params) in m.items():
            d.add(name, fn, params)
        fields = {cls: list(recs[next(iter(recs))]) for cls, recs in self._sample().items() if recs}
        fields.setdefault("VDI", list(catalog.vdi_defaults()))
        fields.setdefault("task", ["uuid", "name_label", "name_description", "status", "progress", "result",
                                   "error_info", "created", "finished", "allowed_operations",
                                   "current_operations", "resident_on", "type", "other_config",
                                   "subtask_of", "subtasks", "backtrace"])  # fmt: skip
        fields.setdefault("VM_guest_metrics", ["uuid", "os_version", "networks", "PV_drivers_detected",
                          "PV_drivers_up_to_date", "PV_drivers_version", "live", "memory", "disks", "other",
                          "last_updated", "other_config", "can_use_hotplug_vbd", "can_use_hotplug_vif"])
        fields.setdefault("message", list(messages.FIELDS))
        fields.setdefault("console", ["uuid", "VM", "protocol", "location", "other_config"])
        fields.setdefault("VBD", list(catalog.vbd_defaults()))
        fields.setdefault("VIF", list(catalog.vif_defaults()))
        register_generic(d, svc, fields)
        self._register_session_and_events(d)
        self._register_async(d)

    def _sample(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Records to take the field names from: the host's derived objects and at most one toolstack VM
        with its devices. Building the whole view here cost a 1 000-VM host ~18 MB of serve's RSS that
        stayed resident after the view was dropped (freed heap that the allocator keeps)."""
        svc = self.svc
        try:
            with svc.store.snapshot() as gen:
                row = svc.store._db().execute("SELECT ref FROM vms LIMIT 1").fetchone()
                inputs = svc._inputs(str(row[0]) if row is not None else None)
                return build((gen, svc.tasks.version), inputs).objects
        except (ApiFailure, StoreError, sqlite3.DatabaseError):  # an unreadable host file: defaults only
            return {c: {} for c in CLASSES}

    def _host(self, ref: Any) -> bool:
        self.svc.record("host", ref)
        return True

    def _register_session_and_events(self, d: Dispatcher) -> None:
        svc = self.svc

        def host_ref() -> str:
            return next(iter(svc.world().objects["host"]))

        d.add("session.get_this_host", lambda s, _self: host_ref(), ["session"], pass_session=True)
        d.add("session.get_this_user", lambda s, _self: _user(d, s), ["session"], pass_session=True)
        d.add("session.get_uuid", lambda s, _self: s.split(":", 1)[-1], ["session"], pass_session=True)
        d.add("event.from", self.events.event_from, ["classes", "token", "timeout"])
        d.add("event_from", self.events.event_from, ["classes", "token", "timeout"])  # the SDK's spelling
        d.add("event.register", self.events.register, ["classes"], pass_session=True)
        d.add("event.unregister", self.events.unregister, ["classes"], pass_session=True)
        d.add("event.next", self.events.next, [], pass_session=True)
        current = lambda: str(self.events.source.events_since(1 << 62, frozenset())[1])  # noqa: E731
        d.add("event.get_current_id", current, [])

    def _register_async(self, d: Dispatcher) -> None:
        tasks = self.svc.tasks
        for name, method in list(d.methods.items()):
            if not method.session or method.pure or name.startswith(_SYNC_ONLY):
                continue
            short = name.split(".", 1)[1]

            def spawn(session: Any, *args: Any, name: str = name, fn: Callable[..., Any] = method.fn,
                      op: str = short) -> str:  # fmt: skip
                first = args[0] if args else None
                target = first if isinstance(first, str) and first.startswith("OpaqueRef:") else None
                return tasks.spawn(f"Async.{name}", lambda: fn(session, *args), target=target, op=op)

            d.add(f"Async.{name}", spawn, list(method.params), pass_session=True)

    # ----------------------------------------------------------------- host
    def prevent_evacuation(self, ref: Any) -> dict[str, list[str]]:
        """A single host has nowhere to move a running VM: each one prevents evacuation, with xapi's
        reason for no other host (NO_HOSTS_AVAILABLE)."""
        self._host(ref)
        w = self.svc.world()
        return {
            r: ["NO_HOSTS_AVAILABLE"]
            for r, v in w.objects["VM"].items()
            if v["power_state"] in ("Running", "Paused") and not v["is_control_domain"]
        }

    def evacuate(self, ref: Any) -> str:
        if self.prevent_evacuation(ref):
            raise ApiFailure("NO_HOSTS_AVAILABLE")
        return ""


def _user(d: Dispatcher, session: str) -> str:
    live = getattr(d.sessions, "_live", {})
    return str(live.get(session, ""))

