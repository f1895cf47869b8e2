"""Fault injection: a dom0 process that holds event channels, as one holding /dev/xen/evtchn does.

    consume(plumbing, leave_free=2)     # bind unbound ports until 2 are left free in dom0's table
    release(plumbing, count=None)       # close them (all, or the most recent `count`)
    plumbing.fault.count()              # how many it holds now

Linux's evtchn driver (drivers/xen/evtchn.c) turns IOCTL_EVTCHN_BIND_UNBOUND_PORT into
EVTCHNOP_alloc_unbound(dom=DOMID_SELF, remote_dom=the ioctl's remote_domain) and binds the new port to the
process's handle (reference §2.2, §7.1): the port shows as an unbound port with that remote in
`lsevtchn 0` and the 'e' dump. Closing the handle, or IOCTL_EVTCHN_UNBIND, closes it. The holder is a
binder like the dom0 daemons, so the store persists its ports and the host invariants account for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evtchn.toolstack.devices.dom0_daemons import DOM0, Binder
from evtchn.toolstack.errors import ToolstackError
from evtchn.toolstack.kernel import FifoTracker, channels_on_cpu, settle
from evtchn.xen import DOMID_SELF, XenError

if TYPE_CHECKING:
    from evtchn.toolstack.plumbing import Plumbing

FAULT_BINDER = "evtchn-fault"
KEY = "unbound"  # one handle; its ports in the order they were bound


class FaultConsumer(Binder):
    """The `evtchn fault` process: unbound dom0 ports with remote domain 0, on one evtchn handle."""

    name = FAULT_BINDER

    def bind_unbound(self, remote_dom: int = DOM0, load: list[int] | None = None) -> int:
        """IOCTL_EVTCHN_BIND_UNBOUND_PORT; XenError (ENOSPC) with nothing held for this bind. `load`: dom0's
        channels per vCPU for a run of binds (kernel.settle keeps it up to date)."""
        port = self.hv.alloc_unbound(DOM0, DOMID_SELF, remote_dom)
        self.held.setdefault(KEY, []).append(port)
        if self.fifo:
            FifoTracker.track(self.hv, DOM0, port)
        settle(self.hv, DOM0, port, fifo=self.fifo, cpus=self.cpus, load=load)
        return port

    def unbind(self, count: int | None) -> list[int]:
        """IOCTL_EVTCHN_UNBIND of the most recent `count` ports (None: close the handle, all of them)."""
        ports = self.ports_for(KEY)
        keep = [] if count is None or count >= len(ports) else ports[: len(ports) - count]
        gone = ports[len(keep) :]
        for p in gone:
            self.hv.close(DOM0, p)
        if keep:
            self.held[KEY] = keep  # a new list, so a tracking `held` records the change
        elif KEY in self.held:
            self.held.pop(KEY)
        return gone


def check_domain(plumbing: Plumbing, domid: int) -> None:
    """Only dom0 runs the fault process here; anything else is a one-line ToolstackError."""
    if domid < 0:
        raise ToolstackError(f"--domain {domid}: a domid is not negative")
    if domid not in plumbing.hv.domains:
        raise ToolstackError(f"--domain {domid}: no such domain on this host")
    if domid != DOM0:
        raise ToolstackError(f"--domain {domid}: fault injection runs in dom0 only (domain 0)")


def consume(plumbing: Plumbing, leave_free: int, free: int, domid: int = DOM0) -> list[int]:
    """Bind unbound ports in dom0 until `leave_free` of its `free` usable ports are left; the new ports.

    ToolstackError (one line) for a bad domain or a `leave_free` that is negative or above `free`.
    """
    check_domain(plumbing, domid)
    if leave_free < 0:
        raise ToolstackError(f"--leave-free {leave_free}: must not be negative")
    if leave_free > free:
        raise ToolstackError(f"--leave-free {leave_free}: domain {domid} has only {free} free event channels")
    got: list[int] = []
    load = channels_on_cpu(plumbing.hv, DOM0, plumbing.fault.cpus)  # counted once for the whole run
    try:
        for _ in range(free - leave_free):
            got.append(plumbing.fault.bind_unbound(load=load))
    except XenError as e:  # the table filled early (e.g. FIFO event-array pages): give back what we took
        plumbing.fault.unbind(len(got))
        raise ToolstackError(f"fault consume: dom0 refused a bind after {len(got)} ports: {e}") from None
    return got


def release(plumbing: Plumbing, count: int | None, domid: int = DOM0) -> list[int]:
    """Close the most recent `count` ports the fault process holds (None: all); the ports closed."""
    check_domain(plumbing, domid)
    if count is not None and count < 0:
        raise ToolstackError(f"--count {count}: must not be negative")
    held = plumbing.fault.count()
    if count is not None and count > held:
        raise ToolstackError(f"--count {count}: fault injection holds only {held} ports")
    return plumbing.fault.unbind(count)
