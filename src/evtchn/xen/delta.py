"""Export and restore a hypervisor by domain record and 64-port bucket, for a store that writes only what
changed (dirty.py says what did).

    exp = export_dirty(hv, hv.take_dirty())   # JSON-ready: globals, destroyed domids, changed domains
    apply_export(copy, exp)                    # the copy now equals hv (compare with to_state())

    rec = export_domain(hv, domid)             # one domain's record (fields, vCPUs, ABI and table shape)
    b = export_bucket(hv, domid, 3)            # ports 192..255: table columns and per-port ABI state

An export is a dict {"version", "globals", "destroyed": [domid], "domains": [{"domid", "record",
"buckets": {bucket: data}}]}, domains in the hypervisor's own order. A host rebuilt from every domain's
record and all its buckets (export_all) is the host. Byte columns use the snapshot's encoding.

A store that keeps rows (one per domain record, one per bucket) applies an export by deleting the rows
of `destroyed` domains and writing each record and bucket; bucket rows from `record["buckets"]` up are
stale (a FIFO domain reset to 2-level has fewer) and apply_export() skips them, so a store may delete
them or not. Rebuilding is apply_export() of all rows onto `Hypervisor(settings)`, domains in the order
they were first written, with export_globals() as the globals.
"""

from __future__ import annotations

import zlib
from array import array
from typing import TYPE_CHECKING, Any

from evtchn.xen.constants import FIFO_PRIORITY_DEFAULT
from evtchn.xen.dirty import BUCKET_SHIFT, Dirty, all_buckets
from evtchn.xen.domain import Domain
from evtchn.xen.event_2l import TwoLevel
from evtchn.xen.event_fifo import Fifo
from evtchn.xen.ports import PortTable
from evtchn.xen.settings import HypervisorSettings
from evtchn.xen.snapshot import (
    SnapshotError,
    arr,
    b64,
    domain_fields,
    fifo_vcpus,
    fifo_vcpus_state,
    load_domain_fields,
    pairs,
    unarr,
    unb64,
)

if TYPE_CHECKING:
    from evtchn.xen.hypervisor import Hypervisor

DELTA_VERSION = 1
State = dict[str, Any]
_COLUMNS = (("state", "B"), ("notify", "H"), ("rdom", "H"), ("union", "I"), ("consumer", "B"), ("prio", "B"))


# ---------------------------------------------------------------------------------------------- export


def export_globals(hv: Hypervisor) -> State:
    s = hv.settings
    return {
        "settings": {"xen_version": list(s.xen_version), "fifo_compiled": s.fifo_compiled},
        "global_virq_handlers": pairs(hv.global_virq_handlers),
        "xen_consumers": [[name, index] for name, index in hv.xen_consumers().items()],
        "domid_rover": hv.domid_rover,
    }


def export_domain(hv: Hypervisor, domid: int) -> State:
    """A domain's record: its fields and vCPUs, its ABI's non-port state and its table's shape."""
    d = hv.domain(domid)
    t = d.ports
    abi = d.abi
    if isinstance(abi, Fifo):
        abi_state: State = {
            "kind": "fifo",
            "words": len(abi.words),
            "pages": list(abi.pages),
            "vcpus": fifo_vcpus_state(abi),
        }
    else:
        assert isinstance(abi, TwoLevel)
        abi_state = {"kind": "2l", "word_bits": abi.word_bits}
    return {
        **domain_fields(d),
        "abi": abi_state,
        "table": {"limit_port": t.limit_port, "valid": t.valid, "high": t.high, "busy": t.busy_ports()},
        # Buckets 0 .. n-1 hold the domain's ports; a stored bucket ≥ n is stale (FIFO → 2-level reset).
        "buckets": len(all_buckets(d)),
    }


