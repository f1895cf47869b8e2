"""A JSON-ready snapshot of a whole hypervisor, and its exact restoration.

    state = hv.to_state()                 # plain dicts, lists, ints, str and None
    json.dumps(state)                     # what the persisted host stores
    hv2 = Hypervisor.from_state(state)    # behaves exactly as hv from here on

Byte columns (port table, bitmaps, FIFO words) are base64 of their little-endian bytes, deflated first
when longer than a page, so a full FIFO table of 131 071 ports is about 16 KiB of text. Maps keyed by
int are lists of [key, value] pairs because JSON object keys are strings. `SNAPSHOT_VERSION` changes
whenever the layout does.
"""

from __future__ import annotations

import base64
import sys
import zlib
from array import array
from typing import TYPE_CHECKING, Any

from evtchn.xen.abi import Fifo, FifoVcpu, TwoLevel
from evtchn.xen.constants import ShutdownReason
from evtchn.xen.domain import Domain, Vcpu
from evtchn.xen.ports import PortTable
from evtchn.xen.settings import HypervisorSettings

if TYPE_CHECKING:
    from evtchn.xen.hypervisor import Hypervisor

SNAPSHOT_VERSION = 1

State = dict[str, Any]


class SnapshotError(ValueError):
    """A snapshot that this version cannot restore (wrong version, missing or malformed field)."""


def b64(data: bytes | bytearray) -> str:
    """Base64 of the bytes; columns past a page are deflated first ("z:" prefix), being mostly regular."""
    raw = bytes(data)
    if len(raw) > 4096:
        return "z:" + base64.b64encode(zlib.compress(raw, 1)).decode("ascii")
    return base64.b64encode(raw).decode("ascii")


def unb64(text: str) -> bytearray:
    if text.startswith("z:"):
        return bytearray(zlib.decompress(base64.b64decode(text[2:].encode("ascii"), validate=True)))
    return bytearray(base64.b64decode(text.encode("ascii"), validate=True))


def arr(a: array[int]) -> str:
    if sys.byteorder == "big":
        a = array(a.typecode, a)
        a.byteswap()
    return b64(a.tobytes())


def unarr(typecode: str, text: str) -> array[int]:
    a = array(typecode)
    a.frombytes(bytes(unb64(text)))
    if sys.byteorder == "big":
        a.byteswap()
    return a


def pairs(m: dict[int, int]) -> list[list[int]]:
    return [[k, v] for k, v in m.items()]


# ---------------------------------------------------------------------------------------------- encode


def _ports(t: PortTable) -> State:
    return {
        "limit_port": t.limit_port,
        "bucket_ports": t.bucket_ports,
        "valid": t.valid,
        "high": t.high,
        "free": t.free_ports(),  # ascending: a valid heap, and the same text for the same table
        "active": t.active,
        "xen_count": t.xen_count,
        "state": b64(t.state),
        "notify": arr(t.notify),
        "rdom": arr(t.rdom),
        "union": arr(t.union),
        "consumer": b64(t.consumer),
        "prio": b64(t.prio),
    }


def _abi(abi: TwoLevel | Fifo) -> State:
    if isinstance(abi, TwoLevel):
        return {
            "kind": "2l",
            "word_bits": abi.word_bits,
            "pending": b64(abi.pending_bits),
            "mask": b64(abi.mask_bits),
        }
    return {
        "kind": "fifo",
        "words": arr(abi.words),
        "pages": list(abi.pages),
        "lastq": arr(abi.lastq),
        "saved_pending": b64(abi.saved_pending),
        "vcpus": fifo_vcpus_state(abi),
    }


def fifo_vcpus_state(abi: Fifo) -> list[State]:
    """Each vCPU's FIFO control block and queues as saved (fifo_vcpus() reads them back)."""
    return [
        {
            "control_gfn": fv.control_gfn,
            "ready": fv.ready,
            "head": list(fv.head),
            "tail": list(fv.tail),
            "guest_head": list(fv.guest_head),
        }
        for fv in abi.vcpus
    ]


