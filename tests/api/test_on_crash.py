"""XenAPI's actions_after_crash is the VM's on_crash: the record shows the spec's, the setter changes what
the toolstack does at the next crash, over the SDK on the Unix socket.

Sources (xen-api): ocaml/idl/datamodel_vm.ml, the on_crash_behaviour enum (destroy, coredump_and_destroy,
restart, coredump_and_restart, preserve, rename_restart); ocaml/xapi/xapi_xenops.ml hands xenopsd
preserve -> [Vm.Pause] (the crashed VM stays, Paused), destroy -> [Vm.Shutdown] (Halted, its ports freed);
ocaml/xapi/xapi_vm_helpers.ml validate_actions_after_crash (VM.start: rename_restart and an HVM coredump
are VALUE_NOT_SUPPORTED); ocaml/xapi/create_misc.ml gives dom0 destroy. A value outside the enum fails in
the server's unmarshalling (mirage/ocaml-rpc ppx/ppx_deriving_rpc.ml `failwith "Unknown tag/contents"`,
after lowercasing), which ocaml/xapi/exnHelper.ml turns into INTERNAL_ERROR [Printexc.to_string e].
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evtchn.api.app import build_dispatcher
from evtchn.api.sessions import Credentials
from evtchn.store import Store, create_store, open_store
from evtchn.toolstack import Host, VmSpec
from tests.api.harness import serving
from tests.api.sdk import fails, login


def _crashing(name: str, on_crash: str = "destroy", vm_type: str = "pv") -> VmSpec:
    # 4 vCPUs want ~6 binds each; a table of 10 ports dies binding vCPU 1's (tests/fidelity/
    # test_failure_leftovers.py): the guest kernel BUGs at boot.
    fields = {"name": name, "type": vm_type, "vcpus": 4, "max_event_channels": 10, "on_crash": on_crash}
    return VmSpec.model_validate(fields)


@pytest.fixture
def store(tmp_path: Path) -> Store[Host]:
    st = create_store(Host.create("xenserver-8"), tmp_path / "h.db")
    with st.transaction() as host:
        host.define_vm(_crashing("c"))
        host.define_vm(_crashing("kept", "preserve"))
        host.define_vm(_crashing("h", vm_type="hvm"))
        host.define_vm(VmSpec(name="soft", type="pv", on_crash="soft-reset"))
    return st


@pytest.fixture
def x(store: Store[Host]) -> Iterator[Any]:
    with serving(build_dispatcher(store, Credentials(user="root", password="pw"))) as ep:
        yield login(ep, "unix")


def _vm(x: Any, name: str) -> str:
    (ref,) = x.VM.get_by_name_label(name)
    return str(ref)


def _held(store: Store[Host], name: str) -> set[int]:
    host = open_store(store.path).read()
    domid = host.vm(name).domid
    return set() if domid is None else set(host.hv.domains[domid].ports.used_ports())


def test_the_record_shows_the_specs_on_crash_in_xapis_words(x: Any) -> None:
    assert x.VM.get_actions_after_crash(_vm(x, "c")) == "destroy"  # xl.cfg's default
    assert x.VM.get_record(_vm(x, "kept"))["actions_after_crash"] == "preserve"
    assert x.VM.get_actions_after_crash(_vm(x, "soft")) == "destroy"  # no XenAPI name; runs as destroy
    dom0 = next(r for r, v in x.VM.get_all_records().items() if v["is_control_domain"])
    assert x.VM.get_actions_after_crash(dom0) == "destroy"  # create_misc.ml
    tpl = next(r for r, v in x.VM.get_all_records().items() if v["is_a_template"])
    assert x.VM.get_actions_after_crash(tpl) == "restart"  # what a clone of it gets
    x.VM.set_actions_after_crash(tpl, "preserve")  # a template's value is its record's own
    assert x.VM.get_actions_after_crash(x.VM.clone(tpl, "from-tpl")) == "preserve"
    nope = "OpaqueRef:nope"
    assert fails(x.VM.set_actions_after_crash, nope, "destroy") == ["HANDLE_INVALID", "VM", nope]


def test_preserve_keeps_the_crashed_vm_paused_with_its_ports(x: Any, store: Store[Host]) -> None:
    vm = _vm(x, "c")
    token = x.event_from(["vm"], "", 0.0)["token"]
    assert x.VM.set_actions_after_crash(vm, "preserve") == ""
    got = [e for e in x.event_from(["vm"], token, 5.0)["events"] if e["ref"] == vm]
    assert got and got[-1]["operation"] == "mod" and got[-1]["snapshot"]["actions_after_crash"] == "preserve"
    assert open_store(store.path).read().vm("c").spec.on_crash == "preserve"  # persisted, in the spec
    x.VM.start(vm, False, False)
    assert x.VM.get_power_state(vm) == "Paused"  # Vm.Pause: XenAPI has no Crashed state
    domid = int(x.VM.get_domid(vm))
    held = _held(store, "c")
    assert domid > 0 and held and max(held) <= 10  # its VIRQs/IPIs, store and console stay bound
    host = open_store(store.path).read()
    assert host.hv.domains[domid].xl_state == "--psc-"
    bug = "kernel BUG at drivers/xen/events/events_base.c:1282! RIP: bind_ipi_to_irq"
    assert host.vm("c").last_error == bug
    x.VM.hard_shutdown(vm)
    assert x.VM.get_power_state(vm) == "Halted" and _held(store, "c") == set()


def test_destroy_halts_it_and_frees_every_port(x: Any, store: Store[Host]) -> None:
    vm = _vm(x, "kept")
    x.VM.set_actions_after_crash(vm, "destroy")
    assert x.VM.get_actions_after_crash(vm) == "destroy"
    x.VM.start(vm, False, False)
    assert x.VM.get_power_state(vm) == "Halted" and x.VM.get_domid(vm) == "-1"
    host = open_store(store.path).read()
    assert set(host.hv.domains) == {0}
    host.check_invariants()


def test_a_value_outside_the_enum_is_refused_as_xapi_refuses_it(x: Any) -> None:
    vm = _vm(x, "c")
    unknown = ["INTERNAL_ERROR", 'Failure("Unknown tag/contents")']
    assert fails(x.VM.set_actions_after_crash, vm, "explode") == unknown
    assert fails(x.VM.set_actions_after_crash, vm, "coredump-restart")[0] == "INTERNAL_ERROR"  # xl's spelling
    assert x.VM.get_actions_after_crash(vm) == "destroy"
    x.VM.set_actions_after_crash(vm, "Coredump_And_Restart")  # rpclib lowercases an enum first
    assert x.VM.get_actions_after_crash(vm) == "coredump_and_restart"


def test_start_refuses_what_xapi_refuses(x: Any) -> None:
    vm = _vm(x, "c")
    x.VM.set_actions_after_crash(vm, "rename_restart")  # the setter accepts it ...
    assert fails(x.VM.start, vm, False, False) == [  # ... VM.start does not
        "VALUE_NOT_SUPPORTED", "VM.actions_after_crash", "rename_restart",
        "option would leak a domain; VMs and not domains are managed by this API",
    ]  # fmt: skip
    hvm = _vm(x, "h")
    x.VM.set_actions_after_crash(hvm, "coredump_and_destroy")
    assert fails(x.VM.start, hvm, False, False) == [
        "VALUE_NOT_SUPPORTED", "VM.actions_after_crash", "coredump_and_destroy",
        "cannot invoke a coredump of an HVM, PVH or PV-in-PVH domain",
    ]  # fmt: skip
    assert x.VM.get_power_state(vm) == "Halted" and x.VM.get_power_state(hvm) == "Halted"


def test_create_and_clone_carry_it_into_the_spec(x: Any, store: Store[Host]) -> None:
    new = x.VM.create({"name_label": "made", "VCPUs_max": "1", "memory_static_max": str(256 * 1024**2),
                       "actions_after_crash": "preserve"})  # fmt: skip
    assert x.VM.get_actions_after_crash(new) == "preserve"
    copy = x.VM.clone(_vm(x, "kept"), "kept2")
    assert x.VM.get_actions_after_crash(copy) == "preserve"
    host = open_store(store.path).read()
    assert host.vm("made").spec.on_crash == "preserve" and host.vm("kept2").spec.on_crash == "preserve"
    bad = {"name_label": "bad", "actions_after_crash": "sometimes"}
    assert fails(x.VM.create, bad) == ["INTERNAL_ERROR", 'Failure("Unknown tag/contents")']
    plain = x.VM.create({"name_label": "plain"})
    assert x.VM.get_actions_after_crash(plain) == "restart"  # what XenServer's templates and SDK examples set


def test_the_spec_reader_agrees_with_the_loaded_host(store: Store[Host]) -> None:
    """crash_spec reads on_crash in SQL (plain parts) or by decoding (deflated parts, no JSON1); both must
    say what the toolstack's own load of the host says, for every VM."""
    import sqlite3

    from evtchn.api import crash_spec

    with store.transaction() as host:
        host.define_vm(VmSpec(name="big", type="pv", disks=[{"userdevice": n} for n in range(60)],
                              on_crash="coredump-restart"))  # fmt: skip  # a record past 2 KiB: deflated
    vms = open_store(store.path).read().vms
    loaded = {vms[u].uuid: vms[u].spec.on_crash for u in vms}
    conn = sqlite3.connect(store.path)
    deflated = "SELECT count(*) FROM parts WHERE kind = 'vm' AND substr(data, 1, 1) = X'7A'"
    assert conn.execute(deflated).fetchone() != (0,)
    assert crash_spec.read(conn) == loaded
    fallback = {k: crash_spec._decoded(d) for k, _, d in conn.execute(crash_spec._SQL_NO_JSON1)}
    assert fallback == loaded and set(loaded.values()) >= {"destroy", "preserve", "coredump-restart"}
    some = sorted(loaded)[:2]
    assert crash_spec.read(conn, some) == {u: loaded[u] for u in some} and crash_spec.read(conn, []) == {}