def export_bucket(hv: Hypervisor, domid: int, bucket: int) -> State:
    """Ports [64·bucket, 64·bucket + 64): each table column and the ABI's per-port state."""
    d = hv.domain(domid)
    t = d.ports
    lo, hi = bucket << BUCKET_SHIFT, (bucket + 1) << BUCKET_SHIFT
    out: State = {}
    for name, code in _COLUMNS:
        col = getattr(t, name)
        out[name] = b64(col[lo:hi]) if code == "B" else arr(col[lo:hi])
    abi = d.abi
    if isinstance(abi, Fifo):
        out["words"] = arr(abi.words[lo:hi])
        out["lastq"] = arr(abi.lastq[lo:hi])
        out["saved"] = b64(abi.saved_pending[lo >> 3 : hi >> 3])
    else:
        assert isinstance(abi, TwoLevel)
        out["pending"] = b64(abi.pending_bits[lo >> 3 : hi >> 3])
        out["mask"] = b64(abi.mask_bits[lo >> 3 : hi >> 3])
    return out


def export_dirty(hv: Hypervisor, dirty: Dirty) -> State:
    """Everything `dirty` names, ready to write or to apply_export() onto a copy."""
    domains = []
    for domid in hv.domains:  # the hypervisor's order, which a copy must keep
        buckets = dirty.domains.get(domid)
        if buckets is None:
            continue
        domains.append(
            {
                "domid": domid,
                "record": export_domain(hv, domid),
                "buckets": {str(b): export_bucket(hv, domid, b) for b in sorted(buckets)},
            }
        )
    return {
        "version": DELTA_VERSION,
        "globals": export_globals(hv),
        "destroyed": sorted(dirty.destroyed),
        "domains": domains,
    }


def export_all(hv: Hypervisor) -> State:
    """The whole host as one export: every domain's record and all its buckets."""
    return export_dirty(
        hv,
        Dirty(created=frozenset(hv.domains), domains={i: all_buckets(d) for i, d in hv.domains.items()}),
    )


# ---------------------------------------------------------------------------------------------- apply


def _fresh_columns(n: int) -> dict[str, Any]:
    return {
        "state": bytearray(n),
        "notify": array("H", bytes(2 * n)),
        "rdom": array("H", bytes(2 * n)),
        "union": array("I", bytes(4 * n)),
        "consumer": bytearray(n),
        "prio": bytearray([FIFO_PRIORITY_DEFAULT]) * n,
    }


def _grow_to(col: bytearray | array[int], n: int, fill: int) -> None:
    missing = n - len(col)
    if missing <= 0:
        return
    if isinstance(col, array):
        col.extend(array(col.typecode, [fill]) * missing)
    else:
        col.extend(bytes([fill]) * missing)


def _load_abi_record(s: State, old: Domain | None, nr_vcpus: int) -> TwoLevel | Fifo:
    kind = s["kind"]
    if kind == "2l":
        word_bits = int(s["word_bits"])
        if word_bits not in (32, 64):
            raise SnapshotError(f"2-level word size {word_bits} is not 32 or 64")
        abi = TwoLevel(word_bits)
        if old is not None and isinstance(old.abi, TwoLevel) and old.abi.word_bits == word_bits:
            abi.pending_bits = bytearray(old.abi.pending_bits)
            abi.mask_bits = bytearray(old.abi.mask_bits)
        return abi
    if kind != "fifo":
        raise SnapshotError(f"unknown ABI kind {kind!r}")
    fifo = Fifo(nr_vcpus)
    if old is not None and isinstance(old.abi, Fifo):
        fifo.words = array("I", old.abi.words)
        fifo.lastq = array("I", old.abi.lastq)
        fifo.saved_pending = bytearray(old.abi.saved_pending)
    nwords = int(s["words"])
    del fifo.words[nwords:]
    del fifo.lastq[nwords:]
    _grow_to(fifo.words, nwords, 0)
    _grow_to(fifo.lastq, nwords, FIFO_PRIORITY_DEFAULT)  # queue (vCPU 0, priority 7); buckets overwrite
    fifo.pages = [int(g) for g in s["pages"]]
    fifo.vcpus = fifo_vcpus(s)
    return fifo


