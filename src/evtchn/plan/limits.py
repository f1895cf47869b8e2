"""The planner's limits that are not dom0 event channels: data with a source, and the settings that tune them.

    s = PlanSettings()                                  # documented defaults
    s = PlanSettings.from_pairs(["fds_per_console=3"])  # what `evtchn plan --set` builds
    consoled_fd_limit("xenserver-6.1", s)               # -> Sourced(1024, "select() …")
    vm_footprint_mib(spec, s)                           # host memory one VM takes (xenopsd's model)

dom0's event-channel limit and baseline are NOT here: they come from the toolstack (profile + hardware), so
the planner and the simulated host can never disagree. This module holds only what the toolstack's Profile and
Hardware do not carry; the lead may move these tables into the profiles.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evtchn.toolstack.hardware import Hardware, get_hardware
from evtchn.toolstack.memory import MEMORY_SOURCE as MEMORY_SOURCE
from evtchn.toolstack.memory import MemoryModel
from evtchn.toolstack.spec import VmSpec


@dataclass(frozen=True, slots=True)
class Sourced:
    """A number and where it comes from."""

    value: int
    source: str


# xenconsoled's file-descriptor ceiling per profile (reference §1 "xenconsoled fds", §10 "Other dom0 limits").
CONSOLED_FD_LIMITS: dict[str, Sourced] = {
    "xenserver-6.1": Sourced(
        1024,
        "xenconsoled used select(), so FD_SETSIZE 1024 fds: 'a couple of hundred' consoles "
        "(CA-101788, xen-api PR 1111; reference §10)",
    ),
    "xenserver-6.2": Sourced(
        4096,
        "CA-101788 moved xenconsoled to poll() with 4096 fds, 'about 1000' consoles (xen-api PR 1111; "
        "reference §10). [UNCERTAIN] release; 6.2's 650 Linux VMs each with a console need it",
    ),
    "xenserver-6.5": Sourced(
        16384,
        "CA-162159 (2015) raised the limit to 16384 (reference §10). [UNCERTAIN] which release first",
    ),
    "xenserver-8": Sourced(16384, "CA-162159's 16384 (reference §10); later changes [UNCERTAIN]"),
    "xen-xl": Sourced(
        132008,
        "upstream xenconsoled raises RLIMIT_NOFILE to DOMID_FIRST_RESERVED×4 + 1000 = 132008 "
        "(xen: tools/console/daemon/main.c; reference §1)",
    ),
}
# A profile loaded from a user's file and not named above gets upstream's limit.
DEFAULT_CONSOLED_FD_LIMIT = CONSOLED_FD_LIMITS["xen-xl"]

class PlanSettings(BaseModel):
    """Numbers the sources leave uncertain. Each has a documented default; `--set NAME=VALUE` changes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # upstream main.c counts 4 per domain: pty master, pty slave, log file, evtchn handle; without a guest
    # log file it is 3 (reference §10 "3–4 fds per console"). [UNCERTAIN] which XenServer used.
    fds_per_console: int = Field(default=4, ge=1, le=16)
    # fds xenconsoled holds before any guest: stdin/stdout/stderr, xenstore, xc, gnttab, its VIRQ_CON_RING
    # evtchn handle, the hypervisor log. [UNCERTAIN] an estimate from tools/console/daemon/io.c.
    consoled_base_fds: int = Field(default=8, ge=0)
    # None: the profile's limit from CONSOLED_FD_LIMITS.
    consoled_fd_limit: int | None = Field(default=None, ge=1)
    # Host memory Xen keeps for itself (code, heap, crash kernel) outside dom0 and the VMs. [UNCERTAIN]
    # a few hundred MiB on a 128 GiB host; xapi reads it as host memory-total minus memory-free at boot.
    xen_reserved_mib: int = Field(default=512, ge=0)
    # xenopsd's HVM_shadow_multiplier default 1.0 (memory.ml shadow_multiplier_default).
    shadow_multiplier: float = Field(default=1.0, ge=0.0, allow_inf_nan=False)

    @classmethod
    def from_pairs(cls, pairs: Iterable[str]) -> PlanSettings:
        """From 'name=value' strings; ValueError with one readable line on a bad name or value."""
        data: dict[str, Any] = {}
        for pair in pairs:
            name, sep, value = pair.partition("=")
            name = name.strip()
            if not sep or not name:
                raise ValueError(f"--set {pair!r}: expected NAME=VALUE")
            if name not in cls.model_fields:
                known = ", ".join(sorted(cls.model_fields))
                raise ValueError(f"--set {pair!r}: unknown setting {name!r} (known: {known})")
            data[name] = None if value.strip().lower() in ("", "none", "default") else value.strip()
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            err = e.errors()[0]
            raise ValueError(f"--set {err['loc'][0]}: {err['msg']}") from None


def consoled_fd_limit(profile_name: str, settings: PlanSettings) -> Sourced:
    """The fd ceiling xenconsoled runs into on this profile (a setting overrides the table)."""
    if settings.consoled_fd_limit is not None:
        return Sourced(settings.consoled_fd_limit, "--set consoled_fd_limit")
    return CONSOLED_FD_LIMITS.get(profile_name, DEFAULT_CONSOLED_FD_LIMIT)


def vm_footprint_mib(spec: VmSpec, settings: PlanSettings) -> int:
    """Host MiB one running VM takes: its memory plus xenopsd's overhead (toolstack/memory.py)."""
    return memory_model(settings).footprint_mib(spec)


def memory_model(settings: PlanSettings) -> MemoryModel:
    """The toolstack's memory model with this plan's settings (what a simulated host admits with)."""
    return MemoryModel(settings.xen_reserved_mib, settings.shadow_multiplier)


def resolve_hardware(name_or_path: str | None) -> Hardware:
    """The toolstack's get_hardware: a built-in name or a file (ProfileError if unknown)."""
    return get_hardware(name_or_path)
