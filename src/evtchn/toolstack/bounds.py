"""Every number a real host accepts, as data with its source: checked at the edge, never deeper.

    VCPUS.check(600, "web.yaml:3: field vcpus")   # SpecError "web.yaml:3: field vcpus: 600 is over 512 (…)"
    Field(le=MEMORY_MIB.hi)                        # the same bound inside a pydantic model

The loaders (spec.py, profiles.py, hardware.py) use these in their models, so a value no real host takes is a
one-line "file:line: field X: ..." error (exit 2) and never reaches the store (SQLite holds 64-bit integers)
or the hypervisor. Sources are cited as in ../shared/spec/xen-reference.md; [UNCERTAIN] marks a bound chosen
where the sources leave room.
"""

from __future__ import annotations

from dataclasses import dataclass

from evtchn.toolstack.errors import SpecError


@dataclass(frozen=True, slots=True)
class Bound:
    name: str
    lo: int
    hi: int
    source: str

    def check(self, value: int, where: str) -> int:
        """value, or SpecError "where: N is over HI (source)" — the text is cut short for huge numbers."""
        if self.lo <= value <= self.hi:
            return value
        shown = str(value) if abs(value) < 10**30 else f"a {len(str(abs(value)))}-digit number"
        side = f"over {self.hi}" if value > self.hi else f"under {self.lo}"
        raise SpecError(f"{where}: {shown} is {side} ({self.name}: {self.source})")

    @property
    def count(self) -> int:
        return self.hi - self.lo + 1


# ---------------------------------------------------------------- domains
# domid_t is uint16 and ids from DOMID_FIRST_RESERVED (0x7FF0) up are reserved (reference §1; xen:
# xen/include/public/xen.h). dom0 is 0, so guests get 1..0x7FEF: 32 751 of them at most.
DOMID = Bound("domid", 0, 0x7FEF, "below DOMID_FIRST_RESERVED 0x7FF0 (xen: xen/include/public/xen.h; §1)")
GUEST_DOMID = Bound("guest domid", 1, 0x7FEF, DOMID.source)


@dataclass(frozen=True, slots=True)
class Count:
    value: int
    source: str


GUEST_DOMIDS = Count(
    GUEST_DOMID.count,
    "Xen: guests take domids 1..0x7FEF, DOMID_FIRST_RESERVED is 0x7FF0 (xen: xen/include/public/xen.h; "
    "reference §1): at most 32 751 guests at once",
)

# ---------------------------------------------------------------- vCPUs and memory
VCPUS = Bound("vCPUs", 1, 512, "PV guests: 512, as libvirt's libxl driver caps PV; HVM_MAX_VCPUS is 128")
HVM_VCPUS = Bound(
    "HVM vCPUs", 1, 128, "HVM_MAX_VCPUS, the vLAPIC id mapping (xen: xen/include/public/hvm/hvm_info_table.h)"
)
HOST_PCPUS = Bound("host pCPUs", 1, 16383, "Xen's NR_CPUS ceiling (xen: xen/arch/Kconfig) [UNCERTAIN]")
# x86-64 Xen addresses 16 TiB of RAM without CONFIG_BIGMEM [UNCERTAIN: larger with BIGMEM]; a guest or a host
# cannot have more than that.
MEMORY_MIB = Bound("memory MiB", 16, 16 * 1024 * 1024, "16 TiB, x86-64 Xen's RAM ceiling without BIGMEM")
HOST_MEMORY_MIB = Bound("host memory MiB", 256, MEMORY_MIB.hi, MEMORY_MIB.source)

# ---------------------------------------------------------------- devices
# Virtual block device numbers (xen: docs/misc/vbd-interface.txt; libxl__device_disk_dev_number): the
# extended xvd form is 1<<28 | disk<<8 | partition with disk < 2^20, so every number is below 2^29.
VBD_DEVID = Bound(
    "virtual device number", 0, (1 << 29) - 1, "xvd extended form 1<<28 | disk<<8 | part, disk < 2^20 "
    "(xen: docs/misc/vbd-interface.txt)",
)  # fmt: skip
# xapi's userdevice: VBD device positions 0..254 (xen-api: allowed_VBD_devices for HVM is 0..3 with qemu,
# up to 255 with PV drivers [UNCERTAIN exact per guest type]).
USERDEVICE = Bound("VBD userdevice", 0, 254, "xapi's VBD positions (xen-api: ocaml/xapi/xapi_vbd_helpers.ml)")
NIC_DEVID = Bound("VIF devid", 0, 255, "VIF device positions a guest can hold [UNCERTAIN: libxl allows more]")
QUEUES = Bound(
    "queues", 1, 64, "multi-queue blkfront/netfront: one queue per vCPU, capped by the backends' max_queues "
    "(linux: drivers/block/xen-blkfront.c, drivers/net/xen-netback) [UNCERTAIN: 64 is this model's cap]",
)  # fmt: skip
BACKEND_QUEUES = Bound("backend max_queues", 1, VCPUS.hi, "at most one queue per vCPU (linux: xen-blkback)")

# ---------------------------------------------------------------- event channels and interrupts
PORT = Bound("event-channel port", 0, (1 << 17) - 1, "FIFO ABI: 2^17 ports (reference §1)")
MAX_EVENT_CHANNELS = Bound(
    "max_event_channels", 1, 1 << 17, "at most the FIFO ABI's 2^17 channels (reference §1; xl.cfg(5))"
)
# A PIRQ / IRQ number: Xen's nr_irqs and Linux's nr_irqs are far below this; the bound keeps values
# machine-sized [UNCERTAIN: the real ceiling depends on the IO-APICs and MSI vectors of the host].
PIRQ = Bound("PIRQ", 0, 65535, "machine-sized PIRQ/IRQ numbers [UNCERTAIN: host-dependent ceiling]")
IRQ_COUNT = Bound("interrupt count", 1, 2048, "MSI-X vectors per device (PCI: 2048)")

# ---------------------------------------------------------------- input files
MAX_INPUT_BYTES = 4 * 1024 * 1024  # a spec, profile or hardware file; real ones are a few KiB
MAX_INT_DIGITS = 4300  # CPython's int <-> str limit (sys.get_int_max_str_digits)
MAX_NESTING = 64  # lists/maps inside one input file
