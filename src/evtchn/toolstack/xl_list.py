"""`xl list` as a host shows it: every domain Xen has, named from xenstore (xen: tools/xl/xl_list.c).

    rows = xl_list(plumbing)            # [XlRow("Domain-0", 0, 4096, 4, "r-----"), ...]
    print(format_xl_list(rows))

A domain with no /local/domain/N/name (a failed creation's dying domain, whose xenstore home libxl removed)
prints as `(null)`: xl_list.c passes libxl_domid_to_name()'s NULL to printf("%-40s"), which glibc prints
as "(null)". Its memory is what Xen still holds for it (0 here: only the page a dom0 daemon maps).
The State column is Xen's (Domain.xl_state: r b p s <reason> d).
"""

from __future__ import annotations

from dataclasses import dataclass

from evtchn.toolstack.plumbing import DOM0_NAME, Plumbing


@dataclass(frozen=True, slots=True)
class XlRow:
    name: str
    domid: int
    mem_mib: int
    vcpus: int
    state: str


def xl_list(p: Plumbing) -> list[XlRow]:
    rows = []
    for domid in sorted(p.hv.domains):
        d = p.hv.domains[domid]
        if domid == 0:
            name, mem = DOM0_NAME, p.hardware.dom0_memory_mib
        else:
            name = p.xenstore.get(f"/local/domain/{domid}/name") or "(null)"
            mem = p.footprints.get(domid, 0)
        rows.append(XlRow(name, domid, mem, d.max_vcpus, d.xl_state))
    return rows


def format_xl_list(rows: list[XlRow]) -> str:
    """xl_list.c list_domains(): "%-40s %5d %5lu %5d     %s" under its header (Time(s) left out)."""
    out = ["Name                                        ID   Mem VCPUs\tState"]
    out += [f"{r.name:<40} {r.domid:5d} {r.mem_mib:5d} {r.vcpus:5d}     {r.state}" for r in rows]
    return "\n".join(out)
