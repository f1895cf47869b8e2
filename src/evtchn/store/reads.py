"""Reads for the commands that print part of a host, without building the host (issue 14, "The CLI
answers at once"): no toolstack, no xenstore, no VM records.

    hv = hypervisor(store, [0, 36])     # the hypervisor's settings and globals, and just these domains
    hv = hypervisor(store)              # every domain (the 'e' dump, per-domain counts)
    hv = any_hypervisor(store, [0])     # the same, or from the whole host for an older file
    counts = domain_counts(store)       # (domid, used, limit) per domain, without building one
    vms = vm_summaries(store)           # every VM row with its device and failed-device counts
    store = open_lazy(path)             # a Store whose host codec (the toolstack) loads on first use

`hypervisor` reads the host part's hypervisor globals, the chosen domains' records and their 64-port
buckets, and applies them to a fresh `Hypervisor` exactly as the full load does (xen/delta.py), so a
domain read here prints byte for byte what the whole host prints. It returns None for a file that keeps
whole domains (before xen/delta.py); `any_hypervisor` then reads the whole host instead. Damage in what
is read is a CorruptHost naming the file; damage elsewhere is not seen (the command prints only what it
reads).
"""

from __future__ import annotations

import base64
import os
import zlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from evtchn.store.errors import CorruptHost
from evtchn.store.writer import decode

if TYPE_CHECKING:
    from evtchn.store.rows import HostCodec
    from evtchn.store.sqlite import Store
    from evtchn.toolstack.host import Host
    from evtchn.xen.hypervisor import Hypervisor

_BAD_PART = (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError, zlib.error)
# (binascii.Error, from base64, is a ValueError)


class _LazyHostCodec:
    """The store's host codec, imported on first use.

    Opening a host file with the real codec imports the whole toolstack (pydantic, profiles, devices)
    before a single row is read; the reads here never need it. Anything that builds or saves a host (a
    transaction, `read()`, upgrading an old file) reaches the real codec through this.
    """

    def __getattr__(self, name: str) -> Any:
        from evtchn.store.codec import HOST_CODEC

        return getattr(HOST_CODEC, name)


