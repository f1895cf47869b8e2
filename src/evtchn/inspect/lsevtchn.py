"""`lsevtchn [domid]` against a simulated hypervisor, byte for byte (§9.1; xen: tools/xcutils/lsevtchn.c).

    result = format_lsevtchn(hv, 36)       # LsevtchnResult(stdout, stderr, exit_code)
    domid = parse_domid_arg(["lsevtchn", "36"])

The tool asks EVTCHNOP_status for port 0, 1, 2, … as dom0 and prints one line per port that is not closed.
How the walk ends depends on the *tool's* version, which may differ from the hypervisor's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from evtchn.inspect.cparse import domid_arg
from evtchn.xen.constants import EvtchnStat
from evtchn.xen.errors import Errno, XenError
from evtchn.xen.hypervisor import EvtchnStatus, Hypervisor

# e92a453c8d (first in 4.20): EACCES skips a Xen-owned port, EINVAL ends, other errors fail (§9.1).
SKIP_EACCES_FROM = (4, 20)


class LsevtchnResult(NamedTuple):
    stdout: str
    stderr: str
    exit_code: int


def parse_domid_arg(argv: Sequence[str]) -> int:
    """The domid the C tool would use: `strtol(argv[1], NULL, 10)` into a 16-bit domid_t, default 0.

    Text that is not a number reads as 0 and extra arguments are ignored; no flag is an error (§9.1).
    """
    return domid_arg(list(argv))


def format_line(port: int, st: EvtchnStatus) -> str:
    """One stdout line: `"%4d: VCPU %u: "` + body (§9.1). Closed ports have no line."""
    head = f"{port:4d}: VCPU {st.vcpu}: "
    stat = st.status
    if stat == EvtchnStat.UNBOUND:
        body = f"Interdomain (Waiting connection) - Remote Domain {st.dom}"
    elif stat == EvtchnStat.INTERDOMAIN:
        body = f"Interdomain (Connected) - Remote Domain {st.dom}, Port {st.port}"
    elif stat == EvtchnStat.PIRQ:
        body = f"Physical IRQ {st.pirq}"
    elif stat == EvtchnStat.VIRQ:
        body = f"Virtual IRQ {st.virq}"
    elif stat == EvtchnStat.IPI:
        body = "IPI"
    else:
        body = "Unknown"
    return head + body + "\n"


def format_lsevtchn(hv: Hypervisor, domid: int, *, tool_version: tuple[int, int] = (4, 20)) -> LsevtchnResult:
    """Run the tool as dom0 against `hv`; `domid` is already a domid_t (see parse_domid_arg)."""
    if 0 not in hv.domains:
        # xc_interface_open() needs a privileged dom0 to talk to.
        return LsevtchnResult("", "lsevtchn: failed to open control interface\n", 1)
    out: list[str] = []
    port = 0
    while True:
        try:
            st = hv.status(0, domid, port)
        except XenError as e:
            if tool_version < SKIP_EACCES_FROM:
                break  # 4.1–4.19: any error ends the walk, exit 0
            if e.errno == Errno.EACCES:
                port += 1  # "Xen-owned evtchn"
                continue
            if e.errno == Errno.EINVAL:
                break
            return LsevtchnResult("".join(out), f"xc_evtchn_status: {e.errno.strerror}\n", 1)
        if st.status != EvtchnStat.CLOSED:
            out.append(format_line(port, st))
        port += 1
    return LsevtchnResult("".join(out), "", 0)
