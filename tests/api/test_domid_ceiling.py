"""VM.start with every guest domid in use: xapi's error for a refused XEN_DOMCTL_createdomain (issue 15).

xenopsd's Xenctrl.domain_create raises Xenctrl.Error("errno: strerror"); xenopsd marshals any exception that
is not its own as Internal_error, which xapi reports as INTERNAL_ERROR ["xenopsd internal error: …"]
(reference §8.3; xen-api: ocaml/xenopsd/lib/xenops_task.ml, ocaml/xapi/xapi_xenops.ml).
"""

from __future__ import annotations

from evtchn.store import Store
from evtchn.toolstack.host import Host
from evtchn.xen import MAX_GUEST_DOMAINS
from tests.api.harness import Endpoint
from tests.api.sdk import fails, login, pv_vm


def test_start_past_the_domid_ceiling_is_xapis_internal_error(ep: Endpoint, store: Store[Host]) -> None:
    x = login(ep)
    vm = pv_vm(x, "late", disks=1, nics=1)
    with store.transaction() as host:  # other domains hold every guest domid (Xen 4.2: ENOMEM)
        while len(host.hv.domains) <= MAX_GUEST_DOMAINS:
            host.hv.create_domain()
    before = store.host_meta()["dom0_ports_used"]  # the rows: no 32 752-domain host is rebuilt to check
    assert fails(x.VM.start, vm, False, True) == [
        "INTERNAL_ERROR",
        'xenopsd internal error: Xenctrl.Error("12: Cannot allocate memory")',
    ]
    rec = x.VM.get_record(vm)
    assert (rec["power_state"], rec["domid"]) == ("Halted", "-1")
    assert store.host_meta()["dom0_ports_used"] == before  # nothing of the failed start is left held
    # the toolstack's own test (tests/toolstack/test_domid_ceiling.py) frees a domid and starts again