def vcpu_state(v: Vcpu) -> State:
    return {
        "vcpu_id": v.vcpu_id,
        "virq_to_evtchn": list(v.virq_to_evtchn),
        "pending_sel": v.pending_sel,
        "upcall_pending": v.upcall_pending,
        "kicks": v.kicks,
        "rr_word": v.rr_word,
        "rr_bit": v.rr_bit,
    }


def domain_state(d: Domain) -> State:
    """One domain: its fields, ABI and port table."""
    assert isinstance(d.abi, TwoLevel | Fifo)
    return {**domain_fields(d), "abi": _abi(d.abi), "ports": _ports(d.ports)}


def domain_fields(d: Domain) -> State:
    """A domain's own fields and vCPUs: everything but its ABI and port table."""
    return {
        "domid": d.domid,
        "max_vcpus": d.max_vcpus,
        "guest_width": d.guest_width,
        "max_evtchn_port": d.max_evtchn_port,
        "nr_pirqs": d.nr_pirqs,
        "privileged": d.privileged,
        "is_hvm": d.is_hvm,
        "target": d.target,
        "nr_gfns": d.nr_gfns,
        "bucket_ports": d.bucket_ports,
        "pirq_access": None if d.pirq_access is None else sorted(d.pirq_access),
        "dying": d.dying,
        "shutdown_reason": None if d.shutdown_reason is None else int(d.shutdown_reason),
        "controller_paused": d.controller_paused,
        "next_reset": d.next_reset,
        "vcpus": [vcpu_state(v) for v in d.vcpus],
        "pirq_to_evtchn": pairs(d.pirq_to_evtchn),
        "pirq_irq": pairs(d.pirq_irq),
        "polling": sorted(d.polling),
        "xen_notifications": pairs(d.xen_notifications),
    }


def to_state(hv: Hypervisor) -> State:
    """The whole hypervisor as plain JSON-serialisable data."""
    s = hv.settings
    return {
        "version": SNAPSHOT_VERSION,
        "settings": {"xen_version": list(s.xen_version), "fifo_compiled": s.fifo_compiled},
        "domains": [domain_state(d) for d in hv.domains.values()],
        "global_virq_handlers": pairs(hv.global_virq_handlers),
        "xen_consumers": [[name, index] for name, index in hv.xen_consumers().items()],
        "domid_rover": hv.domid_rover,
    }


# ---------------------------------------------------------------------------------------------- decode


def _load_ports(s: State) -> PortTable:
    high = int(s["high"])
    state = unb64(s["state"])
    free = {int(p) for p in s["free"]}
    # Busy ports are the FREE ones below the mark that are not in the heap.
    busy = {p for p in range(1, min(high, len(state))) if state[p] == 0} - free
    t = PortTable.restore(
        int(s["limit_port"]),
        int(s["bucket_ports"]),
        high,
        {
            "state": state,
            "notify": unarr("H", s["notify"]),
            "rdom": unarr("H", s["rdom"]),
            "union": unarr("I", s["union"]),
            "consumer": unb64(s["consumer"]),
            "prio": unb64(s["prio"]),
        },
        busy,
    )
    if t.valid != int(s["valid"]) or t.active != int(s["active"]) or t.xen_count != int(s["xen_count"]):
        raise SnapshotError(
            f"port table counts disagree: valid {s['valid']}, active {s['active']}, xen {s['xen_count']}"
        )
    return t


def _load_abi(s: State) -> TwoLevel | Fifo:
    if s["kind"] == "2l":
        word_bits = int(s["word_bits"])
        if word_bits not in (32, 64):  # the bitmaps are word_bits² bits: refuse before allocating
            raise SnapshotError(f"2-level word size {word_bits} is not 32 or 64")
        abi = TwoLevel(word_bits)
        abi.pending_bits = unb64(s["pending"])
        abi.mask_bits = unb64(s["mask"])
        return abi
    if s["kind"] != "fifo":
        raise SnapshotError(f"unknown ABI kind {s['kind']!r}")
    fifo = Fifo(len(s["vcpus"]))
    fifo.words = unarr("I", s["words"])
    fifo.pages = [int(g) for g in s["pages"]]
    fifo.lastq = unarr("I", s["lastq"])
    fifo.saved_pending = unb64(s["saved_pending"])
    fifo.vcpus = fifo_vcpus(s)
    return fifo


