"""The PV console: its port is allocated in the guest at build (when the profile gives this VM type a
console), xenconsoled binds it on its own handle and writes console/tty (reference §7.2, §8.1).

    console_bound(profile, spec)   # does this VM have a PV console port?
    BIND                           # the start atom "xenconsoled_bind"; failure: profile.console_failure
"""

from __future__ import annotations

from evtchn.toolstack.atoms import Atom
from evtchn.toolstack.devices.base import DeviceKind
from evtchn.toolstack.plumbing import Plumbing
from evtchn.toolstack.profiles import Profile
from evtchn.toolstack.records import Vm
from evtchn.toolstack.spec import VmSpec
from evtchn.xen import XenError


def console_bound(profile: Profile, spec: VmSpec) -> bool:
    return profile.console_for(spec.type)


ROW = DeviceKind(
    "console", "xenconsoled", "start", lambda p, h, s: int(console_bound(p, s)), "reference §7.2 console"
)


def publish(p: Plumbing, domid: int, port: int, ring_ref: int) -> None:
    """The console keys the toolstack writes at build (xenopsd: a limit; libxl: the daemon's type)."""
    keys: dict[str, str | int] = {"port": port, "ring-ref": ring_ref}
    if p.profile.toolstack == "xenopsd":
        keys["limit"] = 65536
    else:
        keys["type"] = "xenconsoled"
    p.xenstore.write_many(f"/local/domain/{domid}/console", keys)


def _bind(p: Plumbing, vm: Vm) -> None:
    assert vm.domid is not None
    domid = vm.domid
    port_text = p.xenstore.get(f"/local/domain/{domid}/console/port")
    if port_text is None:
        return
    try:
        p.xenconsoled.bind(domid, domid, int(port_text))
    except XenError as e:
        raise p.fail(p.profile.console_failure, vm, e, "xenconsoled_bind") from None
    p.tty += 1
    p.xenstore.write(f"/local/domain/{domid}/console/tty", f"/dev/pts/{p.tty}")


def release(p: Plumbing, vm: Vm) -> None:
    if vm.domid is not None:
        p.xenconsoled.release(vm.domid)


BIND = Atom("xenconsoled_bind", _bind, release)
