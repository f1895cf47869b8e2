"""The exhaustion signature: domains holding fewer dom0 ports than their siblings of the same shape
(reference §8.3a). When dom0 runs out, the store and console channels and the first devices of the last
VMs take the last ports, and each later backend fails at connect time: those VMs hold fewer dom0 ports
than VMs of the same shape, their own tables keep the failed frontends' ports "Waiting connection -
Remote Domain 0", and xenstore has an error node for each failed device.

    short = short_domains(held, guests, xenstore)   # [Short(domid, holds, siblings_hold, why)]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from evtchn.inspect.findings import XsTree


class _Guest(Protocol):
    domid: int | None
    ports: int
    to_dom0: int
    waiting_dom0: int


@dataclass(frozen=True, slots=True)
class Short:
    domid: int
    holds: int  # dom0 ports the domain holds
    siblings_hold: int | None  # what domains of the same shape hold (None: no sibling to compare)
    why: str


def short_domains(held: dict[int, int], guests: Sequence[_Guest], xs: XsTree | None) -> list[Short]:
    """Domains that show the exhaustion signature, by domid, with the evidence for each."""
    out: dict[int, Short] = {}
    # Shape from the guest's own table (its total ports: vCPUs and frontends), else one shape for all.
    shape: dict[int, int] = {g.domid: g.ports for g in guests if g.domid is not None}
    groups: dict[int | None, list[int]] = {}
    for dom in held:
        groups.setdefault(shape.get(dom), []).append(dom)
    for key, doms in groups.items():
        if len(doms) < 3:
            continue
        common, n = Counter(held[d] for d in doms).most_common(1)[0]
        if n * 2 <= len(doms):
            continue  # no clear majority: the shapes differ
        like = "the same shape" if key is not None else "most domains in the dump"
        for d in doms:
            if 0 < held[d] < common:
                out[d] = Short(d, held[d], common, f"holds {held[d]} dom0 ports where {like} hold {common}")
    for g in guests:
        if g.domid is not None and g.waiting_dom0 and g.to_dom0:
            prev = out.get(g.domid)
            why = f"its own table has {g.waiting_dom0} port(s) still waiting for dom0 to connect" + (
                f"; {prev.why}" if prev else ""
            )
            out[g.domid] = Short(
                g.domid, held.get(g.domid, g.to_dom0), prev.siblings_hold if prev else None, why
            )
    if xs is not None:
        failed: dict[int, list[str]] = {}
        for dev in xs.devices.values():
            if dev.domid is not None and dev.error and not dev.connected:
                failed.setdefault(dev.domid, []).append(f"{dev.kind} {dev.devid}: {dev.error!r}")
        for dom, what in failed.items():
            prev = out.get(dom)
            why = "xenstore error node(s) " + "; ".join(what) + (f"; {prev.why}" if prev else "")
            out[dom] = Short(
                dom, held.get(dom, prev.holds if prev else 0), prev.siblings_hold if prev else None, why
            )
    return [out[d] for d in sorted(out)]
