"""The XenAPI endpoint driven by the official `XenAPI` SDK from PyPI, over TCP and the Unix socket."""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import XenAPI
from click.testing import CliRunner

from evtchn.api.app import build_dispatcher
from evtchn.api.sessions import Credentials
from evtchn.cli import main as cli_main
from evtchn.store import Store, open_store
from evtchn.toolstack import costs
from evtchn.toolstack.host import Host
from evtchn.toolstack.spec import DiskSpec, NicSpec, VmSpec
from tests.api.harness import Endpoint, serving
from tests.api.hostkit import drain_fillers, fill_dom0, new_host_file

GIB = str(1024**3)


@pytest.fixture
def store(tmp_path: Path) -> Store[Host]:
    return new_host_file(tmp_path / "host.db")


@pytest.fixture
def ep(store: Store[Host]) -> Iterator[Endpoint]:
    with serving(build_dispatcher(store, Credentials(user="root", password="pw"))) as e:
        yield e


def _login(ep: Endpoint, transport: str) -> Any:
    s = ep.tcp_session() if transport == "tcp" else ep.unix_session()
    s.xenapi.login_with_password("root", "pw", "2.0", "evtchn-tests")
    return s.xenapi


def _hvm(x: Any, name: str, disks: int = 2, nics: int = 1) -> str:
    vm = x.VM.create(
        {"name_label": name, "VCPUs_max": "2", "VCPUs_at_startup": "2", "memory_static_max": GIB,
         "HVM_boot_policy": "BIOS order", "PV_bootloader": "", "other_config": {}}
    )  # fmt: skip
    for i in range(disks):
        x.VBD.create({"VM": vm, "VDI": "OpaqueRef:NULL", "userdevice": str(i), "mode": "RW", "type": "Disk",
                      "bootable": i == 0, "empty": False, "other_config": {}})  # fmt: skip
    for i in range(nics):
        x.VIF.create({"VM": vm, "network": "OpaqueRef:NULL", "device": str(i), "MAC": "", "MTU": "1500",
                      "other_config": {}})  # fmt: skip
    return str(vm)


def _fails(call: Any, *args: Any) -> list[str]:
    with pytest.raises(XenAPI.Failure) as e:
        call(*args)
    return list(e.value.details)


