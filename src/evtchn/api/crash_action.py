"""A VM's `actions_after_crash` is the toolstack spec's on_crash, in xapi's words.

    xapi_name("coredump-restart")        # -> "coredump_and_restart"
    set_actions_after_crash(svc, ref, v)  # VM.set_actions_after_crash: the spec the next crash follows

xen-api (ocaml/idl/datamodel_vm.ml) has the enum `on_crash_behaviour`: destroy, coredump_and_destroy,
restart, coredump_and_restart, preserve, rename_restart; xl.cfg(5) spells them destroy, coredump-destroy,
restart, coredump-restart, preserve, rename-restart (and has soft-reset, which XenAPI lacks; the toolstack
runs it as destroy, toolstack/crash.py, so the record says destroy). xapi_xenops.ml hands xenopsd the same
actions (preserve -> [Vm.Pause], coredump_and_* -> [Vm.Coredump; ...], restart / rename_restart ->
[Vm.Start], destroy -> [Vm.Shutdown]).

Wire values: the server unmarshals an enum with rpclib's ppx (mirage/ocaml-rpc ppx/ppx_deriving_rpc.ml):
the string is lowercased first, and anything else fails with `failwith "Unknown tag/contents"`, which
xapi's dispatch wrapper (ocaml/xapi/server_helpers.ml dispatch_exn_wrapper -> exnHelper.ml error_of_exn,
its catch-all) answers as INTERNAL_ERROR [Printexc.to_string e] = ['Failure("Unknown tag/contents")'].
The setter itself checks nothing more (xapi_vm_helpers.ml set_actions_after_crash writes the field);
VM.start does (validate_actions_after_crash, from assert_can_boot_here): rename_restart and a coredump of
an HVM / PVH domain are VALUE_NOT_SUPPORTED [field; value; reason].
"""

from __future__ import annotations

from typing import Any

from evtchn.api import overlay
from evtchn.api.catalog import ON_CRASH_XAPI
from evtchn.api.errors import ApiFailure
from evtchn.api.service import Service
from evtchn.toolstack.spec_model import ON_CRASH

XAPI_OF = ON_CRASH_XAPI
XL_OF = {x: xl for xl, x in XAPI_OF.items() if xl != "soft-reset"}
assert set(XAPI_OF) == set(ON_CRASH)
FIELD = "VM.actions_after_crash"
UNKNOWN = 'Failure("Unknown tag/contents")'
# xen-api ocaml/xapi/xapi_vm_helpers.ml validate_actions_after_crash, word for word
_LEAKS = "option would leak a domain; VMs and not domains are managed by this API"
_NO_COREDUMP = "cannot invoke a coredump of an HVM, PVH or PV-in-PVH domain"


def xapi_name(on_crash: str) -> str:
    return XAPI_OF.get(on_crash, "destroy")


def parse(value: Any) -> str:
    """The xl.cfg action of a wire value of on_crash_behaviour (case-insensitive, as rpclib reads it)."""
    xl = XL_OF.get(value.lower()) if isinstance(value, str) else None
    if xl is None:
        raise ApiFailure("INTERNAL_ERROR", UNKNOWN)
    return xl


def check_start(on_crash: str, domain_type: str) -> None:
    """What xapi's VM.start refuses before building anything (validate_actions_after_crash)."""
    name = xapi_name(on_crash)
    if name == "rename_restart":
        raise ApiFailure("VALUE_NOT_SUPPORTED", FIELD, name, _LEAKS)
    if name.startswith("coredump_") and domain_type != "pv":
        raise ApiFailure("VALUE_NOT_SUPPORTED", FIELD, name, _NO_COREDUMP)


def set_actions_after_crash(svc: Service, ref: Any, value: Any) -> str:
    """The VM's spec changes (any power state: the next crash follows it, as xenopsd gets it at the next
    start); the XenAPI copy in the overlay gives the change its event. A template (or dom0) has no spec:
    the value is its record's own, as in xapi's database."""
    xl = parse(value)  # xapi unmarshals every parameter before it looks at the handle
    with svc.txn() as tx:
        row = tx.vm(ref=ref) if isinstance(ref, str) else None
        if row is None:
            if not isinstance(ref, str) or ref not in svc.world().objects["VM"]:
                raise ApiFailure("HANDLE_INVALID", "VM", ref)
            overlay.update(tx.conn, ref, "VM", actions_after_crash=XAPI_OF[xl])
            return ""
        vm = tx.host.vm(row.uuid)
        if vm.spec.on_crash != xl:
            vm.spec = vm.spec.model_copy(update={"on_crash": xl})
            tx.host.vms.mark(vm)
        overlay.update(tx.conn, row.ref, "VM", actions_after_crash=XAPI_OF[xl])
    return ""
