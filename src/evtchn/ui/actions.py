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


class ActionError(Exception):
    """A request the page itself should never send (unknown op, no object named)."""


def run(ui: UiApp, session: str, op: str, vm: str, device: str) -> Any:
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
    raise ActionError(f"unknown action {op!r} (known: {', '.join([*VM_OPS, *DEVICE_OPS])})")


def _class_of(ui: UiApp, session: str, ref: str) -> str:
    from evtchn.api.errors import ApiFailure

    try:
        ui.dispatcher.call("VBD.get_uuid", [session, ref])
    except ApiFailure:
        return "VIF"
    return "VBD"
