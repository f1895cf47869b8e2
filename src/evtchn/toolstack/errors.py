"""The toolstack's one exception hierarchy; `.message` is a single line a user can read.

    raise StartError("xenopsd internal error: ...", xenapi_code="INTERNAL_ERROR", xenapi_params=[...])

Codes and parameter orders follow XenAPI (reference §11); the texts are what xenopsd / xl print (§8.3).
"""

from __future__ import annotations


class ToolstackError(Exception):
    # The failed operation still changed the host (Xen keeps a dying domain: Failure.leaves_dying), so a
    # persisted host commits it before reporting the error.
    left_behind = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StartError(ToolstackError):
    """VM.start failed at a start-time bind; the VM is Halted again and nothing it took is left held."""

    def __init__(
        self,
        message: str,
        *,
        xenapi_code: str = "INTERNAL_ERROR",
        xenapi_params: list[str] | None = None,
        op: str = "",
    ) -> None:
        super().__init__(message)
        self.xenapi_code = xenapi_code
        self.xenapi_params = list(xenapi_params) if xenapi_params is not None else [message]
        self.op = op  # the micro-op that failed, e.g. "xenstored_introduce"


class HostNotEnoughFreeMemory(StartError):
    """xapi's HOST_NOT_ENOUGH_FREE_MEMORY [needed; available], both in bytes (xen-api: api_errors.ml,
    datamodel_errors.ml); raised before anything is built, so nothing needs undoing."""

    def __init__(self, needed: int, available: int) -> None:
        self.needed = needed
        self.available = available
        super().__init__(
            f"HOST_NOT_ENOUGH_FREE_MEMORY: the VM needs {needed // 2**20} MiB ({needed} bytes), "
            f"the host has {available // 2**20} MiB ({available} bytes) free",
            xenapi_code="HOST_NOT_ENOUGH_FREE_MEMORY",
            xenapi_params=[str(needed), str(available)],
            op="memory_check",
        )


class DeviceError(ToolstackError):
    """A hot-plug or hot-unplug that could not be done; the VM and its other devices are as they were."""

    def __init__(
        self, message: str, *, xenapi_code: str = "INTERNAL_ERROR", xenapi_params: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.xenapi_code = xenapi_code
        self.xenapi_params = list(xenapi_params) if xenapi_params is not None else [message]


class BadPowerState(ToolstackError):
    """VM_BAD_POWER_STATE [vm; expected; actual], states lowercase (reference §11)."""

    def __init__(self, vm: str, expected: list[str], actual: str) -> None:
        self.vm = vm
        self.expected = [e.lower() for e in expected]
        self.actual = actual.lower()
        super().__init__(f"VM {vm} is {self.actual}; this needs it {' or '.join(self.expected)}")


class NoSuchVm(ToolstackError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no VM named {name!r}")


class AmbiguousVm(ToolstackError):
    """More than one VM has this name (names are free text, as in xapi): the caller must give a uuid."""

    def __init__(self, name: str, uuids: list[str]) -> None:
        self.name = name
        self.uuids = uuids
        super().__init__(f"{len(uuids)} VMs are named {name!r}; give a uuid: {', '.join(uuids)}")


class VmExists(ToolstackError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"a VM named {name!r} already exists")


class SpecError(ToolstackError):
    """A spec or profile file is wrong: the message names the file and the line or field."""


class ProfileError(SpecError):
    """An unknown profile name or a bad profile/hardware file."""
