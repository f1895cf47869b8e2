"""Naming the tables a dump left anonymous (a headerless lsevtchn, the cut head of an 'e' dump)."""

from __future__ import annotations

from collections import Counter

import numpy as np

from evtchn.inspect.model import Kind, Source, Table


def infer_domids(tables: list[Table]) -> None:
    """Name tables the text left anonymous (a headerless lsevtchn, the cut head of an 'e' dump).

    First from peers: a port P with `d=G p=Q` whose domain G's table shows port Q pointing back at port
    P names the owner. Failing that, a table whose channels lead to other domains rather than to
    domain 0, or that has none (a bare `lsevtchn` with its default domid 0), or that holds physical
    IRQs, is taken as dom0's when no table claims domain 0 (marked `domid_inferred`).
    """
    known = {(t.source, t.domid): t for t in tables if t.domid is not None}
    has_dom0 = any(t.domid == 0 for t in tables if t.source is not Source.INTERRUPTS)
    for t in tables:
        if not known and has_dom0:
            break  # no peers to vote and dom0 named: the rest stay anonymous (tens of thousands, maybe)
        if t.domid is not None or t.source is Source.INTERRUPTS:
            continue
        inter = np.flatnonzero(t.kind == int(Kind.INTERDOMAIN)) if known else np.zeros(0, dtype=np.int64)
        votes: Counter[int] = Counter()
        for j in inter[:16].tolist():
            peer = known.get((t.source, int(t.remote_dom[j])))
            if peer is None:
                continue
            hit = np.flatnonzero(peer.port == t.remote_port[j])
            if hit.size and peer.remote_port[hit[0]] == t.port[j]:
                votes[int(peer.remote_dom[hit[0]])] += 1
        if votes:
            t.domid, t.domid_inferred = votes.most_common(1)[0][0], True
            continue
        if has_dom0:
            continue
        remotes = t.remote_dom[(t.kind == int(Kind.INTERDOMAIN)) | (t.kind == int(Kind.UNBOUND))]
        pirqs = bool((t.kind == int(Kind.PIRQ)).any())  # physical IRQs: the hardware domain
        if not has_dom0 and (pirqs or remotes.size == 0 or int((remotes != 0).sum()) * 2 > remotes.size):
            t.domid, t.domid_inferred = 0, True
            has_dom0 = True
