"""Version-dependent hypervisor behaviour, as settings that default to current Xen (reference §13.3).

HypervisorSettings(xen_version=(4, 17))     # EACCES on status of Xen-owned ports
HypervisorSettings(fifo_compiled=False)     # CONFIG_EVTCHN_FIFO=n: FIFO ops give EOPNOTSUPP
"""

from __future__ import annotations

from dataclasses import dataclass

from evtchn.xen.errors import Errno

CURRENT_XEN = (4, 22)


@dataclass(frozen=True, slots=True)
class HypervisorSettings:
    xen_version: tuple[int, int] = CURRENT_XEN
    # CONFIG_EVTCHN_FIFO (4.21+ Kconfig, default y; reference §1 version history).
    fifo_compiled: bool = True

    @property
    def bucket_ports(self) -> int:
        """Ports per bucket: 128 in 4.1–4.5, 64 from 4.6 (reference §1, Storage)."""
        return 64 if self.xen_version >= (4, 6) else 128

    @property
    def fifo_supported(self) -> bool:
        """FIFO ops exist from 4.4 (ENOSYS before) and need CONFIG_EVTCHN_FIFO."""
        return self.xen_version >= (4, 4) and self.fifo_compiled

    @property
    def fifo_missing_errno_is_enosys(self) -> bool:
        return self.xen_version < (4, 4)

    @property
    def status_eacces_xen_consumer(self) -> bool:
        """f60ab5337f (4.15.0) until its revert 2d8d7481ca (4.19.0) (reference §2.9)."""
        return (4, 15) <= self.xen_version < (4, 19)

    @property
    def global_virq_handler_only(self) -> bool:
        """4.21+: a domain that is not the handler of a global VIRQ gets EBUSY (reference §6)."""
        return self.xen_version >= (4, 21)

    @property
    def domid_exhausted_errno(self) -> Errno:
        """XEN_DOMCTL_createdomain with every guest domid in use: -ENOMEM from the rover in domctl.c
        up to 4.20; -EEXIST from domid_alloc() (common/domid.c) in 4.21+."""
        return Errno.EEXIST if self.xen_version >= (4, 21) else Errno.ENOMEM

    @property
    def argo_per_domain(self) -> bool:
        return self.xen_version >= (4, 21)

    @property
    def version_text(self) -> str:
        return f"{self.xen_version[0]}.{self.xen_version[1]}"
