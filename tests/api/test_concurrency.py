"""8 SDK clients at once, 1 000 mixed operations in all; then the host must still be consistent."""

from __future__ import annotations

import random
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import XenAPI

from evtchn.api.app import build_dispatcher
from evtchn.api.sessions import Credentials
from evtchn.store import Store, open_store
from evtchn.toolstack.host import Host
from evtchn.xen import ECS
from tests.api.harness import Endpoint, serving
from tests.api.hostkit import new_host_file

CLIENTS = 8
TOTAL_OPS = 1000
# races between clients make these legitimate answers (another client changed the VM first)
EXPECTED = {"VM_BAD_POWER_STATE", "HANDLE_INVALID", "DEVICE_ALREADY_EXISTS", "OPERATION_NOT_ALLOWED"}


# each entry is one XenAPI call; reads outnumber writes as they do for real management clients
OPS = (
    ["get_record"] * 4 + ["vbd_record"] * 2 + ["all_records"] + ["get_all"]
    + ["create", "vbd_create", "vif_create", "start", "start", "shutdown", "reboot", "destroy"]
)  # fmt: skip


def _client(ep: Endpoint, idx: int, calls: int, tally: Counter[str], errors: list[str]) -> None:
    rng = random.Random(idx)
    s = ep.tcp_session() if idx % 2 else ep.unix_session()
    budget = calls

    def call(name: str, *args: Any) -> Any:
        nonlocal budget
        budget -= 1
        tally["calls"] += 1
        fn: Any = s.xenapi
        for part in name.split("."):
            fn = getattr(fn, part)
        result = fn(*args)
        tally[f"ok {name}"] += 1
        return result

    try:
        s.xenapi.login_with_password("root", "pw", "2.0", f"client{idx}")
        vms: list[str] = []
        n = 0
        while budget > 0:
            n += 1
            op = "get_all" if not vms else rng.choice(OPS)
            target = rng.choice(vms) if vms else ""
            try:
                if op == "get_all":
                    recs = call("VM.get_all_records")
                    vms = [r for r, v in recs.items() if not (v["is_control_domain"] or v["is_a_template"])]
                    if not vms:
                        vms.append(call("VM.create", {"name_label": f"c{idx}-{n}", "HVM_boot_policy": ""}))
                elif op == "create":
                    vms.append(
                        call("VM.create", {"name_label": f"c{idx}-{n}", "VCPUs_max": "1",
                                           "memory_static_max": "268435456",
                                           "HVM_boot_policy": "BIOS order" if n % 2 else ""})
                    )  # fmt: skip
                elif op == "vbd_create":
                    call(
                        "VBD.create", {"VM": target, "userdevice": "autodetect", "mode": "RW", "type": "Disk"}
                    )
                elif op == "vif_create":
                    call("VIF.create", {"VM": target, "device": str(rng.randrange(3)), "MAC": ""})
                elif op == "start":
                    call("VM.start", target, rng.random() < 0.2, False)
                elif op == "shutdown":
                    call("VM.clean_shutdown" if rng.random() < 0.5 else "VM.hard_shutdown", target)
                elif op == "reboot":
                    call("VM.clean_reboot", target)
                elif op == "destroy":
                    call("VM.destroy", target)
                    vms.remove(target)
                elif op == "get_record":
                    call("VM.get_record", target)
                elif op == "vbd_record":
                    vbds = call("VBD.get_all")
                    if vbds and budget > 0:
                        call("VBD.get_record", rng.choice(vbds))
                else:
                    call("VM.get_all_records")
            except XenAPI.Failure as f:
                tally[f.details[0]] += 1
                if f.details[0] == "HANDLE_INVALID" and target in vms:
                    vms.remove(target)  # another client destroyed it
                if f.details[0] not in EXPECTED:
                    errors.append(f"client {idx} {op}: {f.details}")
        s.xenapi.session.logout()
    except Exception as e:  # anything else is a failure of the server
        errors.append(f"client {idx}: {type(e).__name__}: {e}")


def _peers_point_back(host: Host) -> None:
    doms = host.hv.domains
    for domid, d in doms.items():
        t = d.ports
        for p in t.used_ports():
            if t.state[p] == ECS.INTERDOMAIN:
                rd, rp = t.rdom[p], t.union[p]
                assert rd in doms, f"d{domid} port {p}: peer domain {rd} is gone"
                rt = doms[rd].ports
                assert rt.state[rp] == ECS.INTERDOMAIN and rt.rdom[rp] == domid and rt.union[rp] == p, (
                    f"d{domid} port {p} -> d{rd} port {rp} does not point back"
                )


def test_eight_concurrent_clients(tmp_path: Path) -> None:
    store: Store[Host] = new_host_file(tmp_path / "host.db", "xenserver-6.2")
    tally: Counter[str] = Counter()
    errors: list[str] = []
    with serving(build_dispatcher(store, Credentials(user="root", password="pw"))) as ep:
        threads = [
            threading.Thread(target=_client, args=(ep, i, TOTAL_OPS // CLIENTS, tally, errors))
            for i in range(CLIENTS)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=240)
        assert not any(t.is_alive() for t in threads), "a client hung"
    print(dict(tally))
    assert errors == []
    assert tally["calls"] == TOTAL_OPS
    host = open_store(store.path).read()
    host.check_invariants()  # every dom0 port held by a component, no dead domain's port held
    _peers_point_back(host)
    rows = {r.name: r for r in open_store(store.path).vms()}
    assert set(rows) == {vm.name for vm in host.vms.values()}
    for vm in host.vms.values():
        assert (rows[vm.name].power_state, rows[vm.name].domid) == (vm.power_state, vm.domid)
    assert tally["ok VM.start"] > 10 and tally["ok VM.clean_reboot"] > 0 and tally["ok VM.destroy"] > 0
    assert tally["VM_BAD_POWER_STATE"] > 0  # the clients really did collide