def open_lazy(
    path: str | os.PathLike[str] | None = None,
    *,
    timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Store[Host]:
    """The host file at `path` (None: $EVTCHN_HOST or the default) as open_store() opens it, checked, but
    with the toolstack imported only if the caller builds the host."""
    from evtchn.store.paths import resolve_path
    from evtchn.store.sqlite import Store

    codec = cast("HostCodec[Host]", _LazyHostCodec())
    return Store(resolve_path(path), codec, timeout=timeout, on_wait=on_wait)


def hypervisor(store: Store[Any], domids: Iterable[int] | None = None) -> Hypervisor | None:
    """The hypervisor holding only `domids` (None: every domain) as the file last committed them.

    Domains absent from the file are simply absent (as in the full host). One read transaction."""
    with store.snapshot():
        head = store._q("SELECT data FROM parts WHERE kind = 'host' AND key = ''")
        if domids is None:
            doms = store._q("SELECT key, data FROM parts WHERE kind = 'dom' ORDER BY rowid")
            bkts = store._q("SELECT key, data FROM parts WHERE kind = 'bkt'")
        else:
            wanted = sorted({int(d) for d in domids})
            marks = ", ".join("?" * len(wanted))
            doms = store._q(
                f"SELECT key, data FROM parts WHERE kind = 'dom' AND key IN ({marks}) ORDER BY rowid",
                [str(d) for d in wanted],
            )
            bkts = []
            for d in wanted:  # keys "<domid>/<bucket>": the range ["36/", "360") is domain 36's
                sql = "SELECT key, data FROM parts WHERE kind = 'bkt' AND key >= ? AND key < ?"
                bkts.extend(store._q(sql, (f"{d}/", f"{d}0")))
    if not head:
        raise CorruptHost(f"{store.path}: corrupt host file: it holds no host")
    try:
        hv = _rebuild(decode(head[0][0])["hv"], doms, bkts)
        if hv is not None:  # what Xen itself guarantees of each domain read (store/verify.py)
            from evtchn.store.verify import check_domain

            consumers = len(hv.xen_consumers())
            for dom in hv.domains.values():
                check_domain(dom, consumers)
        return hv
    except _BAD_PART as e:  # SnapshotError is a ValueError
        raise CorruptHost(f"{store.path}: corrupt host file: the hypervisor cannot be read: {e}") from None


def any_hypervisor(store: Store[Any], domids: Iterable[int] | None = None) -> Hypervisor:
    """hypervisor(), or the whole host's for a file that keeps whole domains (inside a snapshot too)."""
    hv = hypervisor(store, domids)
    if hv is not None:
        return hv
    conn = store._db()
    host = store._load(conn) if conn.in_transaction else store.read()
    full: Hypervisor = host.hv
    return full


def _rebuild(globals_: dict[str, Any], doms: list[Any], bkts: list[Any]) -> Hypervisor | None:
    from evtchn.xen.delta import DELTA_VERSION
    from evtchn.xen.hypervisor import Hypervisor
    from evtchn.xen.settings import HypervisorSettings

    buckets: dict[str, dict[str, Any]] = {}
    for key, data in bkts:
        domid, _, bucket = str(key).partition("/")
        buckets.setdefault(domid, {})[bucket] = decode(data)
    records = []
    for key, data in doms:
        part = decode(data)
        if "record" not in part:
            return None  # a whole-domain part (before xen/delta.py)
        records.append({"domid": int(key), "record": part["record"], "buckets": buckets.get(str(key), {})})
    st = globals_["settings"]
    hv = Hypervisor(
        HypervisorSettings(
            xen_version=(int(st["xen_version"][0]), int(st["xen_version"][1])),
            fifo_compiled=bool(st["fifo_compiled"]),
        )
    )
    hv.apply_export({
        "version": DELTA_VERSION,
        "globals": {k: v for k, v in globals_.items() if k != "version"},
        "destroyed": [],
        "domains": records,
    })  # fmt: skip
    return hv


class DomainCount(NamedTuple):
    """A domain's event channels as `host show` prints them: active_evtchns and its limit_port."""

    domid: int
    used: int
    limit: int


_BUCKET_SHIFT = 6  # ports per stored bucket: 64 (xen/dirty.py BUCKET_SHIFT)
_FREE = 0  # ECS_FREE (xen/constants.py; reference §1)


def domain_counts(store: Store[Any]) -> list[DomainCount] | None:
    """Every domain's active event channels and limit, by domid, from the domain records and only the
    `state` column of their buckets: neither the hypervisor model nor any domain is built.

    The figures are the ones the model derives (xen/ports.py): limit_port as the record keeps it (the
    domain's min(max_evtchn_port, max_evtchns − 1), reference §1), and active_evtchns = the ports in
    [1, high) that are not FREE, less the FREE ports still linked in a FIFO queue ("busy"). tests/cli
    checks them against the built hypervisor. None for a file that keeps whole domains."""
    with store.snapshot():
        doms = store._q("SELECT key, data FROM parts WHERE kind = 'dom'")
        bkts = store._q("SELECT key, data FROM parts WHERE kind = 'bkt'")
    try:
        states: dict[str, list[tuple[int, str]]] = {}
        for key, data in bkts:
            domid, _, bucket = str(key).partition("/")
            states.setdefault(domid, []).append((int(bucket), decode(data)["state"]))
        out = []
        for key, data in doms:
            rec = decode(data).get("record")
            if rec is None:
                return None  # a whole-domain part (before xen/delta.py)
            out.append(_count(int(key), rec, states.get(str(key), [])))
    except _BAD_PART as e:
        raise CorruptHost(f"{store.path}: corrupt host file: a domain cannot be read: {e}") from None
    return sorted(out)


def _count(domid: int, rec: dict[str, Any], buckets: list[tuple[int, str]]) -> DomainCount:
    table = rec["table"]
    valid, high = int(table["valid"]), int(table["high"])
    if not 0 < high <= valid:
        raise ValueError(f"domain {domid}: port table mark {high} does not fit {valid}")
    nbuckets = rec.get("buckets")  # a stored bucket from here up is stale (xen/delta.py)
    state = bytearray(valid)  # every port FREE until a bucket says otherwise
    for bucket, text in buckets:
        if nbuckets is not None and bucket >= int(nbuckets):
            continue
        lo = bucket << _BUCKET_SHIFT
        raw = _column(text)[: max(0, valid - lo)]
        if not raw:
            continue  # a bucket past the table (a FIFO domain's event words only)
        if lo + len(raw) > valid:
            raise ValueError(f"domain {domid}: bucket data at {lo} runs past {valid} ports")
        state[lo : lo + len(raw)] = raw
    busy = {int(p) for p in table["busy"]}
    free = state.count(_FREE, 1, high) - sum(1 for p in busy if 0 < p < high and state[p] == _FREE)
    return DomainCount(domid, high - 1 - free - len(busy), int(table["limit_port"]))


def _column(text: str) -> bytes:
    """A byte column as the hypervisor's snapshot encodes it: base64, "z:" + base64 of deflate past a
    page (xen/snapshot.py b64)."""
    if text.startswith("z:"):
        return zlib.decompress(base64.b64decode(text[2:].encode("ascii"), validate=True))
    return base64.b64decode(text.encode("ascii"), validate=True)


class VmSummary(NamedTuple):
    """A VM row as `vm list` prints it: the row's columns and its devices counted in SQL."""

    name: str
    uuid: str
    power_state: str
    domid: int | None
    vm_type: str
    vcpus: int
    memory_mib: int
    dom0_ports: int
    devices: int
    failed_devices: int


_SUMMARY_SQL = """
SELECT v.name, v.uuid, v.power_state, v.domid, v.vm_type, v.vcpus, v.memory_mib, v.dom0_ports,
       count(d.ref), coalesce(sum(d.status_code != 0), 0)
FROM vms AS v LEFT JOIN devices AS d ON d.vm_ref = v.ref
GROUP BY v.ref ORDER BY v.name, v.uuid
"""


def _summary(r: tuple[Any, ...]) -> VmSummary:
    domid = None if r[3] is None else int(r[3])
    counts = (int(r[5]), int(r[6]), int(r[7]), int(r[8]), int(r[9]))
    return VmSummary(str(r[0]), str(r[1]), str(r[2]), domid, str(r[4]), *counts)


def vm_summaries(store: Store[Any]) -> list[VmSummary]:
    """Every VM ordered by name then uuid, with how many devices it has and how many failed: one
    aggregate query, no device's JSON decoded."""
    rows = store._q(_SUMMARY_SQL)
    try:
        return [_summary(r) for r in rows]
    except _BAD_PART as e:
        raise CorruptHost(f"{store.path}: corrupt host file: a VM row cannot be read: {e}") from None
