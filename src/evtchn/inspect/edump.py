"""The 'e' debug key's event-channel dump of a simulated hypervisor (reference §9.2).

    text = format_edump(hv)                              # Xen 4.4+ layout, as the console prints it
    text = format_edump(hv, layout="4.1", prefix=True)   # as `xl dmesg` shows a XenServer 6.2 host

Layouts follow xen/common/event_channel.c at RELEASE-4.1.0, 4.2.0 and 4.4.0 (HEAD prints as 4.4).
"""

from __future__ import annotations

from typing import Literal

from evtchn.xen.constants import ECS
from evtchn.xen.hypervisor import Hypervisor, PortDump

Layout = Literal["4.1", "4.2", "4.4"]
LAYOUTS: tuple[Layout, ...] = ("4.1", "4.2", "4.4")
XEN_PREFIX = "(XEN) "


def layout_for_version(version: tuple[int, int]) -> Layout:
    """The layout a given Xen release prints: 4.1, 4.2–4.3, or 4.4 onwards."""
    if version < (4, 2):
        return "4.1"
    if version < (4, 4):
        return "4.2"
    return "4.4"


def bitmap_list(bits: set[int]) -> str:
    """Xen's `%*pbl` / bitmap_scnlistprintf: sorted ranges, e.g. {0, 1, 2, 5} → "0-2,5"."""
    parts: list[str] = []
    run: list[int] = []
    for b in sorted(bits):
        if run and b == run[-1] + 1:
            run.append(b)
            continue
        if run:
            parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [b]
    if run:
        parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ",".join(parts)


def _suffix(p: PortDump, layout: Layout) -> str:
    if p.state == ECS.UNBOUND:
        return f" d={p.remote_dom}"
    if p.state == ECS.INTERDOMAIN:
        return f" d={p.remote_dom} p={p.remote_port}"
    if p.state == ECS.PIRQ:
        # 4.2 added the Xen IRQ behind the PIRQ.
        return f" p={p.pirq}" if layout == "4.1" else f" p={p.pirq} i={p.irq}"
    if p.state == ECS.VIRQ:
        return f" v={p.virq}"
    return ""


def format_port(p: PortDump, layout: Layout) -> str:
    """One port line without the console prefix, newline included."""
    pend, mask = int(p.pending), int(p.masked)
    if layout == "4.1":
        # 4.1 prints consumer_is_xen (0/1) last; later releases print the consumer index after n=.
        x = 1 if p.xen_consumer else 0
        return (
            f"    {p.port:4d} [{pend}/{mask}]: s={int(p.state)} n={p.notify_vcpu}{_suffix(p, layout)} x={x}\n"
        )
    mid = f"[{pend}/{mask}]" if layout == "4.2" else f"[{pend}/{mask}/{p.abi_field}]"
    return (
        f"    {p.port:4d} {mid}: s={int(p.state)} n={p.notify_vcpu} x={p.xen_consumer}{_suffix(p, layout)}\n"
    )


def format_edump(hv: Hypervisor, *, layout: Layout = "4.4", prefix: bool = False, key: str = "e") -> str:
    """The whole dump, every domain in domid order; `prefix` adds `xl dmesg`'s "(XEN) " to each line."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    header = "    port [p/m]\n" if layout != "4.4" else "    port [p/m/s]\n"
    lines = [f"'{key}' pressed -> dumping event-channel info\n"]
    for domid in sorted(hv.domains):
        d = hv.domains[domid]
        lines.append(f"Event channel information for domain {domid}:\n")
        lines.append(f"Polling vCPUs: {{{bitmap_list(d.polling)}}}\n")
        lines.append(header)
        lines.extend(format_port(p, layout) for p in hv.dump_domain(domid))
    if prefix:
        return "".join(XEN_PREFIX + line for line in lines)
    return "".join(lines)
