"""What the read-only commands print, read as thinly as the store allows (the seam to the store's reads).

    vms = vm_listing(store)          # one aggregate query over the VM and device rows: no host is built
    doms = domain_listing(store)     # per-domain event channels, from the domains' rows (no toolstack)

Each returns plain dicts whose keys are the documented `--json` fields (docs/cli.md), so the table and the
JSON are the same facts. Neither imports the toolstack (evtchn.store.reads).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evtchn.store.sqlite import Store
    from evtchn.toolstack.host import Host

DOM0_NAME = "Domain-0"


def vm_listing(store: Store[Host]) -> list[dict[str, Any]]:
    """Every VM, ordered by name then uuid: the `vm list --json` records."""
    from evtchn.store.reads import vm_summaries

    return [
        {
            "name": vm.name,
            "uuid": vm.uuid,
            "power_state": vm.power_state,
            "domid": vm.domid,
            "type": vm.vm_type,
            "vcpus": vm.vcpus,
            "memory_mib": vm.memory_mib,
            "dom0_ports": vm.dom0_ports,
            "devices": vm.devices,
            "failed_devices": vm.failed_devices,
        }
        for vm in vm_summaries(store)
    ]


def domain_listing(store: Store[Host], names: dict[int, str]) -> list[dict[str, Any]]:
    """Each live domain's event channels, by domid: the `host show --json` "domains" records.

    `names` maps domid to VM name (from `vm_listing`); dom0 is Domain-0.
    """
    from evtchn.store.reads import any_hypervisor, domain_counts

    counts: Sequence[tuple[int, int, int]] | None = domain_counts(store)
    if counts is None:  # a file that keeps whole domains: count on the built hypervisor
        hv = any_hypervisor(store)
        counts = [(i, hv.domains[i].active_evtchns, hv.domains[i].limit_port) for i in sorted(hv.domains)]
    return [
        {
            "domid": domid,
            "name": DOM0_NAME if domid == 0 else names.get(domid, "(null)"),  # as xl list: no name node
            "used": used,
            "free": limit - used,
            "limit": limit,
        }
        for domid, used, limit in counts
    ]

