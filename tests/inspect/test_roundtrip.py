"""Round trip: for random simulated hosts, analysing their lsevtchn and 'e' output gives back exactly the
host's own counts (dom0 ports by kind and by remote domain, each guest's channels to dom0)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evtchn.inspect import Kind, analyze, format_edump, format_lsevtchn, parse_text
from evtchn.xen import DOMID_SELF, ECS, Hypervisor
from tests.inspect.hosts import dom0_host

_KIND = {
    ECS.UNBOUND: Kind.UNBOUND,
    ECS.INTERDOMAIN: Kind.INTERDOMAIN,
    ECS.PIRQ: Kind.PIRQ,
    ECS.VIRQ: Kind.VIRQ,
    ECS.IPI: Kind.IPI,
}


@dataclass
class Truth:
    total: int
    by_kind: dict[str, int]
    inter: dict[int, int]
    unbound: dict[int, int]
    to_dom0: dict[int, int]


def truth(hv: Hypervisor) -> Truth:
    """The host's own counts, read from the hypervisor's port tables."""
    ports = list(hv.dump_domain(0))
    kinds = Counter(_KIND[p.state].label for p in ports)
    inter = Counter(p.remote_dom for p in ports if p.state == ECS.INTERDOMAIN)
    unbound = Counter(p.remote_dom for p in ports if p.state == ECS.UNBOUND)
    to_dom0 = {
        d: sum(1 for p in hv.dump_domain(d) if p.state == ECS.INTERDOMAIN and p.remote_dom == 0)
        for d in hv.domains
        if d != 0
    }
    return Truth(len(ports), dict(kinds), dict(inter), dict(unbound), to_dom0)


@st.composite
def hosts(draw: st.DrawFn) -> Hypervisor:
    version = draw(st.sampled_from([(4, 1), (4, 5), (4, 17), (4, 22)]))
    hv = dom0_host(version, baseline=draw(st.integers(1, 150)), vcpus=draw(st.integers(1, 4)))
    for pirq in range(draw(st.integers(0, 4))):
        hv.bind_pirq(0, 16 + pirq)
    for domid in draw(st.lists(st.integers(1, 400), unique=True, max_size=8)):
        hv.create_domain(domid, max_vcpus=2, is_hvm=draw(st.booleans()))
        for port in (hv.alloc_unbound(0, domid, 0), hv.alloc_unbound(0, domid, 0)):
            hv.bind_interdomain(0, domid, port)  # xenstored and xenconsoled bind store and console
        hv.bind_virq(domid, 0, 0)
        hv.bind_ipi(domid, 1)
        connected: list[int] = []
        for _ in range(draw(st.integers(0, 8))):
            front = hv.alloc_unbound(domid, DOMID_SELF, 0)
            if draw(st.booleans()):  # the backend connected, or is still waiting (§8.3a)
                hv.bind_interdomain(0, domid, front)
                connected.append(front)
        if draw(st.booleans()):
            hv.alloc_unbound(0, 0, domid)  # a dom0 port offered to the guest
        close_one = draw(st.booleans())
        if connected and close_one:
            hv.close(domid, connected[0])  # dom0's end goes back to unbound for this guest (§2.7)
        if hv.domain(domid).is_hvm and draw(st.booleans()):
            ioreq = hv.alloc_unbound_xen(domid, 0, 0)  # qemu in dom0 binds the ioreq port (§7.1)
            hv.bind_interdomain(0, domid, ioreq)
    return hv


def _check_dom0(a_total: int | None, a: object, t: Truth) -> None:
    from evtchn.inspect.analyze import Analysis

    assert isinstance(a, Analysis)
    assert a_total == t.total
    assert a.by_kind == t.by_kind
    assert a.interdomain_by_domain == t.inter
    assert a.unbound_by_domain == t.unbound
    held = Counter(t.inter) + Counter(t.unbound)
    held.pop(0, None)
    assert a.held_by_domain == dict(sorted(held.items()))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hosts())
def test_lsevtchn_round_trip(hv: Hypervisor) -> None:
    t = truth(hv)
    out, err, rc = format_lsevtchn(hv, 0)
    assert (err, rc) == ("", 0)
    a = analyze(parse_text(out))  # bare output, as `lsevtchn 0 > file` leaves it
    _check_dom0(a.dom0_total, a, t)
    assert a.by_abi and all(h.limit - h.free == t.total for h in a.by_abi.values())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hosts(), st.sampled_from(["4.1", "4.2", "4.4"]), st.booleans())
def test_edump_round_trip(hv: Hypervisor, layout: str, prefix: bool) -> None:
    t = truth(hv)
    dump = parse_text(format_edump(hv, layout=layout, prefix=prefix))  # type: ignore[arg-type]
    assert dump.bad == [] and dump.cut == []
    a = analyze(dump)
    _check_dom0(a.dom0_total, a, t)
    assert {g.domid: g.to_dom0 for g in a.guests} == t.to_dom0


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hosts())
def test_concatenated_lsevtchn_round_trip(hv: Hypervisor) -> None:
    """`for d in 0 $guests; do echo "# lsevtchn $d"; lsevtchn $d; done`: guests' dom0 channels match."""
    t = truth(hv)
    text = "".join(f"# lsevtchn {d}\n" + format_lsevtchn(hv, d).stdout for d in sorted(hv.domains))
    a = analyze(parse_text(text))
    _check_dom0(a.dom0_total, a, t)
    # Xen 4.15-4.18 hide Xen-owned ports from status; a 4.20 lsevtchn skips them (§9.1).
    hidden = {
        d: sum(
            1
            for p in hv.dump_domain(d)
            if p.xen_consumer and p.state == ECS.INTERDOMAIN and p.remote_dom == 0
        )
        for d in t.to_dom0
    }
    if not hv.settings.status_eacces_xen_consumer:
        hidden = dict.fromkeys(hidden, 0)
    assert {g.domid: g.to_dom0 for g in a.guests} == {d: n - hidden[d] for d, n in t.to_dom0.items()}
