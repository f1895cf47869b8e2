"""What the read-only commands print, read as thinly as the store allows (the seam to the store's read API).

    vms = vm_listing(store)          # from the store's VM and device rows: no host is built
    doms = domain_listing(store)     # per-domain event channels (today: from the loaded hypervisor)

Each returns plain dicts whose keys are the documented `--json` fields (docs/cli.md), so the table and the
JSON are the same facts. `domain_listing` is the one place that still builds the whole host; when the
store offers per-domain rows it reads those instead and nothing else changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evtchn.store.sqlite import Store
    from evtchn.toolstack.host import Host

DOM0_NAME = "Domain-0"


def vm_listing(store: Store[Host]) -> list[dict[str, Any]]:
    """Every VM, ordered by name then uuid: the `vm list --json` records."""
    with store.snapshot():  # the VM and device rows of one committed state
        rows = store.vms()
        devices = store.devices()
    per_vm: dict[str, list[Any]] = {}
    for d in devices:
        per_vm.setdefault(d.vm_ref, []).append(d)
    out = []
    for row in sorted(rows, key=lambda r: (r.name, r.uuid)):
        mine = per_vm.get(row.ref, [])
        out.append(
            {
                "name": row.name,
                "uuid": row.uuid,
                "power_state": row.power_state,
                "domid": row.domid,
                "type": row.vm_type,
                "vcpus": row.vcpus,
                "memory_mib": row.memory_mib,
                "dom0_ports": row.dom0_ports,
                "devices": len(mine),
                "failed_devices": sum(1 for d in mine if d.status_code),
            }
        )
    return out


def domain_listing(
    store: Store[Host], names: dict[int, str], host: Host | None = None
) -> list[dict[str, Any]]:
    """Each live domain's event channels, by domid: the `host show --json` "domains" records.

    `names` maps domid to VM name (from `vm_listing`); dom0 is Domain-0. `host`: one already read.
    """
    hv = (
        host if host is not None else store.read()
    ).hv  # the whole host: the store has no per-domain rows yet
    out = []
    for domid in sorted(hv.domains):
        d = hv.domains[domid]
        used = d.active_evtchns
        out.append(
            {
                "domid": domid,
                "name": DOM0_NAME if domid == 0 else names.get(domid, "?"),
                "used": used,
                "free": d.limit_port - used,
                "limit": d.limit_port,
            }
        )
    return out
