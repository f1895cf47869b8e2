"""What the toolstack does when a guest crashes: the VM's on_crash action, as steps per toolstack.

    handle(plumbing, vm, teardown, restart)   # after guest.boot() returned False (the kernel died)

Xen first marks the domain crashed (domain_crash -> domain_shutdown(SHUTDOWN_crash): `---sc-` in xl list,
every port still held). Then:
- xl (xen: tools/xl/xl_vmcontrol.c handle_domain_death, libxl_types.idl libxl_action_on_shutdown):
  destroy -> libxl_domain_destroy; restart -> destroy, then "Done. Rebooting now" and the domain is
  created again (sleep(2); goto start: xl has no restart-loop guard, it restarts for ever); preserve ->
  the domain is left as it is, crashed and unpaused; coredump-* -> the core is dumped first (binds
  nothing), then destroy / restart. Not modelled: rename-restart keeps the crashed domain under a new name
  (preserve_domain) while the new one starts — here it is a plain restart; soft-reset resets the same
  domain (DOMAIN_RESTART_SOFT_RESET) — here it is destroy [UNCERTAIN].
- xenopsd (xen-api: ocaml/xapi/xapi_xenops.ml on_crash_behaviour): preserve -> [Vm.Pause], so XenAPI shows
  the VM Paused (`--psc-` in xl list); coredump_and_destroy -> [Coredump; Shutdown]; restart and
  rename_restart -> [Start]; coredump_and_restart -> [Coredump; Start]; destroy -> [Shutdown].
A preserved VM is Paused in its record (XenAPI has no Crashed power state) and keeps its ports.
The simulation runs one restart; a restarted guest that crashes again at boot is destroyed, with a
message saying the real toolstack would go on restarting it.
"""

from __future__ import annotations

from collections.abc import Callable

from evtchn.toolstack.errors import ToolstackError
from evtchn.toolstack.plumbing import Plumbing
from evtchn.toolstack.records import PAUSED, Vm

# on_crash -> steps after Xen's crash: "pause", "coredump", "destroy", "restart" (destroy + create).
_STEPS: dict[str, dict[str, tuple[str, ...]]] = {
    "xl": {
        "destroy": ("destroy",),
        "restart": ("restart",),
        "rename-restart": ("restart",),
        "preserve": (),
        "coredump-destroy": ("coredump", "destroy"),
        "coredump-restart": ("coredump", "restart"),
        "soft-reset": ("destroy",),
    },
    "xenopsd": {
        "destroy": ("destroy",),
        "restart": ("restart",),
        "rename-restart": ("restart",),
        "preserve": ("pause",),
        "coredump-destroy": ("coredump", "destroy"),
        "coredump-restart": ("coredump", "restart"),
        "soft-reset": ("destroy",),
    },
}


# What `xl create` (staying attached to the domain) prints on the way, tools/xl/xl_vmcontrol.c
# handle_domain_death / create_domain: SHUTDOWN_crash is reason code 3 (xen/include/public/sched.h).
# xenopsd logs to xensource.log instead; its path prints nothing to the user.
_XL_LOG = {
    "shutdown": "Domain {domid} has shut down, reason code 3 0x3",
    "action": "Action for shutdown reason code 3 is {action}",
    "coredump": "dumping core to /var/lib/xen/dump/{name}",  # XEN_DUMP_DIR as Debian builds it [UNCERTAIN]
    "destroy": "Domain {domid} needs to be cleaned up: destroying the domain",
    "restart": "Done. Rebooting now",
    "exit": "Done. Exiting now",
}


def steps(toolstack: str, on_crash: str) -> tuple[str, ...]:
    return _STEPS[toolstack][on_crash]


def _xl_log(p: Plumbing, vm: Vm, todo: tuple[str, ...]) -> None:
    if p.profile.toolstack != "xl":
        return
    keys = ["shutdown", "action", *todo]
    if "restart" in todo:
        keys.insert(keys.index("restart"), "destroy")
    if "restart" not in todo:
        keys.append("exit")
    fields = {"domid": vm.domid, "action": vm.spec.on_crash, "name": vm.name}
    vm.messages.extend(_XL_LOG[k].format(**fields) for k in keys)


def preserved(p: Plumbing, vm: Vm) -> bool:
    """The VM holds a crashed domain (on_crash=preserve). Unpausing it changes nothing: Xen does not run a
    shut-down domain (xl leaves it `---sc-`), and xenopsd, seeing it crashed again, re-applies Vm.Pause."""
    d = p.hv.domains.get(vm.domid) if vm.domid is not None else None
    return d is not None and d.shutdown_reason is not None


def handle(p: Plumbing, vm: Vm, teardown: Callable[[Vm], object], restart: Callable[[Vm], object]) -> None:
    """Apply vm.spec.on_crash to a guest whose kernel died at boot (guest.boot returned False)."""
    assert vm.domid is not None
    p.hv.crash_domain(vm.domid)
    todo = steps(p.profile.toolstack, vm.spec.on_crash)
    _xl_log(p, vm, todo)
    if "pause" in todo:
        p.hv.pause(vm.domid)
    if not todo or todo == ("pause",):
        vm.power_state = PAUSED  # preserved: XenAPI has no Crashed state; xenopsd pauses it
        return
    teardown(vm)
    if "restart" not in todo:
        return
    if vm.uuid in p.restarting:
        p.restarting.discard(vm.uuid)
        vm.messages.append(
            f"{vm.name}: crashed again after its restart; the toolstack would keep restarting it "
            "(xl has no restart-loop guard), the simulation stops here with the domain destroyed"
        )
        return
    p.restarting.add(vm.uuid)
    try:
        restart(vm)
    except ToolstackError as e:  # the new domain could not be built: the VM stays halted with the error
        vm.messages.append(f"{vm.name}: restart after the crash failed: {e.message}")
    finally:
        p.restarting.discard(vm.uuid)