def _cli(store: Store[Host], *args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli_main, [*args, "--host", str(store.path)])
    return r.exit_code, r.stderr if r.exit_code else r.stdout


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_vm_lifecycle_and_both_kinds_of_dom0_exhaustion(
    store: Store[Host], ep: Endpoint, transport: str
) -> None:
    x = _login(ep, transport)
    (host_ref,) = x.host.get_all()
    assert x.host.get_record(host_ref)["uuid"] == store.host_meta()["host_uuid"]
    assert x.host.get_name_label(host_ref) == "evtchn-sim"

    web = _hvm(x, "web")
    rec = x.VM.get_record(web)
    assert web.startswith("OpaqueRef:") and rec["power_state"] == "Halted" and rec["domid"] == "-1"
    assert (rec["domain_type"], rec["VCPUs_max"], rec["memory_static_max"]) == ("hvm", "2", GIB)
    assert len(rec["VBDs"]) == 2 and len(rec["VIFs"]) == 1
    assert x.VM.get_by_name_label("web") == [web]
    assert x.VM.get_by_uuid(rec["uuid"]) == web

    x.VM.start(web, False, False)
    domid = x.VM.get_domid(web)
    assert domid == str(store.read().vms["web"].domid) and int(domid) > 0
    assert x.VM.get_power_state(web) == "Running"
    for vbd in rec["VBDs"]:
        v = x.VBD.get_record(vbd)
        assert (v["VM"], v["currently_attached"], v["status_code"], v["type"]) == (web, True, "0", "Disk")
    assert _fails(x.VM.start, web, False, False) == ["VM_BAD_POWER_STATE", web, "halted", "running"]

    # dom0 left with exactly the start-time ports of the next VM: it starts, its devices cannot connect
    fill_dom0(
        store, leave=costs.vm_cost(store.read().profile, store.read().hardware, _spec("late")).start_time
    )
    late = _hvm(x, "late")
    x.VM.start(late, False, False)
    assert x.VM.get_power_state(late) == "Running"
    for ref in x.VM.get_VBDs(late) + x.VM.get_VIFs(late):
        d = x.VBD.get_record(ref) if ref in x.VBD.get_all() else x.VIF.get_record(ref)
        assert d["currently_attached"] is False
        assert d["status_code"] == "28"
        assert d["status_detail"] == store.read().vms["late"].devices[0].error
        assert d["status_detail"].startswith("error 28")

    # dom0 full: the next start fails as the real stack reports it, with the text the CLI shows
    early = _hvm(x, "early")
    failure = _fails(x.VM.start, early, False, False)
    code, cli_err = _cli(store, "vm", "start", "early")
    assert code == 3  # the host refused the start (docs/cli.md exit codes)
    assert failure[0] == "INTERNAL_ERROR"
    assert cli_err == f"evtchn: {failure[1]}\n"
    assert failure[1] == 'xenopsd internal error: Xs_protocol.Error("ENOSPC")'
    assert x.VM.get_power_state(early) == "Halted" and x.VM.get_domid(early) == "-1"
    store.read().check_invariants()

    # shut down, free dom0, start again
    x.VM.clean_shutdown(late)
    assert x.VM.get_record(late)["domid"] == "-1"
    assert all(x.VBD.get_record(r)["currently_attached"] is False for r in x.VM.get_VBDs(late))
    drain_fillers(store)
    x.VM.start(early, False, False)
    x.VM.start(late, False, False)
    assert all(x.VBD.get_record(r)["currently_attached"] for r in x.VM.get_VBDs(late))
    assert all(x.VIF.get_record(r)["status_detail"] == "" for r in x.VM.get_VIFs(late))
    old = x.VM.get_domid(web)
    x.VM.clean_reboot(web)
    assert x.VM.get_domid(web) != old and x.VM.get_power_state(web) == "Running"
    x.VM.hard_shutdown(web)
    assert _fails(x.VM.clean_shutdown, web) == ["VM_BAD_POWER_STATE", web, "running, paused", "halted"]
    assert _fails(x.VM.destroy, late) == ["VM_BAD_POWER_STATE", late, "halted", "running"]
    x.VM.destroy(web)
    assert _fails(x.VM.get_record, web) == ["HANDLE_INVALID", "VM", web]
    store.read().check_invariants()
    x.session.logout()


def _spec(name: str) -> VmSpec:
    return VmSpec(
        name=name, type="hvm", vcpus=2, disks=[DiskSpec(userdevice=i) for i in range(2)], nics=[NicSpec()]
    )


