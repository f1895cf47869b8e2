"""What the page's buttons do: each is the XenAPI call a client would make, through the same dispatcher.

    run(ui, session, "start", vm_ref, "")          # VM.start(session, vm, false, false)
    run(ui, session, "unplug", vm_ref, vbd_ref)    # VBD.unplug(session, vbd)

A refused call raises the XenAPI failure unchanged (VM_BAD_POWER_STATE, a device's `error 28 …`), so the
page shows exactly what `xe` or the SDK would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evtchn.ui.app import UiApp

# op -> (XenAPI method, extra arguments after the object's ref)
VM_OPS: dict[str, tuple[str, list[Any]]] = {
    "start": ("VM.start", [False, False]),
    "shutdown": ("VM.clean_shutdown", []),
    "hard_shutdown": ("VM.hard_shutdown", []),
    "reboot": ("VM.clean_reboot", []),
    "suspend": ("VM.suspend", []),
    "resume": ("VM.resume", [False, False]),
    "pause": ("VM.pause", []),
    "unpause": ("VM.unpause", []),
}
DEVICE_OPS = ("plug", "unplug")
FAULT_OPS = ("consume", "release")  # `evtchn fault consume|release`: arg is K to leave free / N to close


class ActionError(Exception):
    """A request the page itself should never send (unknown op, no object named)."""


def run(ui: UiApp, session: str, op: str, vm: str, device: str, arg: str = "") -> Any:
    if op in VM_OPS:
        if not vm:
            raise ActionError(f"{op}: no VM given")
        method, extra = VM_OPS[op]
        return ui.dispatcher.call(method, [session, vm, *extra])
    if op in DEVICE_OPS:
        if not device:
            raise ActionError(f"{op}: no device given")
        cls = "VBD" if _class_of(ui, session, device) == "VBD" else "VIF"
        return ui.dispatcher.call(f"{cls}.{op}", [session, device])
    if op in FAULT_OPS:
        return fault(ui, op, arg)
    raise ActionError(f"unknown action {op!r} (known: {', '.join([*VM_OPS, *DEVICE_OPS, *FAULT_OPS])})")


def fault(ui: UiApp, op: str, arg: str) -> str:
    """consume (arg: K ports to leave free) or release (arg: N ports, empty for all) in dom0, through the
    same toolstack path and transaction as `evtchn fault`; a bad argument is an ActionError naming it."""
    from evtchn.toolstack.errors import ToolstackError
    from evtchn.toolstack.fault import consume, release

    try:
        n = int(arg) if arg.strip() else None
    except ValueError:
        raise ActionError(f"{op}: {arg!r} is not a whole number") from None
    if op == "consume" and n is None:
        raise ActionError("consume: give how many ports to leave free")
    try:
        with ui.service.store.transaction() as host:
            if op == "consume":
                assert n is not None
                got = consume(host.plumbing, n, host.dom0_ports_free())
            else:
                got = release(host.plumbing, n)
            held = host.plumbing.fault.count()
    except ToolstackError as e:
        raise ActionError(e.message) from None
    verb = "bound" if op == "consume" else "closed"
    return f"fault injection {verb} {len(got)} ports in domain 0: holds {held}"


def _class_of(ui: UiApp, session: str, ref: str) -> str:
    from evtchn.api.errors import ApiFailure

    try:
        ui.dispatcher.call("VBD.get_uuid", [session, ref])
    except ApiFailure:
        return "VIF"
    return "VBD"
