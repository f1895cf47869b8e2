"""A device kind's row in the cost table: what it costs in dom0 ports, who binds it, and when.

    DeviceKind("vbd", "blkback/tapdisk", "connect", lambda p, h, s: …, "reference §7.2 VBD rows")

Each device module defines its ROW; costs.py collects them into DEVICE_TABLE, which the planner reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from evtchn.toolstack.hardware import Hardware
from evtchn.toolstack.profiles import Profile
from evtchn.toolstack.spec import VmSpec

Phase = Literal["start", "connect"]


@dataclass(frozen=True, slots=True)
class DeviceKind:
    """One row of the device table (reference §7.2)."""

    kind: str
    binder: str
    phase: Phase
    dom0_ports: Callable[[Profile, Hardware, VmSpec], int]
    source: str
