"""Reader for the error messages and banners admins have in hand (reference §8.3, §8.3a, §12).

Each message is recognised wherever it sits in a line (after a kernel timestamp, a syslog prefix or
"(XEN) "), explained, and tied to a cause: dom0 out of channels, the guest out of channels, a bad bind
argument, or a device model that did not start. Sources of the texts:

- blkback `xenbus_dev_fatal(dev, err, "mapping ring-ref port %u")` (older "mapping ring-ref %lu port %u"),
  netback "mapping shared-frames %lu/%lu port tx %u rx %u" (linux: drivers/block/xen-blkback/xenbus.c,
  drivers/net/xen-netback/xenbus.c); xenbus_dev_fatal prints "%i " of -err first (xenbus_client.c).
- a frontend's `xenbus_alloc_evtchn` failure "allocating event channel" (xenbus_client.c).
- Xen's gdprintk "EVTCHNOP failure: domain %d, error %d" / "EVTCHNOP failure: error %d" (§2).
- oxenstored's "evtchn bind_interdomain failed", qemu's "xenevtchn_bind_interdomain failed".
- xenopsd's `Ioemu_failed(%s, %s)` (xen-api: ocaml/xenopsd/xc/device.ml), FAILED_TO_START_EMULATOR.
- xl: "libxl: error: libxl_create.c:…: domain N console tty: timed out" (§8.3a).
- banners: Linux "Using FIFO-based ABI" / "Using 2-level ABI" (§12), Xen "Xen version X.Y".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from evtchn.inspect.findings import Cause, Evidence, Message
from evtchn.inspect.readers.base import Sink, Verdict, num

_ERRNO = {12: "ENOMEM", 22: "EINVAL", 28: "ENOSPC", 1: "EPERM", 3: "ESRCH", 17: "EEXIST", 16: "EBUSY"}
# A line holds a message only if it holds one of these (the vectorised quiet-line filter uses them too).
KEYWORDS = (
    "mapping",
    "allocating event channel",
    "bind_interdomain",
    "EVTCHNOP",
    "Ioemu_failed",
    "console tty",
    "-based ABI",
    "-level ABI",
    "Xen version",
    "FAILED_TO_START_EMULATOR",
    "ENOSPC",
)

# Lines from logs that belong to no dump: counted as other console output, not as unrecognised.
_LOG_LINE = re.compile(
    r"^(?:\[ *\d+\.\d+\]"  # kernel log: "[   12.345678] "
    r"|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d "  # syslog: "Dec  6 18:00:01 host prog: "
    r"|\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d"  # ISO timestamps
    r"|\[\d{8}T\d\d:\d\d:\d\d"  # xensource.log
    r"|libxl: |xl: |Parsing config from )"
)


def _errno_text(e: int) -> str:
    return f"{e} ({_ERRNO[e]})" if e in _ERRNO else str(e)


def _by_errno(e: int, out: Cause, what_out: str) -> tuple[Cause, str]:
    if e == 28:
        return out, what_out
    if e == 22:
        return Cause.BAD_ARGUMENT, (
            "EINVAL: the port was not one the caller could bind (wrong domain or state)"
        )
    if e == 12:
        return Cause.OTHER, "ENOMEM: the backend domain is out of memory, not of event channels"
    return Cause.OTHER, f"error {_errno_text(e)}"


_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], Message | Evidence]]


def _blkback(m: re.Match[str]) -> Message:
    dom, dev, e, port = num(m[1]), m[2], abs(num(m[3])), num(m[4])
    cause, why = _by_errno(
        e,
        Cause.DOM0_OUT,
        f"the backend domain (dom0) has no free event channel: blkback could not bind port {port} of "
        f"domain {dom}'s disk {dev}, so the disk stays unconnected (reference §8.3a)",
    )
    return Message(
        "",
        0,
        "",
        what="blkback could not connect a disk",
        cause=cause,
        explanation=why,
        errno=e,
        domid=dom,
        device=f"vbd {dev}",
        port=port,
    )


def _netback(m: re.Match[str]) -> Message:
    dom, dev, e, tx = num(m[1]), m[2], abs(num(m[3])), num(m[6])
    ports = f"ports tx {tx} rx {m[7]}" if m[7] else f"port {tx}"
    cause, why = _by_errno(
        e,
        Cause.DOM0_OUT,
        f"the backend domain (dom0) has no free event channel: netback could not bind {ports} of "
        f"domain {dom}'s network interface {dev}, so it stays unconnected (reference §8.3a)",
    )
    return Message(
        "",
        0,
        "",
        what="netback could not connect a network interface",
        cause=cause,
        explanation=why,
        errno=e,
        domid=dom,
        device=f"vif {dev}",
        port=tx,
    )


def _frontend(m: re.Match[str]) -> Message:
    kind, name, e = m[1], m[2], abs(num(m[3]))
    cause, why = _by_errno(
        e,
        Cause.GUEST_OUT,
        f"the guest's own table is full (its max_event_channels): its {kind} frontend {name} got no port; "
        "netfront falls back to one shared channel, other devices stay absent (reference §8.3a)",
    )
    return Message(
        "",
        0,
        "",
        what="a guest frontend could not allocate a channel",
        cause=cause,
        explanation=why,
        errno=e,
        device=f"{kind} {name}",
    )


def _evtchnop(m: re.Match[str]) -> Message:
    caller = num(m[1]) if m[1] else None
    other = m[2] or m[3]
    e = abs(num(m[4]))
    who = "dom0" if caller == 0 else f"domain {caller}" if caller is not None else "the calling domain"
    out = Cause.DOM0_OUT if caller == 0 else Cause.GUEST_OUT
    cause, why = _by_errno(e, out, f"{who} has no free event channel (ENOSPC)")
    if e == 22:
        why = (
            f"EINVAL from {who}: a bind to a port that is not unbound for it, a bad port number or "
            "VIRQ, or a closed peer (Xen event_channel.c)"
        )
    return Message(
        "",
        0,
        "",
        what="Xen refused an event-channel operation",
        cause=cause,
        explanation=why,
        errno=e,
        domid=num(other) if other else None,
    )


def _bind_failed(m: re.Match[str]) -> Message:
    if m[1] is not None and abs(num(m[1])) != 28:
        e = abs(num(m[1]))
        cause, why = _by_errno(e, Cause.DOM0_OUT, "")
        return Message(
            "", 0, "", what="a bind_interdomain was refused", cause=cause, explanation=why, errno=e
        )
    return Message(
        "",
        0,
        "",
        what="a dom0 daemon could not bind a guest's channel",
        cause=Cause.DOM0_OUT,
        explanation="oxenstored or qemu in dom0 could not bind the guest's port: with dom0's table full this "
        "is ENOSPC (dom0 out of channels); with ports free, the guest's port was not unbound for dom0",
    )


def _ioemu(m: re.Match[str]) -> Message:
    dom = re.search(r"domid (\d+)", m[0])
    return Message(
        "",
        0,
        "",
        what="the device model (qemu) did not start",
        cause=Cause.DEVICE_MODEL,
        explanation="xenopsd's Ioemu_failed becomes FAILED_TO_START_EMULATOR; qemu binds the VM's ioreq "
        "channels in dom0 (one per vCPU + 1), so check dom0's free ports before anything else (§8.3)",
        domid=num(dom[1]) if dom else None,
    )


def _console_tty(m: re.Match[str]) -> Message:
    return Message(
        "",
        0,
        "",
        what="xl create timed out waiting for the console",
        cause=Cause.DOM0_OUT,
        explanation="dom0 is out of event channels: xenstored could not bind the new domain's store port, "
        "so xl waited for the console tty in vain (reference §8.3a)",
        domid=num(m[1]),
    )


def _xs_enospc(m: re.Match[str]) -> Message:
    return Message(
        "",
        0,
        "",
        what="xenstored refused to introduce a domain",
        cause=Cause.DOM0_OUT,
        explanation="xenstored could not bind the domain's store channel in dom0: ENOSPC, dom0 is out of "
        "event channels (reference §8.3)",
    )


def _abi(m: re.Match[str]) -> Evidence:
    return Evidence("", 0, "kernel-abi", "fifo" if m[1] == "FIFO-based" else "2l", "")


def _version(m: re.Match[str]) -> Evidence:
    return Evidence("", 0, "xen-version", f"{m[1]}.{m[2]}", "")


_RULES: list[_Rule] = [
    (re.compile(r"vbd vbd-(\d+)-(\d+): (-?\d+) mapping ring-ref(?: \d+)? port (\d+)"), _blkback),
    (
        re.compile(
            r"vif vif-(\d+)-(\d+): (-?\d+) mapping shared-frames (\d+)/(\d+) port(?: tx)? (\d+)(?: rx (\d+))?"
        ),
        _netback,
    ),
    (re.compile(r"(\w+) (\S+): (-?\d+) allocating event channel"), _frontend),
    (
        re.compile(r"(?::d(\d+)(?:v\d+)? )?EVTCHNOP failure: (?:domain (\d+)|d(\d+))?,? ?error (-?\d+)"),
        _evtchnop,
    ),
    (re.compile(r"bind_interdomain failed(?:.*?(?:rc=|error:? )(-?\d+))?"), _bind_failed),
    (re.compile(r"Ioemu_failed.*"), _ioemu),
    (re.compile(r"FAILED_TO_START_EMULATOR.*"), _ioemu),
    (re.compile(r"domain (\d+) console tty: timed out"), _console_tty),
    (re.compile(r"Xs_protocol\.Error\(\"?ENOSPC"), _xs_enospc),
    (re.compile(r"Using (FIFO-based|2-level) ABI"), _abi),
    (re.compile(r"Xen version (\d+)\.(\d+)"), _version),
]


# Each keyword's rules: a line is tried only against the rules its keywords can start.
_BY_KEYWORD = {
    k: [
        (rx, make) for rx, make in _RULES if (k if "ABI" not in k else " ABI") in rx.pattern.replace("\\", "")
    ]
    for k in KEYWORDS
}


def classify(text: str) -> Message | Evidence | None:
    """The message or banner in a line (file and line number left blank), or None."""
    for k in KEYWORDS:
        if k in text:
            for rx, make in _BY_KEYWORD[k]:
                m = rx.search(text)
                if m is not None:
                    return make(m)
    return None


def is_log_line(text: str) -> bool:
    """A kernel log, syslog, xl or xensource line: other output, not an unrecognised line."""
    return _LOG_LINE.match(text) is not None


def record(sink: Sink, lineno: int, text: str, got: Message | Evidence) -> None:
    if isinstance(got, Evidence):
        sink.dump.evidence.append(replace(got, file=sink.name, lineno=lineno, text=text.strip()))
    else:
        sink.dump.messages.append(replace(got, file=sink.name, lineno=lineno, text=text.strip()))


def line(sink: Sink, lineno: int, text: str) -> Verdict:
    got = classify(text)
    if got is not None:
        record(sink, lineno, text, got)
        return True
    if _LOG_LINE.match(text):
        return False
    return None
