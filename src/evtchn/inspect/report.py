"""What `evtchn analyze` prints: the JSON document (schema in docs/analyze-json.md) and the tables.

doc = to_json(dump, analysis)      # every table the text output shows, as data
print_tables(dump, analysis)       # rich tables on stdout
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from evtchn.inspect.analyze import Analysis
from evtchn.inspect.model import Dump, Kind, Source, Table

SCHEMA = "evtchn-analyze/2"


def _domain_keys(d: dict[int, int]) -> dict[str, int]:
    return {str(k): v for k, v in sorted(d.items())}


def table_json(t: Table) -> dict[str, Any]:
    """One input table: whose (null when the text does not say), ports by kind and by remote domain."""
    counts = t.kind_counts()
    return {
        "source": t.source.value,
        "file": t.file,
        "line": t.line,
        "domain": t.domid,
        "domain_inferred": t.domid_inferred,
        "guest_file": t.guest,
        "layout": t.layout or None,
        "fifo_field": t.fifo,
        "ports": len(t),
        "by_kind": {k.label: counts.get(k, 0) for k in Kind if k is not Kind.UNKNOWN or counts.get(k)},
        "interdomain_by_remote": _domain_keys(t.remote_counts((Kind.INTERDOMAIN,))),
        "unbound_by_remote": _domain_keys(t.remote_counts((Kind.UNBOUND,))),
        # /proc/interrupts: IRQs per action name (a guest's devices, queues and vCPU ports), else null
        "actions": dict(sorted(Counter(t.names).items())) if t.names is not None else None,
    }


def to_json(dump: Dump, a: Analysis) -> dict[str, Any]:
    out: dict[str, Any] = {"schema": SCHEMA}
    out["inputs"] = {
        "files": dump.files,
        "kinds": dump.kinds(),
        "unwrapped": dump.unwrapped,
        "lines": dump.lines,
    }
    out.update(a.to_json())
    out["tables"] = [table_json(t) for t in dump.tables]
    out["messages"] = [
        {
            "file": m.file,
            "line": m.lineno,
            "text": m.text,
            "what": m.what,
            "cause": m.cause.value,
            "explanation": m.explanation,
            "errno": m.errno,
            "domid": m.domid,
            "device": m.device or None,
            "port": m.port,
        }
        for m in dump.messages
    ]
    out["evidence"] = [
        {"file": e.file, "line": e.lineno, "kind": e.kind, "value": e.value} for e in dump.evidence
    ]
    xs = dump.xenstore
    out["xenstore"] = None
    if xs is not None:
        out["xenstore"] = {
            "domains": [
                {
                    "domid": d.domid,
                    "name": d.name or None,
                    "store_port": d.store_port,
                    "console_port": d.console_port,
                }
                for d in sorted(xs.domains.values(), key=lambda d: d.domid)
            ],
            "devices": [
                {
                    "domid": v.domid,
                    "kind": v.kind,
                    "devid": v.devid,
                    "backend_domid": v.backend_domid,
                    "frontend_state": v.frontend_state,
                    "backend_state": v.backend_state,
                    "connected": v.connected,
                    "ports": v.ports,
                    "queues": v.queues,
                    "split": v.split,
                    "error": v.error or None,
                }
                for v in _devices(dump)
            ],
        }
    out["unrecognised"] = [
        {"file": b.file, "line": b.lineno, "reason": b.reason, "text": b.text} for b in dump.bad
    ]
    out["cut"] = [{"file": b.file, "line": b.lineno, "text": b.text} for b in dump.cut]
    return out


def _devices(dump: Dump) -> list[Any]:
    xs = dump.xenstore
    if xs is None:
        return []
    return sorted(
        xs.devices.values(), key=lambda v: (v.domid if v.domid is not None else -1, v.kind, v.devid)
    )


def _q(v: object) -> str:
    return "?" if v is None else str(v)


def print_tables(dump: Dump, a: Analysis) -> None:
    from rich.console import Console
    from rich.table import Table as RTable

    con = Console(highlight=False, soft_wrap=True, markup=False)  # captured text is not rich markup
    con.print(f"input: {', '.join(dump.kinds()) or 'nothing recognised'}")
    for u in dump.unwrapped:
        con.print(f"unwrapped: {u}")
    t = RTable(title="dom0 event channels", show_header=True)
    t.add_column("item")
    t.add_column("value", justify="right")
    t.add_row("source", a.dom0_source or "none")
    t.add_row("dom0 ports in use", _q(a.dom0_total))
    for kind, n in a.by_kind.items():
        t.add_row(f"  {kind}", str(n))
    if a.abi is not None:
        t.add_row(f"limit ({a.abi}{', from the input' if a.abi_inferred else ''})", str(a.limit))
        t.add_row("free", _q(a.free))
    else:
        t.add_row("ABI", "unknown: " + " / ".join(a.abi_candidates))
    t.add_row("per-VM cost", "?" if a.vm_cost is None else f"{a.vm_cost} ({a.vm_cost_source})")
    if a.abi is not None:
        t.add_row("headroom (VMs)", _q(a.headroom))
    con.print(t)
    for ev in a.abi_evidence:
        con.print(f"ABI evidence: {ev}")
    if a.abi is None and a.by_abi:
        h = RTable(title="headroom for every plausible ABI (the ABI is unknown)")
        for col in ("ABI", "limit", "free", "headroom (VMs)", "state"):
            h.add_column(col, justify="right" if col != "ABI" else "left")
        for name, r in a.by_abi.items():
            h.add_row(name, str(r.limit), str(r.free), _q(r.headroom), "EXHAUSTED" if r.exhausted else "room")
        con.print(h)
    if a.exhausted:
        con.print(f"EXHAUSTED: {a.exhausted}")
    if a.held_by_domain:
        h = RTable(title="dom0 ports held per remote domain")
        for col in ("domid", "interdomain", "waiting", "total"):
            h.add_column(col, justify="right")
        for dom, n in a.held_by_domain.items():
            h.add_row(
                str(dom),
                str(a.interdomain_by_domain.get(dom, 0)),
                str(a.unbound_by_domain.get(dom, 0)),
                str(n),
            )
        con.print(h)
    if a.short:
        s = RTable(title="exhaustion signature: domains short of dom0 ports (devices that failed to connect)")
        for col in ("domid", "dom0 ports", "siblings hold", "why"):
            s.add_column(col)
        for x in a.short:
            s.add_row(str(x.domid), str(x.holds), _q(x.siblings_hold), x.why)
        con.print(s)
    if a.by_consumer:
        c = RTable(title="dom0 event-channel IRQs by consumer (/proc/interrupts)")
        c.add_column("consumer")
        c.add_column("IRQs", justify="right")
        for name, n in a.by_consumer.items():
            c.add_row(name, str(n))
        con.print(c)
    if a.guests:
        g = RTable(title="other domains' tables")
        for col in ("domid", "source", "ports", "to dom0", "waiting for dom0", "dom0 ports"):
            g.add_column(col)
        for gs in a.guests:
            g.add_row(
                _q(gs.domid),
                gs.source,
                str(gs.ports),
                str(gs.to_dom0),
                str(gs.waiting_dom0),
                ",".join(map(str, gs.dom0_ports[:12])) + (" …" if len(gs.dom0_ports) > 12 else ""),
            )
        con.print(g)
    for tb in dump.tables:
        if tb.source is Source.INTERRUPTS and tb.guest:
            counts = ", ".join(f"{k.label} {n}" for k, n in tb.kind_counts().items())
            names = ", ".join(sorted({n for n in tb.names or [] if n}))
            con.print(f"guest /proc/interrupts at {tb.where}: {len(tb)} ports ({counts}): {names}")
    devs = _devices(dump)
    if devs:
        d = RTable(title="xenstore devices")
        for col in ("domid", "device", "backend", "state f/b", "event channels", "error"):
            d.add_column(col)
        for v in devs:
            ports = ", ".join(f"{k}={p}" for k, p in v.ports.items())
            d.add_row(
                _q(v.domid),
                f"{v.kind} {v.devid}",
                _q(v.backend_domid),
                f"{_q(v.frontend_state)}/{_q(v.backend_state)}",
                (ports or "none") + (f" ({v.queues} queues)" if v.queues else ""),
                v.error,
            )
        con.print(d)
    for m in dump.messages:
        con.print(f"message: {m.where}: {m.what} [{m.cause.value}]: {m.explanation}")
        con.print(f"  {m.text}")
    for note in a.notes:
        con.print(f"note: {note}")
    for b in dump.cut:
        con.print(f"cut: {b.describe()}")
    for b in dump.bad[:20]:
        con.print(f"unrecognised: {b.describe()}")
    if len(dump.bad) > 20:
        con.print(f"unrecognised: … and {len(dump.bad) - 20} more lines")
