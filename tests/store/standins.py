"""Stand-in dirty trackers for hosts whose toolstack or hypervisor has none yet: every VM and every domain,
always. A superset of the truth, so the store's partial write path runs and must still be exact.

    calls = install(HOST_CODEC)   # then every HOST_CODEC.changes() call appends 1 (partial) or 0 (full)
"""

from __future__ import annotations

from typing import Any

from evtchn.store.codec import HostCodec
from evtchn.toolstack import Host


class AllDirty:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.seen: set[int] = set()

    def vms(self) -> set[str]:
        return {vm.uuid for vm in self.host.vms.values()}

    def domains(self) -> dict[str, Any]:
        now = set(self.host.hv.domains)
        out = {"changed": now | self.seen}
        self.seen |= now
        return out


def install(codec: HostCodec, setattr_: Any = setattr) -> list[int]:
    calls: list[int] = []
    real = codec.changes

    def changes(host: Host) -> Any:
        state = host.__dict__.setdefault("_test_dirty", AllDirty(host))
        if not hasattr(type(host), "take_dirty_vms"):  # only where the real trackers are not there yet
            host.__dict__["take_dirty_vms"] = state.vms
        if not hasattr(type(host.hv), "take_dirty"):
            host.hv.__dict__["take_dirty"] = state.domains
        got = real(host)
        calls.append(0 if got is None else 1)
        return got

    setattr_(codec, "changes", changes)
    return calls
