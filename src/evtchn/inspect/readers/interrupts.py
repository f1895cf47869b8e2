"""Reader for a Linux /proc/interrupts (reference §9.3): one IRQ per bound event channel.

Rows whose chip is a Xen one (`xen-dyn`, `xen-dyn-lateeoi`, `xen-percpu`, `xen-pirq`) are ports; the
action name says what each one is for (`timer0`, `resched1`, `evtchn:xenstored`, `vif5.0-q0-tx`, …).
"""

from __future__ import annotations

import re

from evtchn.inspect.model import NONE, Kind, Source
from evtchn.inspect.readers.base import TOO_BIG, Row, Sink, Verdict

_IRQ_HEADER = re.compile(r"^\s*(?:CPU\d+\s*)+$")
_IRQ_ROW = re.compile(r"^\s*(\d+):((?:\s+\d+)*)\s+(\S.*)$")
_IRQ_SUMMARY = re.compile(r"^\s*[A-Za-z][A-Za-z0-9]{1,5}:(?:\s+\d+)*(?:\s+\S.*)?$")
_VIF = re.compile(r"^vif(\d+)\.\d+")
# Linux action names of per-CPU VIRQs and IPIs (§9.3) and of dom0's global VIRQs (§6).
_PERCPU_VIRQ = {"timer": 0, "debug": 1}
_GLOBAL_VIRQ = {"hvc_console": 2, "xen-pcpu": 9, "mce": 16}


def irq_row(m: re.Match[str]) -> Row | str | None:
    """A numbered /proc/interrupts row: a port if its chip is a Xen one, None for other interrupts,
    or the reason the row is garbled."""
    rest = m.group(3).split()
    chip = rest[0]
    if not chip.startswith("xen-"):
        return None
    handler = ""
    names: list[str] = []
    for tok in rest[1:]:
        if not handler and tok.startswith("-"):
            handler = tok[1:]
        elif handler or not tok.isdigit():
            names.append(tok)
    name = " ".join(names)
    base = re.sub(r"\d+$", "", names[0].rstrip(",")) if names else ""
    row = Row(port=NONE, kind=int(Kind.INTERDOMAIN), vcpu=NONE, name=name)
    if chip == "xen-pirq":
        row.kind = int(Kind.PIRQ)
    elif chip == "xen-percpu":
        is_virq = handler == "virq" or (handler != "ipi" and base in _PERCPU_VIRQ)
        row.kind = int(Kind.VIRQ if is_virq else Kind.IPI)
        row.number = _PERCPU_VIRQ.get(base, NONE) if is_virq else NONE
    elif base in _GLOBAL_VIRQ:
        row.kind, row.number = int(Kind.VIRQ), _GLOBAL_VIRQ[base]
    else:
        vif = _VIF.match(name)
        row.rdom = int(vif.group(1)) if vif else NONE
    return TOO_BIG if row.too_big() else row


def line(sink: Sink, lineno: int, text: str) -> Verdict:
    if _IRQ_HEADER.match(text):
        sink.irq = sink.new(Source.INTERRUPTS, 0, lineno)
        return True
    m = _IRQ_ROW.match(text)
    if m:
        row = irq_row(m)
        if isinstance(row, str):
            return row
        if sink.irq is None:
            if row is None:
                return None  # a numbered line with no Xen chip and no CPU header: not ours
            sink.irq = sink.new(Source.INTERRUPTS, 0, lineno)
        if row is not None:
            sink.add(sink.irq, row)
        return True
    if sink.irq is not None and _IRQ_SUMMARY.match(text):
        return True  # NMI:, LOC:, ERR:, MIS: …
    return None
