"""The dashboard's consume / release buttons: fault injection via the toolstack, CSRF-checked (issue 13)."""

from __future__ import annotations

import json

from evtchn.toolstack.spec import DiskSpec, VmSpec
from tests.ui.conftest import Browserless, Served


def test_consume_fills_dom0_to_the_limit_and_release_frees_it(client: Browserless, served: Served) -> None:
    client.login()
    assert client.request("POST", "/ui/action", {"op": "consume", "arg": "0"}).status == 403  # no token
    token = {"X-CSRF-Token": client.csrf()}
    r = client.request("POST", "/ui/action", {"op": "consume", "arg": "0"}, token)
    doc = json.loads(r.text)
    host = served.store.read()
    held = host.plumbing.fault.count()
    assert r.status == 200 and doc == {
        "ok": True,
        "result": f"fault injection bound {held} ports in domain 0: holds {held}",
    }
    assert held > 0 and host.dom0_ports_free() == 0
    host.check_invariants()
    page = client.request("GET", "/ui").text
    assert "AT THE LIMIT" in page and f'<strong id="fault-ports">{held}</strong>' in page
    assert f'<th scope="row">other consumers (fault-injected, tools)</th><td class="num">{held}</td>' in page

    # A VM started from the page now fails as on a full XenServer dom0: xenstored cannot introduce it.
    with served.store.transaction() as h:
        h.define_vm(VmSpec(name="late", type="pv", memory_mib=64, disks=[DiskSpec(userdevice=0)]))
    ref = next(v.ref for v in served.store.vms() if v.name == "late")
    started = client.request("POST", "/ui/action", {"op": "start", "vm": ref}, token)
    assert json.loads(started.text) == {
        "ok": False, "error": ["INTERNAL_ERROR", 'xenopsd internal error: Xs_protocol.Error("ENOSPC")'],
    }  # fmt: skip
    assert next(v for v in served.store.vms() if v.name == "late").power_state == "Halted"

    r = client.request("POST", "/ui/action", {"op": "release", "arg": ""}, token)
    assert json.loads(r.text)["result"] == f"fault injection closed {held} ports in domain 0: holds 0"
    served.store.read().check_invariants()
    assert served.store.read().plumbing.fault.count() == 0


def test_bad_fault_arguments_are_named(client: Browserless, served: Served) -> None:
    client.login()
    token = {"X-CSRF-Token": client.csrf()}
    free = served.store.read().dom0_ports_free()
    for form, text in [
        ({"op": "consume", "arg": "x"}, "consume: 'x' is not a whole number"),
        ({"op": "consume", "arg": ""}, "consume: give how many ports to leave free"),
        ({"op": "consume", "arg": "-1"}, "--leave-free -1: must not be negative"),
        ({"op": "consume", "arg": str(free + 1)}, f"domain 0 has only {free} free event channels"),
        ({"op": "release", "arg": "3"}, "--count 3: fault injection holds only 0 ports"),
    ]:
        r = client.request("POST", "/ui/action", form, token)
        assert r.status == 400 and text in json.loads(r.text)["error"][0], (form, r.text)
