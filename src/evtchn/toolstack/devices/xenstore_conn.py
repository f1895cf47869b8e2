"""The xenstore ring: the toolstack allocates its port in the guest at build; xenstored binds it in dom0 at
XS_INTRODUCE, and releases it on @releaseDomain (reference §7.2, §8.1 3b–3c).

    INTRODUCE          # the start atom "xenstored_introduce"; failure text: profile.store_failure
"""

from __future__ import annotations

from evtchn.toolstack.atoms import Atom
from evtchn.toolstack.devices.base import DeviceKind
from evtchn.toolstack.plumbing import Plumbing
from evtchn.toolstack.records import Vm
from evtchn.xen import XenError

ROW = DeviceKind("xenstore", "xenstored", "start", lambda p, h, s: 1, "reference §7.2 xenstore ring")


def _introduce(p: Plumbing, vm: Vm) -> None:
    assert vm.domid is not None
    port = int(p.xenstore.read(f"/local/domain/{vm.domid}/store/port"))
    try:
        p.xenstored.introduce(vm.domid, port)
    except XenError as e:
        raise p.fail(p.profile.store_failure, vm, e, "xenstored_introduce") from None


def release(p: Plumbing, vm: Vm) -> None:
    if vm.domid is not None:
        p.xenstored.release(vm.domid)


INTRODUCE = Atom("xenstored_introduce", _introduce, release)
