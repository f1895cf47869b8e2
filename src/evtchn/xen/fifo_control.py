"""The FIFO ABI's control hypercalls: init_control, expand_array, set_priority (reference §2.13).

These are the FIFO ABI's own entry points (xen/common/event_fifo.c: evtchn_fifo_init_control,
evtchn_fifo_expand_array; set_priority goes through the ops table), so asking whether the domain has
set FIFO up yet is theirs to ask, as event_fifo.c does with `d->evtchn_fifo`.
"""

from __future__ import annotations

from evtchn.xen.constants import (
    FIFO_CONTROL_BLOCK_SIZE,
    FIFO_LINK_BITS,
    FIFO_MAX_EVENT_ARRAY_PAGES,
    FIFO_PRIORITY_MIN,
    PAGE_SIZE,
)
from evtchn.xen.core import HypervisorCore, arg
from evtchn.xen.domain import Domain
from evtchn.xen.errors import Errno, XenError
from evtchn.xen.event_fifo import Fifo


class FifoControl(HypervisorCore):
    def _fifo_available(self, op: str) -> None:
        if not self.settings.fifo_supported:
            errno = Errno.ENOSYS if self.settings.fifo_missing_errno_is_enosys else Errno.EOPNOTSUPP
            raise XenError(errno, op, "FIFO event channels are not available")

    def _check_gfn(self, op: str, d: Domain, gfn: int) -> None:
        """map_guest_page(): EINVAL for a frame the domain does not have."""
        if not 0 <= gfn < d.nr_gfns:
            raise XenError(Errno.EINVAL, op, f"GFN {gfn:#x} is not a page of domain {d.domid}")

    def init_control(self, caller: int, control_gfn: int, offset: int, vcpu: int) -> int:
        """EVTCHNOP_init_control (11) → link_bits 17: EOPNOTSUPP; ENOENT; EINVAL; EINVAL (§2.13)."""
        d = self._caller("init_control", caller)
        control_gfn = arg("init_control", "control_gfn", control_gfn)
        offset = arg("init_control", "offset", offset)
        self._fifo_available("init_control")
        vcpu = self._vcpu("init_control", d, vcpu)
        if not 0 <= offset <= PAGE_SIZE - FIFO_CONTROL_BLOCK_SIZE or offset & 7:
            raise XenError(Errno.EINVAL, "init_control", f"offset {offset} crosses the page or is unaligned")
        abi = d.abi
        if isinstance(abi, Fifo):
            fv = abi.vcpus[vcpu]
            if fv.control_gfn is not None:
                raise XenError(Errno.EINVAL, "init_control", f"vCPU {vcpu} already has a control block")
            self._check_gfn("init_control", d, control_gfn)
            fv.control_gfn = control_gfn
            self._touch(d)
            return FIFO_LINK_BITS
        self._check_gfn("init_control", d, control_gfn)
        Fifo.setup(d, vcpu, control_gfn)
        self._touch(d)
        return FIFO_LINK_BITS

    def expand_array(self, caller: int, array_gfn: int, *, premask: bool = True) -> None:
        """EVTCHNOP_expand_array (12): EOPNOTSUPP; ENOSPC (128 pages); EINVAL (bad GFN) (§2.13).

        `premask` models the guest masking the page's 1024 words before the call, as Linux does.
        """
        d = self._caller("expand_array", caller)
        array_gfn = arg("expand_array", "array_gfn", array_gfn)
        self._fifo_available("expand_array")
        abi = d.abi
        if not isinstance(abi, Fifo):
            raise XenError(Errno.EOPNOTSUPP, "expand_array", f"domain {d.domid} has not set up FIFO")
        if len(abi.pages) >= FIFO_MAX_EVENT_ARRAY_PAGES:
            raise XenError(Errno.ENOSPC, "expand_array", "the event array has 128 pages")
        self._check_gfn("expand_array", d, array_gfn)
        abi.add_page(d, array_gfn, premask=bool(premask))
        self._touch(d)

    def set_priority(self, caller: int, port: int, priority: int) -> None:
        """EVTCHNOP_set_priority (13): EINVAL; ENOSYS (2L); EACCES (unusable); EINVAL (> 15) (§2.13)."""
        d = self._caller("set_priority", caller)
        port = self._valid_port("set_priority", d, port)
        priority = arg("set_priority", "priority", priority)
        if not d.abi.has_priorities:
            raise XenError(Errno.ENOSYS, "set_priority", "the 2-level ABI has no priorities")
        if not self._usable(d, port):
            raise XenError(Errno.EACCES, "set_priority", f"port {port} is not usable")
        if not 0 <= priority <= FIFO_PRIORITY_MIN:
            raise XenError(Errno.EINVAL, "set_priority", f"priority {priority} > 15")
        d.ports.set_priority(port, priority)
