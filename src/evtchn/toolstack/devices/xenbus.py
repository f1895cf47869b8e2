"""What the PV devices share: xenbus states, ring grants, the frontend's port allocation, and the
frontend / backend error paths (linux: drivers/xen/xenbus/xenbus_client.c; reference §8.3, §8.3a).

    port = guest_alloc(p, domid, fifo)          # xenbus_alloc_evtchn() in the guest
    backend_failed(p, vm, dev, "vif", text)      # xenbus_dev_fatal(): error node, Closing, message
    connected(p, vm, dev, "vbd", ports)          # both ends Connected
"""

from __future__ import annotations

from evtchn.toolstack.devices.dom0_daemons import DOM0
from evtchn.toolstack.kernel import FifoTracker, irq_cpus, settle
from evtchn.toolstack.plumbing import Plumbing
from evtchn.toolstack.records import DeviceStatus, Vm
from evtchn.xen import DOMID_SELF, XenError

# xenbus states (xen: xen/include/public/io/xenbus.h)
XB_INITIALISING, XB_INITWAIT, XB_INITIALISED, XB_CONNECTED, XB_CLOSING, XB_CLOSED = 1, 2, 3, 4, 5, 6


def grant(p: Plumbing, vm: Vm, count: int = 1) -> int:
    """The first of `count` grant references the guest's allocator hands out (Linux get_free_entries()):
    a fresh table gives them in order from the kernel's grant_first_free (linux: drivers/xen/grant-table.c;
    GNTTAB_NR_RESERVED_ENTRIES 8, below which the toolstack's console 0 and xenstore 1 refs live).
    A ring takes one;
    netfront's buffer reservations take a ring's worth (KernelFlavour.netfront_tx_grants/_rx_grants).
    Refs a frontend gives back are not reused here (Linux pushes them on the free list's head)."""
    assert vm.domid is not None
    first = p.profile.guest_kernel(vm.spec.type).grant_first_free
    n = p.grefs.get(vm.domid, first)
    p.grefs[vm.domid] = n + count
    return n


def guest_alloc(p: Plumbing, domid: int, fifo: bool) -> int:
    """xenbus_alloc_evtchn(): an unbound port for dom0, enabled by the guest's kernel."""
    port = p.hv.alloc_unbound(domid, DOMID_SELF, DOM0)
    if fifo:
        FifoTracker.track(p.hv, domid, port)
    vm = p.by_domid.get(domid)
    # The frontend binds it at once (bind_evtchn_to_irqhandler): a >= 5.11 kernel spreads it.
    settle(p.hv, domid, port, fifo=fifo, cpus=guest_cpus(p, vm) if vm is not None else 1)
    return port


def guest_cpus(p: Plumbing, vm: Vm) -> int:
    """The online vCPUs the guest's kernel spreads new channels over (kernel.irq_cpus): its `vcpus`, not
    the spare `max_vcpus`, which stay offline."""
    return irq_cpus(p.profile.guest_kernel(vm.spec.type), vm.spec.vcpus)


def frontend_error(p: Plumbing, vm: Vm, dev: DeviceStatus, e: XenError) -> str:
    """xenbus_alloc_evtchn() failed: '<errno> allocating event channel' in the guest's error node."""
    text = p.profile.frontend_alloc_error.format(errno=e.code)
    assert vm.domid is not None
    p.xenstore.write(f"/local/domain/{vm.domid}/error/device/{dev.kind}/{dev.devid}/error", text)
    vm.messages.append(f"{dev.kind} {dev.kind}-{dev.devid}: {text}")
    return text


# Where a Linux frontend whose xenbus_alloc_evtchn() failed ends, (frontend, backend) state: the fatal
# puts the frontend in Closing and the backend follows (blkback/netback frontend_changed, case Closing);
# netfront's netback_changed then calls xenbus_frontend_closed() and both end Closed, while blkfront's
# blkfront_closing() returns at once for a frontend already Closing, so a disk stays Closing on both ends
# (linux 6.1.166 drivers/xen/xenbus/xenbus_client.c xenbus_alloc_evtchn, xen-blkfront.c, xen-netfront.c).
FRONTEND_FATAL_END = {"vbd": (XB_CLOSING, XB_CLOSING), "vif": (XB_CLOSED, XB_CLOSED)}


def frontend_failed(p: Plumbing, vm: Vm, dev: DeviceStatus, backend_kind: str) -> None:
    """The device's frontend got no port: it is absent; with a Linux frontend both ends close."""
    assert vm.domid is not None
    dev.state = "absent"
    if not p.profile.guest_kernel(vm.spec.type).frontend_closes:
        return
    front, back = FRONTEND_FATAL_END[dev.kind]
    p.xenstore.write(f"/local/domain/{vm.domid}/device/{dev.kind}/{dev.devid}/state", front)
    if backend_kind != "vbd3":  # tapback's side of the handshake is not modelled
        p.xenstore.write(f"/local/domain/0/backend/{backend_kind}/{vm.domid}/{dev.devid}/state", back)


