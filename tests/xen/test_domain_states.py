"""What failed and crashed guests leave behind (issue 12): dying domains keep their domid, crashed ones
keep their ports; `xl list`'s State column (xen: tools/xl/xl_list.c, flags r b p s, a letter of "-rscwS"
for the shutdown reason, d)."""

from __future__ import annotations

from evtchn.xen import DOMID_SELF, EvtchnStat, Hypervisor, ShutdownReason
from evtchn.xen.delta import export_all


def test_a_domain_whose_build_failed_stays_dying_with_its_domid(hv: Hypervisor) -> None:
    d = hv.create_domain(paused=True)  # xl create builds the domain paused
    p = hv.alloc_unbound(d.domid, DOMID_SELF, 0)  # its store port, bound by xenstored
    q = hv.bind_interdomain(0, d.domid, p)
    hv.kill_domain(d.domid)  # libxl gives up: domain_kill, but a reference keeps it
    assert d.domid in hv.domains and d.dying
    assert d.xl_state == "--p--d"
    assert d.active_evtchns == 0  # evtchn_destroy closed its ports ...
    assert hv.status(0, 0, q).status is EvtchnStat.UNBOUND  # ... and dom0's end waits for it again
    nxt = hv.create_domain()
    assert nxt.domid == d.domid + 1  # the next domain takes the next domid, not the dying one's
    assert hv.domain(0).xl_state == "r-----" and nxt.xl_state == "-b----"
    hv.check_invariants()


def test_a_crashed_domain_preserved_holds_its_ports(hv: Hypervisor) -> None:
    p = hv.alloc_unbound(1, DOMID_SELF, 0)
    q = hv.bind_interdomain(0, 1, p)
    hv.bind_ipi(1, 0)
    before = hv.domain(1).active_evtchns
    hv.crash_domain(1)  # domain_crash(): on_crash=preserve leaves it so
    d = hv.domain(1)
    assert d.shutdown_reason is ShutdownReason.CRASH and d.xl_state == "---sc-"
    assert d.active_evtchns == before  # nothing is closed until the toolstack destroys it
    s = hv.status(0, 0, q)
    assert (s.status, s.dom, s.port) == (EvtchnStat.INTERDOMAIN, 1, p)
    hv.send(0, q)  # dom0 can still signal it: the event just waits
    assert hv.is_pending(1, p)
    hv.shutdown_domain(1, ShutdownReason.POWEROFF)  # the first reason sticks
    assert d.shutdown_reason is ShutdownReason.CRASH
    hv.destroy_domain(1)
    assert hv.status(0, 0, q).status is EvtchnStat.UNBOUND


def test_xl_letters_for_every_shutdown_reason() -> None:
    assert "".join(r.xl_letter for r in ShutdownReason) == "-rscwS"


def test_states_survive_snapshot_and_export(hv: Hypervisor) -> None:
    hv.crash_domain(1)
    hv.kill_domain(2)
    hv.create_domain()
    for copy in (Hypervisor.from_state(hv.to_state()), Hypervisor(hv.settings)):
        if not copy.domains:
            copy.apply_export(export_all(hv))
        assert copy.to_state() == hv.to_state()
        assert [copy.domain(i).xl_state for i in (1, 2)] == ["---sc-", "-----d"]
        assert copy.create_domain().domid == 4  # the rover is part of the host