def fifo_vcpus(s: State) -> list[FifoVcpu]:
    """A FIFO ABI record's per-vCPU control blocks and queues (snapshots and delta exports share it)."""
    return [
        FifoVcpu(
            control_gfn=None if v["control_gfn"] is None else int(v["control_gfn"]),
            ready=int(v["ready"]),
            head=[int(x) for x in v["head"]],
            tail=[int(x) for x in v["tail"]],
            guest_head=[int(x) for x in v["guest_head"]],
        )
        for v in s["vcpus"]
    ]


def _load_domain(s: State) -> Domain:
    d = load_domain_fields(s)
    d.abi = _load_abi(s["abi"])
    d.ports = _load_ports(s["ports"])
    return d


def load_domain_fields(s: State) -> Domain:
    """A Domain from domain_fields(); the caller sets its `abi` and `ports`."""
    d = Domain.__new__(Domain)
    d.dirty = None
    d.domid = int(s["domid"])
    d.max_vcpus = int(s["max_vcpus"])
    d.guest_width = int(s["guest_width"])
    d.max_evtchn_port = int(s["max_evtchn_port"])
    d.nr_pirqs = int(s["nr_pirqs"])
    d.privileged = bool(s["privileged"])
    d.is_hvm = bool(s["is_hvm"])
    d.target = None if s["target"] is None else int(s["target"])
    d.nr_gfns = int(s["nr_gfns"])
    d.bucket_ports = int(s["bucket_ports"])
    d.pirq_access = None if s["pirq_access"] is None else frozenset(int(p) for p in s["pirq_access"])
    d.dying = bool(s["dying"])
    reason = s.get("shutdown_reason")  # absent in snapshots from before shutdown was modelled
    d.shutdown_reason = None if reason is None else ShutdownReason(int(reason))
    d.controller_paused = int(s["controller_paused"])
    d.next_reset = int(s["next_reset"])
    d.vcpus = [
        Vcpu(
            vcpu_id=int(v["vcpu_id"]),
            virq_to_evtchn=[int(p) for p in v["virq_to_evtchn"]],
            pending_sel=int(v["pending_sel"]),
            upcall_pending=bool(v["upcall_pending"]),
            kicks=int(v["kicks"]),
            rr_word=int(v["rr_word"]),
            rr_bit=int(v["rr_bit"]),
        )
        for v in s["vcpus"]
    ]
    d.pirq_to_evtchn = {int(k): int(v) for k, v in s["pirq_to_evtchn"]}
    d.pirq_irq = {int(k): int(v) for k, v in s["pirq_irq"]}
    d.polling = {int(v) for v in s["polling"]}
    d.xen_notifications = {int(k): int(v) for k, v in s["xen_notifications"]}
    return d


def from_state(cls: type[Hypervisor], state: State) -> Hypervisor:
    """Rebuild a hypervisor from to_state()'s output; SnapshotError if it is not one."""
    if not isinstance(state, dict) or state.get("version") != SNAPSHOT_VERSION:
        found = state.get("version") if isinstance(state, dict) else type(state).__name__
        raise SnapshotError(f"expected a hypervisor snapshot version {SNAPSHOT_VERSION}, found {found!r}")
    try:
        st = state["settings"]
        hv = cls(
            HypervisorSettings(
                xen_version=(int(st["xen_version"][0]), int(st["xen_version"][1])),
                fifo_compiled=bool(st["fifo_compiled"]),
            )
        )
        for ds in state["domains"]:
            d = _load_domain(ds)
            hv.domains[d.domid] = d
        hv.global_virq_handlers = {int(k): int(v) for k, v in state["global_virq_handlers"]}
        # Snapshots from before the rover: the highest domid is where a rover would stand.
        hv.domid_rover = int(state.get("domid_rover", max(hv.domains, default=0)))
        for name, index in sorted(state["xen_consumers"], key=lambda pair: int(pair[1])):
            if hv.xen_consumer_index(str(name)) != int(index):
                raise SnapshotError(f"Xen consumer {name!r} is not number {index}")
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError, zlib.error) as e:
        if isinstance(e, SnapshotError):
            raise
        raise SnapshotError(f"malformed hypervisor snapshot: {type(e).__name__}: {e}") from None
    return hv
