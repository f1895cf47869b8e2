"""The domain itself: VM_create (the paused domain and its xenstore home), VM_build (store and console
ports allocated in the guest), VM_destroy (@releaseDomain: the daemons let go) (reference §1, §8.1).

    CREATE, BUILD, RESTORE, DESTROY     # atoms; failure text of the toolstack's own allocations:
                               # profile.guest_alloc_failure
"""

from __future__ import annotations

from evtchn.toolstack.atoms import Atom
from evtchn.toolstack.devices import console, device_model
from evtchn.toolstack.devices.dom0_daemons import DOM0
from evtchn.toolstack.plumbing import Plumbing
from evtchn.toolstack.profiles import Failure
from evtchn.toolstack.records import Vm
from evtchn.xen import XenError

# XEN_DOMCTL_createdomain refused (every guest domid in use: ENOMEM ≤ 4.20, EEXIST 4.21+; reference §1),
# as each toolstack reports it: xenopsd's Xenctrl.Error as xapi's INTERNAL_ERROR (reference §8.3; xen-api:
# ocaml/xenopsd/xc/domain.ml, ocaml/xapi/xapi_xenops.ml); libxl's LOGED "domain creation fail"
# (xen: tools/libs/light/libxl_create.c, libxl__domain_make).
CREATE_FAILURE = {
    "xenopsd": Failure(message='xenopsd internal error: Xenctrl.Error("{errno}: {strerror}")'),
    "xl": Failure(
        message="libxl: error: libxl_create.c: libxl__domain_make: domain creation fail: {strerror}"
    ),
}


def store_mfn(domid: int, vm_type: str) -> int:
    """A plausible ring frame: HVM guests use the special page below 0xff000; PV a per-domain mfn."""
    return 0xFEFFC if vm_type == "hvm" else 0x100000 + domid * 0x1000


def _create(p: Plumbing, vm: Vm) -> None:
    """The domain (paused), max_evtchn_port from the profile or spec (reference §1, §8.1)."""
    spec, prof = vm.spec, p.profile
    cap = spec.max_event_channels if spec.max_event_channels is not None else prof.guest_max_evtchn_port
    try:
        domid = p.hv.create_domain(
            None,  # Xen's rover chooses, wrapping below DOMID_FIRST_RESERVED (xen/domains.py)
            max_vcpus=spec.maxvcpus,
            guest_width=prof.guest_width,
            max_evtchn_port=cap,
            is_hvm=spec.type == "hvm",
            paused=True,
        ).domid
    except XenError as e:
        raise p.fail(CREATE_FAILURE[prof.toolstack], vm, e, "VM_create") from None
    vm.domid = domid
    p.by_domid[domid] = vm
    p.domain_memory(domid, p.memory.footprint_mib(spec))
    p.xenstore.write_many(f"/vm/{vm.uuid}", {"uuid": vm.uuid, "name": vm.name})
    p.xenstore.write_many(f"/local/domain/{domid}", {"name": vm.name, "domid": domid, "vm": f"/vm/{vm.uuid}"})
    p.xenstore.write(f"/libxl/{domid}/type", spec.type)
    for sub in prof.domain_dirs:
        p.xenstore.mkdir(f"/local/domain/{domid}/{sub}")
    if spec.type == "hvm" and prof.ioreq_at_domain_create:
        # Xen ≤ 4.3 allocated ioreq ports at vCPU initialisation (reference §7.1).
        try:
            p.early_ioreq = device_model.alloc_ioreq(p, vm)
        except XenError as e:
            raise p.fail(prof.guest_alloc_failure, vm, e, "VM_create") from None


def _build(p: Plumbing, vm: Vm) -> None:
    """The toolstack allocates store and console ports in the guest (reference §8.1 3b)."""
    assert vm.domid is not None
    domid, prof = vm.domid, p.profile
    try:
        if vm.spec.type == "hvm" and prof.ca140252_workaround:
            for _ in range(vm.spec.maxvcpus):
                p.hv.alloc_unbound(DOM0, domid, DOM0)
        store = p.hv.alloc_unbound(DOM0, domid, DOM0)
        con = p.hv.alloc_unbound(DOM0, domid, DOM0) if console.console_bound(prof, vm.spec) else None
    except XenError as e:
        raise p.fail(prof.guest_alloc_failure, vm, e, "VM_build") from None
    mfn = store_mfn(domid, vm.spec.type)
    p.xenstore.write_many(f"/local/domain/{domid}/store", {"port": store, "ring-ref": mfn})
    if con is not None:
        console.publish(p, domid, con, mfn - 1)
    if prof.toolstack == "xenopsd":
        p.xenstore.write(f"/local/domain/{domid}/serial/0/limit", 65536)


def destroy(p: Plumbing, vm: Vm) -> None:
    """Destroy the domain; xenstored and xenconsoled release it on @releaseDomain. When the failure being
    undone leaves it dying (Failure.leaves_dying: a dom0 daemon still maps its page), Xen only kills it:
    its ports close, it keeps its domid, and the toolstack forgets it (dying_orphans())."""
    domid = vm.domid
    if domid is None:
        return
    if domid in p.hv.domains:
        if p.leave_dying:
            p.hv.kill_domain(domid)
            p.left_dying = True
        else:
            p.hv.destroy_domain(domid)
    p.leave_dying = False
    p.xenconsoled.release(domid)
    p.xenstored.release(domid)
    xs = p.xenstore
    xs.rm(f"/local/domain/{domid}")
    xs.rm(f"/libxl/{domid}")
    if not any(v.uuid == vm.uuid for d, v in p.by_domid.items() if d != domid):
        xs.rm(f"/vm/{vm.uuid}")  # kept while the VM's other domain (a migration's) still lives
    p.grefs.pop(domid, None)
    p.by_domid.pop(domid, None)
    p.domain_memory(domid, 0)


CREATE = Atom("VM_create", _create, destroy)
BUILD = Atom("VM_build", _build)
# xenopsd's VM_restore (xenguest restore): the store and console ports are allocated again, as at build.
RESTORE = Atom("VM_restore", _build)
DESTROY = Atom("VM_destroy", destroy)
