"""The hypervisor model: domains, port tables, every EVTCHNOP with Xen's errno (reference §1–§6)."""

from evtchn.xen.constants import (
    DOMID_FIRST_RESERVED,
    DOMID_SELF,
    ECS,
    MAX_GUEST_DOMAINS,
    EvtchnStat,
    ShutdownReason,
    Virq,
    VirqClass,
)
from evtchn.xen.domain import Domain
from evtchn.xen.errors import Errno, XenError
from evtchn.xen.hypervisor import EvtchnStatus, Hypervisor, PortDump
from evtchn.xen.settings import HypervisorSettings

__all__ = [
    "DOMID_FIRST_RESERVED",
    "DOMID_SELF",
    "ECS",
    "MAX_GUEST_DOMAINS",
    "Domain",
    "Errno",
    "EvtchnStat",
    "EvtchnStatus",
    "Hypervisor",
    "HypervisorSettings",
    "PortDump",
    "ShutdownReason",
    "Virq",
    "VirqClass",
    "XenError",
]
