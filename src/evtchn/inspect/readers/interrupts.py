"""Reader for a Linux /proc/interrupts (reference §9.3): one IRQ per bound event channel.

Rows whose chip is a Xen one (`xen-dyn`, `xen-dyn-lateeoi`, `xen-percpu`, `xen-pirq`) are ports; the
action name says what each one is for (`timer0`, `resched1`, `evtchn:xenstored`, `vif5.0-q0-tx`, …).
"""

from __future__ import annotations

import re

from evtchn.inspect.model import NONE, Kind, Source, Table
from evtchn.inspect.readers.base import TOO_BIG, Row, Sink, Verdict, num

_IRQ_HEADER = re.compile(r"^\s*(?:CPU\d+\s*)+$")
_IRQ_ROW = re.compile(r"^\s*(\d+):((?:\s+\d+)*)\s+(\S.*)$")
_IRQ_SUMMARY = re.compile(r"^\s*[A-Za-z][A-Za-z0-9]{1,5}:(?:\s+\d+)*(?:\s+\S.*)?$")
_VIF = re.compile(r"^vif(\d+)\.\d+")
# Linux action names of per-CPU VIRQs and IPIs (§9.3) and of dom0's global VIRQs (§6).
_PERCPU_VIRQ = {"timer": 0, "debug": 1}
_GLOBAL_VIRQ = {"hvc_console": 2, "xen-pcpu": 9, "mce": 16}


# The chip column, alone ("xen-dyn", modern x86) or joined with the flow handler's name by older kernels'
# " %8s" "-%-8s" ("xen-pirq-ioapic-edge", "xen-percpu-virq", "xen-dyn-event"; linux: kernel/irq/proc.c).
_CHIP = re.compile(r"^xen-(dyn-lateeoi|dyn|percpu|pirq)(?:-(\S+))?$")
JOINED = "joined chip names (older kernel)"
SEPARATE = "chip and handler columns"
LEVEL = "Edge/Level column (newer kernel)"


def irq_row(m: re.Match[str]) -> tuple[Row, str] | str | None:
    """A numbered /proc/interrupts row: (port, layout) if its chip is a Xen one, None for other
    interrupts, or the reason the row is garbled. Three layouts: older kernels join chip and handler
    ("xen-percpu-virq  timer0"); later ones print them apart ("xen-percpu  -virq  timer0"); newer ones
    (GENERIC_IRQ_SHOW_LEVEL, an optional hwirq) add a column ("xen-percpu  Edge  -virq  timer0")."""
    tokens = m.group(3).split()
    chip_m = _CHIP.match(tokens[0])
    if chip_m is None:
        return None
    chip, handler = chip_m.group(1), chip_m.group(2) or ""
    layout = JOINED if handler else SEPARATE
    i = 1
    if not handler:
        if i < len(tokens) and tokens[i].isdigit():
            i += 1  # hwirq
        if i < len(tokens) and tokens[i] in ("Edge", "Level"):
            layout = LEVEL
            i += 1
        if i < len(tokens) and tokens[i].startswith("-"):
            handler = tokens[i][1:]
            i += 1
    names = tokens[i:]
    name = " ".join(names)
    base = re.sub(r"\d+$", "", names[0].rstrip(",")) if names else ""
    row = Row(port=NONE, kind=int(Kind.INTERDOMAIN), vcpu=NONE, name=name)
    if chip == "pirq":
        row.kind = int(Kind.PIRQ)
    elif chip == "percpu":
        is_virq = handler == "virq" or (handler != "ipi" and base in _PERCPU_VIRQ)
        row.kind = int(Kind.VIRQ if is_virq else Kind.IPI)
        row.number = _PERCPU_VIRQ.get(base, NONE) if is_virq else NONE
    elif base in _GLOBAL_VIRQ:
        row.kind, row.number = int(Kind.VIRQ), _GLOBAL_VIRQ[base]
    else:
        vif = _VIF.match(name)
        row.rdom = num(vif.group(1)) if vif else NONE
    return TOO_BIG if row.too_big() else (row, layout)


# Who owns the file: dom0 (hardware interrupts, backends, the daemons that bind for guests) or a guest
# (frontends: blkfront "blkif", netfront "<ifname>[-q<n>]-tx/-rx"; linux: drivers/block/xen-blkfront.c,
# drivers/net/xen-netfront.c).
_DOM0_NAMES = re.compile(
    r"^(?:vif\d+\.\d+|blkif-backend|evtchn:(?:xenstored|xenconsoled|qemu|tapdisk)|xen-pcpu|mce)"
)
_GUEST_NAMES = re.compile(r"^(?:blkif|(?!vif\d+\.\d)\S+?(?:-q\d+)?-[tr]x)$")


def settle(table: Table) -> None:
    """Decide, once the whole file is read, whether a /proc/interrupts table is dom0's or a guest's.

    A guest's file is its own table: its frontends, queues and vCPU ports, all bound to dom0's backends,
    and `hvc_console` there is the PV console channel rather than dom0's VIRQ_CONSOLE (§6, §9.3)."""
    names = table.names or []
    kind = table.kind
    dom0 = bool((kind == int(Kind.PIRQ)).any()) or any(_DOM0_NAMES.match(n) for n in names)
    guest = not dom0 and any(_GUEST_NAMES.match(n) for n in names)
    if guest:
        table.guest, table.domid, table.domid_inferred = True, None, False
        dyn = [
            i
            for i, n in enumerate(names)
            if kind[i] != int(Kind.IPI) and (n == "hvc_console" or kind[i] == int(Kind.INTERDOMAIN))
        ]
        for i in dyn:
            table.cols.kind[table.lo + i] = int(Kind.INTERDOMAIN)
            table.cols.number[table.lo + i] = NONE
            table.cols.remote_dom[table.lo + i] = 0  # backends, xenstored and xenconsoled in dom0
    elif not dom0:
        table.domid_inferred = True  # nothing says whose: taken as dom0's, and the analysis says so


def line(sink: Sink, lineno: int, text: str) -> Verdict:
    if _IRQ_HEADER.match(text):
        sink.irq = sink.new(Source.INTERRUPTS, 0, lineno)
        return True
    m = _IRQ_ROW.match(text)
    if m:
        got = irq_row(m)
        if isinstance(got, str):
            return got
        if sink.irq is None:
            if got is None:
                return None  # a numbered line with no Xen chip and no CPU header: not ours
            sink.irq = sink.new(Source.INTERRUPTS, 0, lineno)
        if got is not None:
            sink.add(sink.irq, got[0])
            if sink.irq.layout in ("", SEPARATE):
                sink.irq.layout = got[1]
        return True
    if sink.irq is not None and _IRQ_SUMMARY.match(text):
        return True  # NMI:, LOC:, ERR:, MIS: …
    return None
