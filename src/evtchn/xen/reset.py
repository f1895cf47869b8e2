"""EVTCHNOP_reset and its preemption continuation (xen/common/event_channel.c evtchn_reset; §2.12)."""

from __future__ import annotations

from evtchn.xen.core import RESERVED, HypervisorCore
from evtchn.xen.domain import Domain
from evtchn.xen.errors import Errno, XenError


class ResetOps(HypervisorCore):
    def reset(self, caller: int, dom: int, *, budget: int | None = None) -> bool:
        """EVTCHNOP_reset (10): ESRCH; EPERM; EINVAL; EBUSY; EAGAIN (reference §2.12).

        Closes every port as the guest would (Xen-consumer ports survive). `budget` models preemption:
        after that many ports it stops and returns False; reset_cont() goes on. True when done.
        """
        d = self._reset_target("reset", caller, dom)
        if d.next_reset:
            raise XenError(Errno.EBUSY, "reset", f"a reset of domain {d.domid} is in progress")
        return self._reset_from(d, 1, budget)

    def reset_cont(self, caller: int, dom: int, *, budget: int | None = None) -> bool:
        """EVTCHNOP_reset_cont (14, Xen-internal): continue a preempted reset."""
        d = self._reset_target("reset_cont", caller, dom)
        if not d.next_reset:
            raise XenError(Errno.EBUSY, "reset_cont", f"no reset of domain {d.domid} is in progress")
        return self._reset_from(d, d.next_reset, budget)

    def _reset_target(self, op: str, caller: int, dom: int) -> Domain:
        c = self._caller(op, caller)
        d = self._target(op, c, dom)
        self._xsm_target(op, c, d)
        if d is not c and not d.controller_paused:
            raise XenError(Errno.EINVAL, op, f"domain {d.domid} is not paused by its controller")
        return d

    def _reset_from(self, d: Domain, start: int, budget: int | None) -> bool:
        if budget is not None and (type(budget) is not int or budget < 1):
            raise XenError(Errno.EINVAL, "reset", f"budget must be a positive integer, not {budget!r}")
        self._touch(d)
        done = 0
        port = start
        t = d.ports
        while port < t.valid:
            if budget is not None and done >= budget:
                d.next_reset = port
                return False
            if t.state[port] > RESERVED and not t.consumer[port]:
                self._close(d, port, guest=True)
            port += 1
            done += 1
        d.next_reset = 0
        if d.active_evtchns > d.xen_evtchns:
            raise XenError(Errno.EAGAIN, "reset", f"domain {d.domid} opened ports during the reset")
        d.abi.reset(d)  # FIFO: evtchn_fifo_destroy() and back to 2-level; 2-level: nothing
        return True
