"""What failures leave behind: a failed `xl create`'s dying domain, and a crashed guest per on_crash.

Sources: xen RELEASE-4.17.5 tools/libs/light/libxl_create.c domcreate_complete() destroys the domain after
a failed creation (libxl__domain_destroy); oxenstored, whose bind for the store port failed, still maps the
ring page, so Xen leaves the domain dying: `(null)` `--p--d` in xl list (tools/xl/xl_list.c prints the
NULL name), keeping its domid, the next domain taking the next one (xen/common/domctl.c domid rover) —
as observed on 4.17.5 (issue 12). on_crash: xl.cfg(5), tools/xl/xl_vmcontrol.c (no restart-loop guard),
xen-api ocaml/xapi/xapi_xenops.ml on_crash_behaviour (preserve -> Vm.Pause: XenAPI shows Paused).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evtchn.toolstack import BUILTIN_PROFILES, Host, StartError, VmSpec
from evtchn.toolstack.xl_cfg import parse_xl_cfg, to_xl_cfg
from evtchn.toolstack.xl_list import format_xl_list, xl_list
from tests.toolstack.helpers import hardware_leaving, small_dom0


def _short_host(name: str, free: int) -> Host:
    profile = small_dom0(BUILTIN_PROFILES[name])
    return Host.create(profile, hardware_leaving(profile, free))


def test_failed_xl_create_leaves_a_dying_null_domain() -> None:
    host = _short_host("xen-4.17", 0)  # no dom0 port for xenstored
    host.define_vm(VmSpec(name="g", type="pv"))
    with pytest.raises(StartError, match=r"libxl_create.c:1974:console_xswait_callback: domain 1 console"):
        host.start_vm("g")
    assert host.vm("g").power_state == "Halted" and host.vm("g").domid is None
    rows = {r.domid: r for r in xl_list(host.plumbing)}
    assert (rows[1].name, rows[1].state) == ("(null)", "--p--d")
    assert not host.hv.domains[1].ports.used_ports()  # evtchn_destroy closed them
    assert not host.xenstore.exists("/local/domain/1")
    # The next attempt takes the next domid; the zombie keeps 1.
    with pytest.raises(StartError, match="domain 2 console tty"):
        host.start_vm("g")
    assert [r.domid for r in xl_list(host.plumbing)] == [0, 1, 2]
    text = format_xl_list(xl_list(host.plumbing))
    assert "\n(null)                                       1     0     1     --p--d" in text
    host.check_invariants()


def test_console_bind_failure_leaves_no_zombie() -> None:
    """xenconsoled unmaps on @releaseDomain (tools/console/daemon/io.c): the domain is fully destroyed."""
    host = _short_host("xen-4.17", 1)  # xenstored binds, xenconsoled cannot
    host.define_vm(VmSpec(name="g", type="pv"))
    with pytest.raises(StartError):
        host.start_vm("g")
    assert set(host.hv.domains) == {0}
    host.check_invariants()


def test_xenopsd_profiles_destroy_fully() -> None:
    host = _short_host("xenserver-8", 0)
    host.define_vm(VmSpec(name="g", type="pv"))
    with pytest.raises(StartError):
        host.start_vm("g")
    assert set(host.hv.domains) == {0}


def _crashing(on_crash: str) -> VmSpec:
    # 4 vCPUs want ~6 binds each; a table of 10 ports dies binding vCPU 1's (reference §8.3a).
    return VmSpec(name="c", type="pv", vcpus=4, max_event_channels=10, on_crash=on_crash)


@pytest.mark.parametrize(("profile", "state"), [("xen-4.17", "---sc-"), ("xenserver-8", "--psc-")])
def test_preserve_keeps_the_crashed_domain_and_its_ports(profile: str, state: str) -> None:
    host = Host.create(profile)
    host.define_vm(_crashing("preserve"))
    vm = host.start_vm("c")
    assert vm.domid is not None and vm.power_state == "Paused"  # XenAPI: no Crashed power state
    d = host.hv.domains[vm.domid]
    assert d.xl_state == state
    held = d.ports.used_ports()
    assert held and max(held) <= 10  # the VIRQs/IPIs it bound, store and console
    assert host.xenstore.read(f"/local/domain/{vm.domid}/name") == "c"
    assert any(m.startswith("kernel BUG at drivers/xen/events/events_base.c") for m in vm.messages)
    host.check_invariants()
    host.destroy_vm("c")
    assert set(host.hv.domains) == {0}
    host.check_invariants()


def test_console_text_is_linux_61s_bug_with_its_line() -> None:
    """linux 6.1.166 drivers/xen/events/events_base.c: bind_ipi_to_irq BUG() at 1282, bind_virq_to_irq
    BUG_ON(ret < 0) at 1399; lib/bug.c prints "kernel BUG at <file>:<line>!"."""
    host = Host.create("xen-4.17")
    host.define_vm(_crashing("preserve"))  # ports 1-2 store/console, 3-8 vCPU 0, 9-10 vCPU 1's timer, resched
    assert host.start_vm("c").messages == [
        "kernel BUG at drivers/xen/events/events_base.c:1282! RIP: bind_ipi_to_irq",
        # xl create, still attached (tools/xl/xl_vmcontrol.c handle_domain_death, create_domain)
        "Domain 1 has shut down, reason code 3 0x3",
        "Action for shutdown reason code 3 is preserve",
        "Done. Exiting now",
    ]
    spec = VmSpec(name="v", type="pv", vcpus=4, max_event_channels=8, on_crash="preserve")  # vCPU 1's timer
    host.define_vm(spec)
    assert host.start_vm("v").messages[0] == (
        "kernel BUG at drivers/xen/events/events_base.c:1399! RIP: bind_virq_to_irq"
    )


def test_xl_logs_the_action_it_takes() -> None:
    host = Host.create("xen-4.17")
    host.define_vm(_crashing("coredump-restart"))
    got = host.start_vm("c").messages
    assert got[1:6] == [
        "Domain 1 has shut down, reason code 3 0x3",
        "Action for shutdown reason code 3 is coredump-restart",
        "dumping core to /var/lib/xen/dump/c",
        "Domain 1 needs to be cleaned up: destroying the domain",
        "Done. Rebooting now",
    ]
    # xenopsd logs to xensource.log: nothing but the kernel's own line in the VM's log.
    host = Host.create("xenserver-8")
    host.define_vm(_crashing("destroy"))
    assert [m for m in host.start_vm("c").messages if not m.startswith("kernel BUG")] == []


def test_destroy_frees_everything() -> None:
    host = Host.create("xen-4.17")
    host.define_vm(_crashing("destroy"))
    vm = host.start_vm("c")
    assert vm.power_state == "Halted" and set(host.hv.domains) == {0}
    host.check_invariants()


@pytest.mark.parametrize("action", ["restart", "coredump-restart", "rename-restart"])
def test_restart_rebuilds_and_crashes_again(action: str) -> None:
    host = Host.create("xen-4.17")
    host.define_vm(_crashing(action))
    vm = host.start_vm("c")
    assert vm.power_state == "Halted" and set(host.hv.domains) == {0}
    assert host.hv.domid_rover == 2  # the restart built domain 2, which died the same way
    assert sum(m.startswith("kernel BUG") for m in vm.messages) == 2
    assert "would keep restarting it" in vm.messages[-1]
    host.check_invariants()


def test_on_crash_read_from_xl_cfg_and_written_back() -> None:
    spec, notes = parse_xl_cfg('name = "g"\ntype = "pv"\non_crash = "preserve"\n', source="g.cfg")
    assert spec.on_crash == "preserve" and notes == []
    assert parse_xl_cfg(to_xl_cfg(spec))[0] == spec
    from evtchn.toolstack.errors import SpecError

    with pytest.raises(SpecError, match=r"^g.cfg:2: on_crash must be one of destroy, restart"):
        parse_xl_cfg('name = "g"\non_crash = "explode"\n', source="g.cfg")


def test_the_zombie_and_the_preserved_crash_persist(tmp_path: Path) -> None:
    """`evtchn vm start` commits what a refused start leaves in Xen (a dying domain), then exits 3."""
    from click.testing import CliRunner

    from evtchn.cli import main
    from evtchn.cli.exits import EXIT_REFUSED
    from evtchn.store import create_store, open_store

    path = tmp_path / "h.db"
    create_store(_short_host("xen-4.17", 0), path)
    spec = tmp_path / "g.yaml"
    spec.write_text("name: g\ntype: pv\n")

    def cli(*args: str) -> tuple[int, str]:
        r = CliRunner().invoke(main, [*args, "--host", str(path)])
        return r.exit_code, r.stderr

    assert cli("vm", "create", str(spec))[0] == 0
    for domid in (1, 2):
        code, err = cli("vm", "start", "g")
        assert code == EXIT_REFUSED and f"domain {domid} console tty: timed out" in err
    fresh = open_store(path).read()
    assert [(r.domid, r.name, r.state) for r in xl_list(fresh.plumbing)][1:] == [
        (1, "(null)", "--p--d"),
        (2, "(null)", "--p--d"),
    ]
    assert fresh.vm("g").power_state == "Halted"
    fresh.check_invariants()
    r = CliRunner().invoke(main, ["xl-list", "--host", str(path)])
    assert r.exit_code == 0 and r.stdout.splitlines()[2:] == [
        "(null)                                       1     0     1     --p--d",
        "(null)                                       2     0     1     --p--d",
    ]
    shown = CliRunner().invoke(main, ["host", "show", "--json", "--host", str(path)]).stdout
    import json

    assert [d["name"] for d in json.loads(shown)["domains"]] == ["Domain-0", "(null)", "(null)"]

    store = create_store(Host.create("xen-4.17"), tmp_path / "c.db")
    with store.transaction() as host:
        host.define_vm(_crashing("preserve"))
        vm = host.start_vm("c")
    again = open_store(store.path).read()
    assert again.vm("c").power_state == "Paused" and again.vm("c").spec.on_crash == "preserve"
    assert vm.domid is not None and again.hv.domains[vm.domid].xl_state == "---sc-"
    again.check_invariants()


def test_unpausing_a_preserved_crash_changes_nothing() -> None:
    host = Host.create("xen-4.17")
    host.define_vm(_crashing("preserve"))
    vm = host.start_vm("c")
    assert vm.domid is not None
    before = host.hv.domains[vm.domid].ports.used_ports()
    host.unpause_vm("c")
    assert vm.power_state == "Paused" and host.hv.domains[vm.domid].xl_state == "---sc-"
    assert host.hv.domains[vm.domid].ports.used_ports() == before
    host.check_invariants()


def test_xenapi_shows_a_preserved_crash_as_paused(tmp_path: Path) -> None:
    """xapi_xenops.ml on_crash_behaviour: `preserve -> [Vm.Pause]`; XenAPI has no Crashed power state."""
    from evtchn.api.app import build_dispatcher
    from evtchn.api.sessions import Credentials
    from evtchn.store import create_store
    from tests.api.harness import serving

    store = create_store(Host.create("xenserver-8"), tmp_path / "h.db")
    with store.transaction() as host:
        host.define_vm(_crashing("preserve"))
        domid = host.start_vm("c").domid
    with serving(build_dispatcher(store, Credentials(user="root", password="pw"))) as ep:
        s = ep.tcp_session()
        s.xenapi.login_with_password("root", "pw", "2.0", "evtchn-tests")
        ref = s.xenapi.VM.get_by_name_label("c")[0]
        assert s.xenapi.VM.get_power_state(ref) == "Paused"
        assert s.xenapi.VM.get_domid(ref) == str(domid)


@pytest.mark.parametrize("profile", ["xen-xl", "xenserver-8"])
def test_other_linux_61_guests_print_the_same_bug_line(profile: str) -> None:
    # Their guest kernels are Linux 6.1 too (profile_data MODERN_LINUX_PV); XenServer 6.x guests print
    # their own kernels' lines (tests/fidelity/test_bug_lines.py).
    host = Host.create(profile)
    host.define_vm(_crashing("destroy"))
    assert host.start_vm("c").messages[0] == (
        "kernel BUG at drivers/xen/events/events_base.c:1282! RIP: bind_ipi_to_irq"
    )