def test_emulator_failure_carries_vm_ref(tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text(
        "base: xenserver-6.1\n"
        "name: xs61-with-ca120586\n"
        "dm_failure:\n"
        "  message: 'xenopsd internal error: Device.Ioemu_failed("
        '"domid {domid}", "Daemon exited unexpectedly")\'\n'
        "  xenapi_code: FAILED_TO_START_EMULATOR\n"
        "  xenapi_params: ['{vm}', 'domid {domid}', 'Daemon exited unexpectedly']\n"
    )
    store = new_host_file(tmp_path / "h.db", str(profile))
    with serving(build_dispatcher(store, Credentials.insecure())) as ep:
        x = _login(ep, "unix")
        vm = _hvm(x, "emu")
        fill_dom0(store, leave=1)  # the xenstore ring binds; qemu's ioreq ports do not
        failure = _fails(x.VM.start, vm, True, False)
        assert failure[0] == "FAILED_TO_START_EMULATOR"
        assert failure[1] == vm  # XenAPI's parameter is the VM ref
        assert failure[2].startswith("domid ") and failure[3] == "Daemon exited unexpectedly"
        assert x.VM.get_power_state(vm) == "Halted"
        store.read().check_invariants()


def test_records_errors_and_getters(ep: Endpoint, store: Store[Host]) -> None:
    x = _login(ep, "tcp")
    vm = _hvm(x, "rec", disks=1, nics=1)
    (vbd,) = x.VM.get_VBDs(vm)
    (vif,) = x.VM.get_VIFs(vm)
    assert (
        x.VBD.get_userdevice(vbd) == "0" and x.VBD.get_device(vbd) == "xvda" and x.VBD.get_mode(vbd) == "RW"
    )
    assert x.VIF.get_device(vif) == "0" and len(x.VIF.get_MAC(vif)) == 17
    assert x.VBD.get_all() == [vbd] and x.VIF.get_all() == [vif]
    assert x.VBD.get_VM(vbd) == vm and x.VM.get_name_label(vm) == "rec"
    assert _fails(x.VBD.create, {"VM": vm, "userdevice": "0", "mode": "RW", "type": "Disk"}) == [
        "DEVICE_ALREADY_EXISTS", "0",
    ]  # fmt: skip
    assert _fails(x.VM.get_record, "OpaqueRef:nope") == ["HANDLE_INVALID", "VM", "OpaqueRef:nope"]
    assert _fails(x.VBD.get_record, vif) == ["HANDLE_INVALID", "VBD", vif]
    assert _fails(x.VM.get_by_uuid, "nope") == ["UUID_INVALID", "VM", "nope"]
    assert _fails(x.VM.start, vm, False) == ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.start", "4", "3"]
    assert _fails(x.VM.frobnicate, vm) == ["MESSAGE_METHOD_UNKNOWN", "VM.frobnicate"]
    assert _fails(x.VM.create, {"VCPUs_max": "1"}) == ["FIELD_TYPE_ERROR", "name_label"]
    # names are free text and need not be unique, as in xapi (issue 10)
    twin = x.VM.create({"name_label": "rec"})
    assert sorted(x.VM.get_by_name_label("rec")) == sorted([vm, twin])
    x.VM.destroy(twin)
    # not 64-bit ints: were INTERNAL_ERROR (float inf; SQLite overflow), are field errors as in xapi
    for field, bad in (("VCPUs_max", float("inf")), ("memory_static_max", str(2**90))):
        assert _fails(x.VM.create, {"name_label": "big", field: bad}) == ["FIELD_TYPE_ERROR", field]
    # the control domain is a VM too, as in xapi
    all_recs = x.VM.get_all_records()
    (dom0,) = [r for r, v in all_recs.items() if v["is_control_domain"]]
    assert all_recs[dom0]["domid"] == "0" and all_recs[dom0]["power_state"] == "Running"
    assert sorted(x.VM.get_all()) == sorted(all_recs)
    # dom0's ref is valid (get_record works), so changing it is refused as xapi does, not HANDLE_INVALID
    dom0_refused = ["OPERATION_NOT_ALLOWED", "Operations on domain 0 are not allowed"]
    for call in (x.VM.clean_shutdown, x.VM.hard_shutdown, x.VM.clean_reboot, x.VM.destroy):
        assert _fails(call, dom0) == dom0_refused
    assert _fails(x.VM.start, dom0, False, False) == dom0_refused
    assert _fails(x.VBD.create, {"VM": dom0, "userdevice": "5", "mode": "RW", "type": "Disk"}) == dom0_refused
    x.VM.start(vm, True, False)  # start_paused
    assert x.VM.get_power_state(vm) == "Paused"
    assert x.VM.get_resident_on(vm) == x.host.get_all()[0]
    assert _fails(x.VBD.destroy, vbd) == ["VM_BAD_POWER_STATE", vm, "halted", "paused"]
    x.VM.hard_shutdown(vm)
    x.VBD.destroy(vbd)
    x.VIF.destroy(vif)
    assert x.VM.get_VBDs(vm) == [] and x.VBD.get_all() == []
    # refs are persisted: a fresh process (store) sees the same ones
    assert open_store(store.path).vm(ref=vm) is not None


def test_refs_survive_a_server_restart(store: Store[Host]) -> None:
    with serving(build_dispatcher(store, Credentials.insecure())) as ep:
        x = _login(ep, "tcp")
        vm = _hvm(x, "keep")
        vbds = x.VM.get_VBDs(vm)
    with serving(build_dispatcher(open_store(store.path), Credentials.insecure())) as ep:
        x = _login(ep, "unix")
        assert x.VM.get_by_name_label("keep") == [vm]
        assert x.VM.get_VBDs(vm) == vbds


def test_sdk_retries_then_fails_on_a_dead_session(ep: Endpoint) -> None:
    s = ep.tcp_session()
    s.xenapi.login_with_password("root", "pw", "2.0", "t")
    raw = xmlrpc.client.ServerProxy(ep.url)
    handle = s.handle
    assert raw.session.logout(handle) == {"Status": "Success", "Value": ""}
    assert s.xenapi.VM.get_all()  # SESSION_INVALID: the SDK logs in again by itself and retries
    assert s.handle != handle


def test_jsonrpc_on_the_real_service(ep: Endpoint) -> None:
    import json
    import urllib.request

    def rpc(method: str, *params: Any) -> Any:
        body = json.dumps({"method": method, "params": list(params), "id": 1}).encode()
        req = urllib.request.Request(ep.url + "jsonrpc", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    session = rpc("session.login_with_password", "root", "pw", "2.0", "t")["result"]
    vm = rpc("VM.create", session, {"name_label": "js", "VCPUs_max": 2, "HVM_boot_policy": ""})["result"]
    rec = rpc("VM.get_record", session, vm)["result"]
    assert (rec["domid"], rec["VCPUs_max"], rec["domain_type"]) == (-1, 2, "pv")  # JSON numbers stay numbers
    assert rpc("VM.start", session, vm, False, False) == {"result": "", "error": None, "id": 1}
    assert rpc("VM.start", session, vm, False, False)["error"] == [
        "VM_BAD_POWER_STATE",
        vm,
        "halted",
        "running",
    ]


def test_a_busy_host_file_is_a_clear_internal_error(store: Store[Host]) -> None:
    import subprocess
    import sys

    hold = (
        "import sys, time\nfrom evtchn.store import open_store\n"
        "with open_store(sys.argv[1]).transaction():\n    print('locked', flush=True)\n    time.sleep(20)\n"
    )
    busy = open_store(store.path, timeout=0.3)
    with serving(build_dispatcher(busy, Credentials.insecure())) as ep:
        x = _login(ep, "tcp")
        holder = subprocess.Popen(
            [sys.executable, "-c", hold, str(store.path)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
            assert x.VM.get_all()  # reads go on while another process writes
            failure = _fails(x.VM.create, {"name_label": "blocked"})
            assert failure == [
                "INTERNAL_ERROR",
                f"{store.path}: gave up after 0.3s waiting for another process using this host file "
                "(set --wait or $EVTCHN_LOCK_TIMEOUT to wait longer)",
            ]
        finally:
            holder.kill()
            holder.wait()
        x.VM.create({"name_label": "unblocked"})


def test_reads_of_an_unreadable_host_file_are_internal_error(store: Store[Host], ep: Endpoint) -> None:
    """A host file replaced under the server: reads answered HTTP 500 (the SDK's ProtocolError), not XenAPI's
    envelope; every call must stay a XenAPI failure."""
    x = _login(ep, "tcp")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store.path}{suffix}").unlink(missing_ok=True)
    store.path.write_text("not a host file any more\n")
    fresh = _login(ep, "tcp")  # a new connection: a new server thread, which must open the file again
    for call in (fresh.VM.get_all, fresh.host.get_all, x.VM.get_all_records):
        details = _fails(call)
        assert details[0] == "INTERNAL_ERROR" and "cannot open host file" in details[1], details
