"""Domain control: creation, pause, destruction, the global VIRQ handler (xen/common/domain.c, domctl.c).

A domain is destroyed in two halves, as in Xen: kill_domain() makes it dying and closes its ports from the
top down (evtchn_destroy, reference §3); destroy_domain() then drops it from the table.
"""

from __future__ import annotations

from evtchn.xen.constants import (
    DOMID_FIRST_RESERVED,
    MAX_GUEST_DOMAINS,
    NR_VIRQS,
    ShutdownReason,
    VirqClass,
)
from evtchn.xen.core import RESERVED, HypervisorCore, arg
from evtchn.xen.dirty import track_domain
from evtchn.xen.domain import Domain
from evtchn.xen.errors import Errno, XenError


class DomainControl(HypervisorCore):
    def create_domain(
        self,
        domid: int | None = None,
        *,
        max_vcpus: int = 1,
        guest_width: int = 64,
        max_evtchn_port: int = -1,
        nr_pirqs: int = 0,
        privileged: bool = False,
        is_hvm: bool = False,
        target: int | None = None,
        paused: bool = False,
        pirq_access: frozenset[int] | None = None,
    ) -> Domain:
        """XEN_DOMCTL_createdomain. domid None lets Xen choose: the next free domid after the last one it
        chose (a rover that wraps from 0x7FEF to 1), so a domain left dying keeps its domid and the next
        domain takes the next one. XenError: EEXIST for a domid in use; when all 32 751 guest domids are
        in use, ENOMEM (≤ 4.20) or EEXIST (4.21+). A bad configuration is a ValueError naming the field.
        """
        if domid is None:
            domid = self._free_domid()
        elif not isinstance(domid, int) or not 0 <= domid < DOMID_FIRST_RESERVED:
            raise ValueError(f"domid {domid} is reserved or out of range")
        elif domid in self.domains:
            raise XenError(Errno.EEXIST, "XEN_DOMCTL_createdomain", f"domain {domid} exists")
        d = Domain(
            domid,
            max_vcpus=max_vcpus,
            guest_width=guest_width,
            max_evtchn_port=max_evtchn_port,
            nr_pirqs=nr_pirqs,
            privileged=privileged,
            is_hvm=is_hvm,
            target=target,
            bucket_ports=self.settings.bucket_ports,
            pirq_access=pirq_access,
        )
        d.controller_paused = 1 if paused else 0
        self.domains[domid] = d
        if self._dirty is not None:
            track_domain(d, self._dirty)
            self._created.add(domid)
        return d

    def _free_domid(self) -> int:
        domid = self.domid_rover
        for _ in range(MAX_GUEST_DOMAINS):
            domid = domid + 1 if domid + 1 < DOMID_FIRST_RESERVED else 1
            if domid not in self.domains:
                self.domid_rover = domid
                return domid
        errno = self.settings.domid_exhausted_errno
        raise XenError(errno, "XEN_DOMCTL_createdomain", f"all {MAX_GUEST_DOMAINS} guest domids are in use")

    def pause(self, domid: int) -> None:
        d = self.domain(domid)
        d.controller_paused += 1
        self._touch(d)

    def unpause(self, domid: int) -> None:
        d = self.domain(domid)
        d.controller_paused = max(0, d.controller_paused - 1)
        self._touch(d)

    def shutdown_domain(self, domid: int, reason: ShutdownReason) -> None:
        """domain_shutdown() (SCHEDOP_shutdown from the guest, or Xen's domain_crash() with CRASH): the
        domain stops running but keeps its domid, memory and every port until the toolstack destroys it
        (or, with on_crash=preserve, leaves it: `---sc-` in xl list). Its peers still see their
        channels connected."""
        d = self.domain(domid)
        if d.shutdown_reason is None and not d.dying:  # the first reason sticks, as in Xen
            d.shutdown_reason = ShutdownReason(reason)
            self._touch(d)

    def crash_domain(self, domid: int) -> None:
        """domain_crash(): a guest kernel that died (panic, or a fault Xen cannot deliver)."""
        self.shutdown_domain(domid, ShutdownReason.CRASH)

    def kill_domain(self, domid: int) -> None:
        """The dying half of destruction: evtchn_destroy() closes ports from the top down (reference §3).

        The domain stays in the table, dying (`--p--d` in xl list when it was paused), keeping its domid
        until destroy_domain(): a toolstack whose domain build failed may leave it so."""
        d = self.domain(domid)
        d.dying = True
        self._touch(d)
        t = d.ports
        for port in range(t.valid - 1, 0, -1):
            if t.state[port] > RESERVED:
                self._close(d, port, guest=False)
        for virq, handler in list(self.global_virq_handlers.items()):
            if handler == domid:
                del self.global_virq_handlers[virq]

    def destroy_domain(self, domid: int) -> None:
        """Kill (if not yet dying) and then drop the domain from the table."""
        d = self.domain(domid)
        if not d.dying:
            self.kill_domain(domid)
        del self.domains[domid]
        if self._dirty is not None:
            if domid in self._created:
                self._created.discard(domid)
            else:
                self._destroyed.add(domid)
            self._dirty.difference_update([k for k in self._dirty if k >> 16 == domid])

    def set_global_virq_handler(self, domid: int, virq: int) -> None:
        """XEN_DOMCTL_set_virq_handler; 4.21+ refuses with EBUSY while the old handler has it bound."""
        domid = self.domain(domid).domid
        virq = arg("set_virq_handler", "virq", virq)
        if not 0 <= virq < NR_VIRQS or self._virq_class(virq) is not VirqClass.GLOBAL:
            raise XenError(Errno.EINVAL, "set_virq_handler", f"VIRQ {virq} is not global")
        old = self._virq_handler(virq)
        if (
            self.settings.global_virq_handler_only
            and old is not None
            and old.domid != domid
            and old.vcpus[0].virq_to_evtchn[virq]
        ):
            raise XenError(Errno.EBUSY, "set_virq_handler", f"domain {old.domid} still has VIRQ {virq}")
        self.global_virq_handlers[virq] = domid
