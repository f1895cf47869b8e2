"""Host memory as xapi admits VMs: a VM's footprint (xenopsd's overhead model) against the host's free
memory; a start, resume, migrate or provision that does not fit fails with HOST_NOT_ENOUGH_FREE_MEMORY
(reference §8.3).

    m = MemoryModel()                                   # xen_reserved_mib=512, shadow_multiplier=1.0
    m.footprint_mib(spec)                               # static_max + extra + shadow
    m.free_mib(hardware, [vm.spec for vm in running])   # host − dom0 − Xen − running footprints
    m.admit(hardware, resident_mib, spec)               # HostNotEnoughFreeMemory if it does not fit

The planner (plan/limits.py) reads the same model, so a plan and a simulated start agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from evtchn.toolstack.errors import HostNotEnoughFreeMemory
from evtchn.toolstack.hardware import Hardware
from evtchn.toolstack.spec import VmSpec

MIB = 1024 * 1024
# xenopsd's per-VM memory overhead model (xen-api: ocaml/xenopsd/xc/memory.ml): footprint = target + extra
# internal + extra external + shadow; HVM_memory_model_data has 1 + 1 MiB, Linux (PV) 0 + 1 MiB.
EXTRA_MIB: dict[str, tuple[int, int]] = {"hvm": (1, 1), "pvh": (1, 1), "pv": (0, 1)}
MEMORY_SOURCE = "xen-api: ocaml/xenopsd/xc/memory.ml (footprint_mib = target + extra + shadow)"


@dataclass(frozen=True, slots=True)
class MemoryModel:
    # Host memory Xen keeps for itself (code, heap, crash kernel) outside dom0 and the VMs. [UNCERTAIN]
    # a few hundred MiB on a 128 GiB host; xapi reads it as host memory-total minus memory-free at boot.
    xen_reserved_mib: int = 512
    # xenopsd's HVM_shadow_multiplier default 1.0 (memory.ml shadow_multiplier_default).
    shadow_multiplier: float = 1.0

    def footprint_mib(self, spec: VmSpec) -> int:
        """Host MiB one running VM takes: its memory plus xenopsd's overhead (memory.ml)."""
        internal, external = EXTRA_MIB[spec.type]
        static_max = spec.memory_mib
        # shadow_mib: vcpu pages (256 each) + p2m map + shadow-resident pages, in MiB rounded up, at least 1.
        pages = 256 * spec.maxvcpus + 2 * static_max
        shadow = max(1, int(float(-(-pages // 256)) * self.shadow_multiplier))
        return static_max + internal + external + shadow

    def free_after(self, hardware: Hardware, resident_mib: int) -> int:
        """What xapi's host.compute_free_memory would say, in MiB, with domains taking `resident_mib`."""
        return max(
            0, hardware.host_memory_mib - hardware.dom0_memory_mib - self.xen_reserved_mib - resident_mib
        )

    def free_mib(self, hardware: Hardware, resident: Iterable[VmSpec]) -> int:
        """The same, from the specs of the VMs that hold a domain."""
        return self.free_after(hardware, sum(self.footprint_mib(s) for s in resident))

    def admit(self, hardware: Hardware, resident_mib: int, spec: VmSpec) -> None:
        """HostNotEnoughFreeMemory [needed; available] in bytes, as xapi raises it, if `spec` does not fit."""
        needed, free = self.footprint_mib(spec), self.free_after(hardware, resident_mib)
        if needed > free:
            raise HostNotEnoughFreeMemory(needed * MIB, free * MIB)
