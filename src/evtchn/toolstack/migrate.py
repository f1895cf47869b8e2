"""A localhost migration (xapi's VM.pool_migrate to the same host): the receiving domain is built, plugged
and resumed while the sending one still holds its channels, so the VM needs its ports twice over; only
then does the old domain go. If the new domain cannot get everything the old one had, it is torn down
and the VM keeps running where it was (xen-api: ocaml/xenopsd/lib/xenops_server.ml VM_migrate /
VM_receive_memory; reference §8.1).

    migrate(plumbing, vm)     # StartError (op "VM_migrate") on failure; the VM is untouched then
"""

from __future__ import annotations

from evtchn.toolstack import guest, hotplug
from evtchn.toolstack.atoms import AtomFailed, run
from evtchn.toolstack.errors import StartError
from evtchn.toolstack.operations import atoms
from evtchn.toolstack.plumbing import Plumbing
from evtchn.toolstack.records import Vm, fresh_devices


def _lost(old: Vm, new: Vm) -> str | None:
    """What the new domain lacks that the old one had: a device that no longer connects."""
    for before in old.devices:
        after = new.device(before.kind, before.devid)
        if before.connected and (after is None or not after.connected):
            return (after.error or after.frontend_error if after else None) or f"{before.kind} {before.devid}"
    return None


def migrate(p: Plumbing, vm: Vm) -> None:
    assert vm.domid is not None
    detached = {(d.kind, d.devid) for d in vm.devices if d.state == "unplugged"}
    new = Vm(name=vm.name, uuid=vm.uuid, spec=vm.spec, devices=fresh_devices(vm.spec), booted=False)
    try:
        run(p, new, atoms(p.profile, "resume", new))  # VM_create, VM_restore, devices, device model
    except AtomFailed as f:
        raise _failed(vm, f.error.message) from None
    hotplug.replug_after_build(p, new, detached)
    assert new.domid is not None
    p.hv.unpause(new.domid)
    if vm.booted:
        lost = new.last_error if not guest.boot(p, new) else _lost(vm, new)
        if lost is not None:
            run(p, new, atoms(p.profile, "shutdown", new))
            raise _failed(vm, lost)
    run(p, vm, atoms(p.profile, "shutdown", vm))  # the sending domain goes; /vm/<uuid> stays for the new
    vm.domid, vm.devices, vm.booted, vm.guest_abi = new.domid, new.devices, new.booted, new.guest_abi
    vm.messages.extend(new.messages)
    p.by_domid[new.domid] = vm


def _failed(vm: Vm, text: str) -> StartError:
    message = f"VM {vm.name}: migration failed, the VM stays where it was: {text}"
    vm.messages.append(message)
    return StartError(message, xenapi_params=[message], op="VM_migrate")
