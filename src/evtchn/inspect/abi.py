"""Which event-channel ABI dom0 runs, from evidence only (reference §1, §9.2, §12).

    verdict = abi_from_evidence(dump, dom0, abi="2l-64")   # AbiVerdict(name, candidates, evidence)

The order: what the user says (`--abi`, a toolstack profile); then what the input proves: the 'e' dump's
ABI field (FIFO prints six characters, 2L one digit, Xen 4.4+) or its pre-4.4 layout (no FIFO before
4.4), a port above 1023 or 4095, the Linux banner "Using FIFO-based ABI" / "Using 2-level ABI", a Xen
version banner older than 4.4, and dom0's VIRQ_DEBUG binding, which Linux makes only for the 2-level
ABI (arch/x86/xen/smp.c binds "debug%d" under `if (!xen_fifo_events)`). What is not proven stays
open: the verdict then lists every plausible ABI and `name` is None, so no single limit is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evtchn.inspect.model import Dump, Kind, Source, Table

ABI_LIMITS = {"2l-32": 1023, "2l-64": 4095, "fifo": 131071}
ABI_NAMES = {"2l-32": "2-level, 32-bit dom0", "2l-64": "2-level, 64-bit dom0", "fifo": "FIFO"}
_BY_MAX_EVTCHNS = {1024: "2l-32", 4096: "2l-64", 131072: "fifo"}


@dataclass(slots=True)
class AbiVerdict:
    name: str | None  # the ABI when the evidence leaves one, else None
    candidates: list[str]  # every ABI the evidence leaves, in ABI_LIMITS order
    evidence: list[str] = field(default_factory=list)  # why, one sentence each
    given: bool = False  # from --abi or --profile rather than the input

    @property
    def known(self) -> bool:
        return self.name is not None


def abi_for_max_evtchns(max_evtchns: int) -> str:
    """The ABI name for a `max_evtchns(d)` (a profile's dom0_abi_limit: 1024, 4096 or 131072)."""
    return _BY_MAX_EVTCHNS[max_evtchns]


def _keep(cands: list[str], allowed: set[str], why: str, evidence: list[str]) -> list[str]:
    left = [c for c in cands if c in allowed]
    if not left:
        evidence.append(f"{why}, which contradicts the other evidence: kept {', '.join(cands)}")
        return cands
    if left != cands:
        evidence.append(why)
    return left


def abi_from_evidence(
    dump: Dump, dom0: Table | None, *, abi: str | None = None, profile_abi: tuple[str, str] | None = None
) -> AbiVerdict:
    """The ABI verdict for dom0 from `--abi`, a profile (abi, profile name) or the input itself."""
    if abi is not None:
        return AbiVerdict(abi, [abi], [f"--abi {abi}"], given=True)
    if profile_abi is not None:
        name, prof = profile_abi
        return AbiVerdict(
            name, [name], [f"profile {prof} runs dom0 with the {ABI_NAMES[name]} ABI"], given=True
        )
    ev: list[str] = []
    cands = list(ABI_LIMITS)
    if dom0 is not None and dom0.fifo is not None:
        if dom0.fifo:
            cands = _keep(cands, {"fifo"}, f"the 'e' dump at {dom0.where} prints FIFO's ABI field", ev)
        else:
            cands = _keep(
                cands, {"2l-32", "2l-64"}, f"the 'e' dump at {dom0.where} prints 2L's ABI field", ev
            )
    if dump.layouts and dump.layouts <= {"4.1", "4.2"}:
        cands = _keep(
            cands, {"2l-32", "2l-64"}, "the 'e' dump's layout is Xen 4.1-4.3's (no FIFO before 4.4)", ev
        )
    for e in dump.evidence:
        if e.kind == "kernel-abi":
            allowed = {"fifo"} if e.value == "fifo" else {"2l-32", "2l-64"}
            cands = _keep(cands, allowed, f"{e.where}: the kernel says {e.text!r}", ev)
        elif e.kind == "xen-version" and tuple(int(x) for x in e.value.split(".")) < (4, 4):
            cands = _keep(cands, {"2l-32", "2l-64"}, f"{e.where}: Xen {e.value} has no FIFO ABI (4.4+)", ev)
    if dom0 is not None and len(dom0):
        top = int(dom0.port.max())
        if top > 4095:
            cands = _keep(cands, {"fifo"}, f"dom0 uses port {top}, beyond 2-level's 4095", ev)
        elif top > 1023:
            cands = _keep(cands, {"2l-64", "fifo"}, f"dom0 uses port {top}, beyond 32-bit 2-level's 1023", ev)
        if _binds_virq_debug(dom0):
            cands = _keep(
                cands,
                {"2l-32", "2l-64"},
                "dom0's kernel binds VIRQ_DEBUG, which Linux does only for the 2-level ABI",
                ev,
            )
    if len(cands) == 1:
        return AbiVerdict(cands[0], cands, ev)
    ev.append(f"nothing in the input settles {' / '.join(cands)}: pass --abi or --profile to choose")
    return AbiVerdict(None, cands, ev)


def _binds_virq_debug(t: Table) -> bool:
    if t.source is Source.INTERRUPTS:
        return any(n.startswith("debug") and n[5:].isdigit() for n in t.names or [])
    return bool(((t.kind == int(Kind.VIRQ)) & (t.number == 1)).any()) if len(t) else False


def at_limit(total: int, candidates: list[str]) -> str | None:
    """The ABI whose usable ports dom0's count fills exactly (1023, 4095, 131071), if any."""
    for name in candidates:
        if total == ABI_LIMITS[name]:
            return name
    return None


_STOPGAP = (
    "until then, stop or shrink VMs: each dom0-backed disk, NIC queue, console and xenstore ring costs "
    "dom0 a port"
)


def remedy(name: str) -> str:
    """What frees room once dom0 sits at a limit (reference §1, §12)."""
    if name == "2l-32":
        return (
            "a 64-bit dom0 kernel raises the 2-level limit to 4095 ports; on Xen 4.4+ a dom0 kernel on FIFO "
            f"events raises it to 131071; {_STOPGAP}"
        )
    if name == "2l-64":
        return (
            "on Xen 4.4+ a dom0 kernel on FIFO events raises the limit to 131071 ports (Linux tries FIFO "
            f"at boot unless given xen.fifo_events=0, and logs 'Using FIFO-based ABI'); {_STOPGAP}"
        )
    return "FIFO's 131071 is the ABI's ceiling: move backends to driver domains or spread VMs over hosts"