def guest_alloc_logged(p: Plumbing, vm: Vm, dev: DeviceStatus, fifo: bool) -> int | None:
    """xenbus_alloc_evtchn(): on failure it logs '<errno> allocating event channel' and returns."""
    assert vm.domid is not None
    try:
        return guest_alloc(p, vm.domid, fifo)
    except XenError as e:
        frontend_error(p, vm, dev, e)
        return None


def backend_error_path(kind: str, domid: int, devid: int) -> str:
    """Where a backend reports a failure: Linux's xenbus_dev_fatal() node, or tapdisk3's own key in
    its backend directory (reference §7.4)."""
    if kind == "vbd3":
        return f"/local/domain/0/backend/vbd3/{domid}/{devid}/tapdisk-error"
    return f"/local/domain/0/error/backend/{kind}/{domid}/{devid}/error"


def backend_failed(p: Plumbing, vm: Vm, dev: DeviceStatus, kind: str, text: str) -> None:
    """xenbus_dev_fatal(): error node, kernel log line, backend to Closing (reference §8.3); then, with a
    Linux frontend, the close handshake both ends show in xenstore afterwards:

    1. the backend (blkback connect_ring / netback connect_data_rings) calls xenbus_dev_fatal(), which
       writes error/<nodename>/error and xenbus_switch_state(Closing) (drivers/xen/xenbus/xenbus_client.c
       xenbus_va_dev_error, xenbus_dev_fatal);
    2. the frontend's otherend_changed sees Closing: blkfront blkback_changed -> blkfront_closing() and
       netfront netback_changed both call xenbus_frontend_closed(), i.e. the frontend goes Closed; blkfront
       keeps its ring and port (blkif_free runs only on remove/resume), so the guest's port stays unbound;
    3. the backend's frontend_changed sees Closed: blkback and netback switch to Closed and, the device
       being `online`, stay registered (xen-blkback/xenbus.c, xen-netback/xenbus.c case XenbusStateClosed).
    tapdisk3 (vbd3) reports in its own key and its state handshake is not modelled: it stays Closing.
    """
    assert vm.domid is not None
    domid = vm.domid
    back = f"/local/domain/0/backend/{kind}/{domid}/{dev.devid}/state"
    front = f"/local/domain/{domid}/device/{dev.kind}/{dev.devid}/state"
    p.xenstore.write(backend_error_path(kind, domid, dev.devid), text)
    p.xenstore.write(back, XB_CLOSING)
    if kind != "vbd3" and p.profile.guest_kernel(vm.spec.type).frontend_closes:
        p.xenstore.write(front, XB_CLOSED)
        p.xenstore.write(back, XB_CLOSED)
    vm.messages.append(f"{dev.kind} {dev.kind}-{domid}-{dev.devid}: {text}")
    dev.error = p.profile.device_error_display.format(text=text)
    dev.state = "failed"
    dev.connected = False
    dev.dom0_ports = []


def connected(p: Plumbing, vm: Vm, dev: DeviceStatus, kind: str, ports: list[int]) -> None:
    assert vm.domid is not None
    p.xenstore.write(f"/local/domain/0/backend/{kind}/{vm.domid}/{dev.devid}/state", XB_CONNECTED)
    p.xenstore.write(f"/local/domain/{vm.domid}/device/{dev.kind}/{dev.devid}/state", XB_CONNECTED)
    dev.dom0_ports = ports
    dev.connected = True
    dev.state = "connected"


def unplug_class(p: Plumbing, vm: Vm, backend_kind: str, frontend_kind: str) -> None:
    """Remove a device class's backend directory, its error nodes and the frontend directory."""
    _unplug(p, vm, backend_kind, frontend_kind, "")


def unplug_one(p: Plumbing, vm: Vm, backend_kind: str, frontend_kind: str, devid: int) -> None:
    """Hot-unplug: one device's backend directory, error node and frontend directory."""
    _unplug(p, vm, backend_kind, frontend_kind, f"/{devid}")


def _unplug(p: Plumbing, vm: Vm, backend_kind: str, frontend_kind: str, tail: str) -> None:
    assert vm.domid is not None
    xs = p.xenstore
    xs.rm(f"/local/domain/0/backend/{backend_kind}/{vm.domid}{tail}")
    if not p.profile.keep_backend_errors:  # libxl leaves the kernel backends' error nodes (xen-4.17)
        xs.rm(f"/local/domain/0/error/backend/{backend_kind}/{vm.domid}{tail}")
    xs.rm(f"/local/domain/{vm.domid}/device/{frontend_kind}{tail}")