def _put(dst: bytearray | array[int], lo: int, src: bytearray | array[int]) -> None:
    if not src:
        return
    if lo + len(src) > len(dst):
        raise SnapshotError(f"bucket data at {lo} runs past {len(dst)} entries")
    dst[lo : lo + len(src)] = src  # type: ignore[assignment]  # same typecode: the caller pairs them


def _apply_domain(hv: Hypervisor, rec: State) -> None:
    s = rec["record"]
    old = hv.domains.get(int(s["domid"]))
    d = load_domain_fields(s)
    abi = _load_abi_record(s["abi"], old, d.max_vcpus)
    ts = s["table"]
    valid, high = int(ts["valid"]), int(ts["high"])
    columns = (
        {name: getattr(old.ports, name) for name, _ in _COLUMNS} if old is not None else _fresh_columns(0)
    )
    columns = {name: col[:valid] for name, col in columns.items()}
    for name, col in columns.items():
        _grow_to(col, valid, FIFO_PRIORITY_DEFAULT if name == "prio" else 0)
    nbuckets = s.get("buckets")  # absent in records written before it was kept
    for key, b in rec["buckets"].items():
        if nbuckets is not None and int(key) >= int(nbuckets):
            continue  # a stale row: the domain had more buckets before a FIFO → 2-level reset
        lo = int(key) << BUCKET_SHIFT
        for name, code in _COLUMNS:
            data = unb64(b[name]) if code == "B" else unarr(code, b[name])
            _put(columns[name], lo, data[: max(0, valid - lo)])
        if isinstance(abi, Fifo):
            _put(abi.words, lo, unarr("I", b["words"]))
            _put(abi.lastq, lo, unarr("I", b["lastq"]))
            _put(abi.saved_pending, lo >> 3, unb64(b["saved"]))
        else:
            _put(abi.pending_bits, lo >> 3, unb64(b["pending"]))
            _put(abi.mask_bits, lo >> 3, unb64(b["mask"]))
    d.abi = abi
    d.ports = PortTable.restore(
        int(ts["limit_port"]), d.bucket_ports, high, columns, {int(p) for p in ts["busy"]}
    )
    hv.domains[d.domid] = d


def apply_export(hv: Hypervisor, exp: State) -> None:
    """Bring `hv` to the state an export describes (SnapshotError, a ValueError, if it is not one)."""
    if not isinstance(exp, dict) or exp.get("version") != DELTA_VERSION:
        raise SnapshotError(f"expected a hypervisor export version {DELTA_VERSION}")
    try:
        g = exp["globals"]
        st = g["settings"]
        want = HypervisorSettings(
            xen_version=(int(st["xen_version"][0]), int(st["xen_version"][1])),
            fifo_compiled=bool(st["fifo_compiled"]),
        )
        if want != hv.settings:
            raise SnapshotError(
                f"export is of Xen {want.version_text}, this host is {hv.settings.version_text}"
            )
        for domid in exp["destroyed"]:
            hv.domains.pop(int(domid), None)
        for rec in exp["domains"]:
            _apply_domain(hv, rec)
        hv.global_virq_handlers = {int(k): int(v) for k, v in g["global_virq_handlers"]}
        rover = g.get("domid_rover")  # absent in globals written before the rover was modelled
        hv.domid_rover = int(rover) if rover is not None else max(hv.domid_rover, max(hv.domains, default=0))
        for name, index in sorted(g["xen_consumers"], key=lambda pair: int(pair[1])):
            if hv.xen_consumer_index(str(name)) != int(index):
                raise SnapshotError(f"Xen consumer {name!r} is not number {index}")
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError, zlib.error) as e:
        if isinstance(e, SnapshotError):
            raise
        raise SnapshotError(f"malformed hypervisor export: {type(e).__name__}: {e}") from None
