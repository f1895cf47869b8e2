"""What the parsers find besides port tables: error messages, xenstore devices and ABI evidence (§8.3, §7.4).

Plain dataclasses, like `model.py`; the readers in `evtchn.inspect.readers` fill them in.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Cause(enum.StrEnum):
    """What an error message says ran out or went wrong (reference §8.3, §8.3a)."""

    DOM0_OUT = "dom0-out-of-channels"  # a dom0 binder (backend, xenstored, xenconsoled, qemu) got no port
    GUEST_OUT = "guest-out-of-channels"  # the guest's own table is full (its max_event_channels)
    BAD_ARGUMENT = "bad-argument"  # EINVAL and the like: the port was not one the caller could bind
    DEVICE_MODEL = "device-model"  # qemu did not start; its ioreq ports bind in dom0
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Message:
    """One recognised error message, explained and tied to a cause."""

    file: str
    lineno: int
    text: str
    what: str  # short name of the message, e.g. "blkback could not map the ring"
    cause: Cause
    explanation: str
    errno: int | None = None
    domid: int | None = None  # the guest concerned, when the text names it
    device: str = ""  # e.g. "vbd 51712", "vif 0"
    port: int | None = None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.lineno}" if self.file else f"line {self.lineno}"


@dataclass(frozen=True, slots=True)
class Evidence:
    """A line that says which event-channel ABI the host runs, or which Xen it is (reference §12)."""

    file: str
    lineno: int
    kind: str  # "kernel-abi" (value "fifo"/"2l") or "xen-version" (value "4.17")
    value: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.file}:{self.lineno}" if self.file else f"line {self.lineno}"


@dataclass(slots=True)
class XsDevice:
    """One PV device as xenstore shows it: frontend keys, backend state and error nodes (§7.2, §7.4)."""

    domid: int | None  # the frontend (guest) domain
    kind: str  # vbd, vif, console, vkbd, ...
    devid: str
    backend_domid: int | None = None
    frontend_state: int | None = None
    backend_state: int | None = None
    # frontend key (e.g. "queue-0/event-channel-tx") → port
    ports: dict[str, int] = field(default_factory=dict)
    queues: int | None = None  # multi-queue-num-queues
    error: str = ""  # the error node's text, e.g. "28 mapping ring-ref port 9"
    lineno: int = 0

    @property
    def split(self) -> bool:
        return any(k.endswith(("event-channel-tx", "event-channel-rx")) for k in self.ports)

    @property
    def connected(self) -> bool:
        return self.frontend_state == 4 and self.backend_state in (None, 4)


@dataclass(slots=True)
class XsDomain:
    """A domain's own xenstore entries that bind in dom0: the store and console channels."""

    domid: int
    name: str = ""
    store_port: int | None = None
    console_port: int | None = None


@dataclass(slots=True)
class XsTree:
    """Everything read from xenstore-ls output."""

    devices: dict[tuple[int | None, str, str], XsDevice] = field(default_factory=dict)
    domains: dict[int, XsDomain] = field(default_factory=dict)
    lines: int = 0
    seen: list[tuple[int, str]] = field(default_factory=list)  # (line number, text) of every node line

    @property
    def useful(self) -> bool:
        """Whether any line was under a path a device or domain lives at (else it was not xenstore)."""
        return bool(self.devices or self.domains)
