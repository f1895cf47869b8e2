"""Which atoms make up each VM operation: data, read from the profile, run by atoms.run().

    atoms(profile, "start", vm)      # VM_create, VM_build, then profile.start_order, then dom0's upcall
    atoms(profile, "shutdown", vm)   # device model, VBDs, VIFs, then the domain

Model: xenopsd's atomics_of_operation (xen-api: ocaml/xenopsd/lib/xenops_server.ml). A profile's start order
is a list (reference §8.1: xenopsd plugs VBDs and VIFs before the device model; libxl after, §8.2).
"""

from __future__ import annotations

from typing import Literal

from evtchn.toolstack import domain
from evtchn.toolstack.atoms import DOM0_EVENTS, Atom
from evtchn.toolstack.devices import console, device_model, vbd, vif, xenstore_conn
from evtchn.toolstack.plumbing import Plumbing
from evtchn.toolstack.profiles import Profile, StartOp
from evtchn.toolstack.records import Vm

Operation = Literal["start", "shutdown", "suspend", "resume", "pause", "unpause"]

# The atoms a profile's start_order may name (profile_model.XENOPSD_ORDER lists them).
START_ATOMS: dict[StartOp, Atom] = {
    "xenstored_introduce": xenstore_conn.INTRODUCE,
    "xenconsoled_bind": console.BIND,
    "VBD_plug": vbd.PLUG,
    "VIF_plug": vif.PLUG,
    "VM_create_device_model": device_model.CREATE,
}

# xenopsd's VM_shutdown: the device model goes, then VBDs and VIFs are unplugged (backends close), then
# the domain is destroyed and the daemons release it on @releaseDomain.
TEARDOWN: tuple[Atom, ...] = (device_model.DESTROY, vbd.UNPLUG, vif.UNPLUG, domain.DESTROY)


def _pause(p: Plumbing, vm: Vm) -> None:
    assert vm.domid is not None
    p.hv.pause(vm.domid)


def _unpause(p: Plumbing, vm: Vm) -> None:
    assert vm.domid is not None
    p.hv.unpause(vm.domid)


PAUSE = Atom("VM_pause", _pause, _unpause)
UNPAUSE = Atom("VM_unpause", _unpause, _pause)


def atoms(profile: Profile, operation: Operation, vm: Vm | None = None) -> list[Atom]:
    """The atoms of `operation` for a VM on a host of this profile, in the order they run.

    suspend tears the domain down like a shutdown (every port on both sides released; the memory image is
    saved first, which binds nothing); resume builds a new domain like a start, with VM_restore in place
    of VM_build. Reboot is shutdown then start; a localhost migration is a start of a second domain, then
    the first one's shutdown (Host.migrate_vm); hot-plug is in hotplug.py.
    """
    plumbing = [*(START_ATOMS[name] for name in profile.start_order), DOM0_EVENTS]
    table: dict[Operation, list[Atom]] = {
        "start": [domain.CREATE, domain.BUILD, *plumbing],
        "resume": [domain.CREATE, domain.RESTORE, *plumbing],
        "shutdown": list(TEARDOWN),
        "suspend": list(TEARDOWN),
        "pause": [PAUSE],
        "unpause": [UNPAUSE],
    }
    if operation not in table:
        raise ValueError(f"unknown VM operation {operation!r}")
    return table[operation]
