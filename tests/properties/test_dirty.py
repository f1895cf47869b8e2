"""Dirty tracking is never short of a change: replaying take_dirty()'s exports onto a copy reproduces
the original exactly.

The same random hypercall sequences as test_stateful.py (every EVTCHNOP, domain create / destroy / kill,
FIFO set-up, resets, drains), on a hypervisor with tracking on, still checked op by op against the naive
model. After every step the changes since the previous step are exported (JSON round trip, as a store
writes them) and applied to a replica, and written to rows as a store keeps them (a record per domain, a
row per bucket); the replica's full snapshot, and that of a host rebuilt from the rows alone, must equal
the original's. Both start from export_all(), the store's way of writing a host the first time.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from evtchn.xen import DOMID_SELF, Hypervisor, HypervisorSettings, ShutdownReason
from evtchn.xen.delta import export_all

from .test_stateful import RUNS, STEPS_PER_RUN, CoreVsNaive


class Rows:
    """What a row store keeps: the globals, one record per domain, one row per (domain, bucket)."""

    def __init__(self) -> None:
        self.globals: dict[str, Any] = {}
        self.records: dict[int, dict[str, Any]] = {}
        self.buckets: dict[tuple[int, int], dict[str, Any]] = {}

    def write(self, export: dict[str, Any]) -> None:
        self.globals = export["globals"]
        for domid in export["destroyed"]:
            self.records.pop(domid, None)
            self.buckets = {k: v for k, v in self.buckets.items() if k[0] != domid}
        for dom in export["domains"]:
            domid, rec = dom["domid"], dom["record"]
            self.records[domid] = rec
            for b, data in dom["buckets"].items():
                self.buckets[domid, int(b)] = data
            # Bucket rows past rec["buckets"] (after a FIFO → 2-level reset) stay: apply_export skips them.

    def rebuild(self, settings: HypervisorSettings) -> Hypervisor:
        hv = Hypervisor(settings)
        domains = [
            {
                "domid": domid,
                "record": rec,
                "buckets": {str(b): v for (i, b), v in self.buckets.items() if i == domid},
            }
            for domid, rec in self.records.items()
        ]
        hv.apply_export({"version": 1, "globals": self.globals, "destroyed": [], "domains": domains})
        return hv


class TrackedCoreVsReplica(CoreVsNaive):
    def __init__(self) -> None:
        super().__init__()
        self.replica: Hypervisor | None = None
        self.rows = Rows()

    def _start(self) -> None:
        self.hv.track_dirty()
        self.replica = Hypervisor(self.hv.settings)
        first = json.loads(json.dumps(export_all(self.hv)))
        self.replica.apply_export(first)
        self.rows = Rows()
        self.rows.write(first)

    @rule(domid=st.sampled_from((1, 2, 3)), reason=st.sampled_from(tuple(ShutdownReason)))
    def shut_down(self, domid: int, reason: ShutdownReason) -> None:
        # Shutdown keeps every port (nothing the naive model sees changes); only the record does.
        if domid in self.hv.domains:
            self.hv.shutdown_domain(domid, reason)

    @invariant()
    def replica_follows(self) -> None:
        if self.replica is None or self.replica.settings is not self.hv.settings:
            self._start()  # first step, or host() made a new hypervisor
        assert self.replica is not None
        export = json.loads(json.dumps(self.hv.export_dirty(self.hv.take_dirty())))
        self.replica.apply_export(export)
        want = self.hv.to_state()
        assert self.replica.to_state() == want
        self.rows.write(export)  # and a host rebuilt from nothing but the rows is the same host
        assert self.rows.rebuild(self.hv.settings).to_state() == want


TrackedCoreVsReplica.TestCase.settings = settings(
    max_examples=RUNS,
    stateful_step_count=STEPS_PER_RUN,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_dirty_exports_rebuild_the_host = TrackedCoreVsReplica.TestCase


def test_take_dirty_names_only_what_changed() -> None:
    hv = Hypervisor()
    hv.create_domain(0, privileged=True)
    hv.create_domain(1)
    for _ in range(200):  # ports 1..200 of dom0: buckets 0..3
        hv.bind_ipi(0, 0)
    hv.track_dirty()
    assert not hv.take_dirty()
    p = hv.alloc_unbound(1, DOMID_SELF, 0)
    q = hv.bind_interdomain(0, 1, p)
    assert q == 201
    d = hv.take_dirty()
    assert d.domains == {0: {201 >> 6}, 1: {p >> 6}} and not d.created and not d.destroyed
    hv.send(0, 150)  # an IPI of dom0: bucket 2
    assert hv.take_dirty().domains == {0: {2}}
    hv.pause(1)  # a domain-level field only: the record, no bucket
    assert hv.take_dirty().domains == {1: frozenset()}
    hv.destroy_domain(1)  # its peer port in dom0 returns to unbound
    d = hv.take_dirty()
    assert d.destroyed == {1} and d.domains == {0: {201 >> 6}}
    hv.create_domain(1)
    d = hv.take_dirty()
    assert d.created == {1} and d.domains == {1: {0}}


def test_an_untracked_host_pays_nothing_and_answers_everything_first() -> None:
    hv = Hypervisor()
    hv.create_domain(0, privileged=True)
    assert type(hv.domain(0).ports).__name__ == "PortTable"
    d = hv.take_dirty()  # the first answer: everything
    assert d.created == {0} and d.domains == {0: {0}}
    assert type(hv.domain(0).ports).__name__ == "TrackedPortTable"


def test_a_fifo_host_rebuilds_from_its_export() -> None:
    hv = Hypervisor()
    hv.create_domain(0, privileged=True, max_vcpus=2)
    hv.init_control(0, 1, 0, 0)
    hv.init_control(0, 2, 0, 1)
    for page in range(3):
        hv.expand_array(0, 10 + page)
    ports = [hv.bind_ipi(0, i % 2) for i in range(2500)]
    for p in ports[::7]:
        hv.unmask(0, p)
        hv.send(0, p)
    hv.drain(0, 1)
    copy = Hypervisor()
    copy.apply_export(json.loads(json.dumps(export_all(hv))))
    assert copy.to_state() == hv.to_state()
    assert copy.drain(0, 0) == hv.drain(0, 0) != []


def test_linking_onto_a_queue_marks_the_old_tails_bucket() -> None:
    """FIFO: raising port B rewrites the LINK of the queue's tail A, which may lie in another bucket."""
    hv = Hypervisor()
    hv.create_domain(0, privileged=True)
    hv.init_control(0, 1, 0, 0)
    hv.expand_array(0, 2)
    ports = [hv.bind_ipi(0, 0) for _ in range(200)]
    a, b = ports[4], ports[150]  # buckets 0 and 2
    hv.unmask(0, a)
    hv.unmask(0, b)
    hv.track_dirty()
    copy = Hypervisor()
    copy.apply_export(export_all(hv))
    hv.send(0, a)
    copy.apply_export(hv.export_dirty(hv.take_dirty()))
    hv.send(0, b)  # A's word now links to B
    d = hv.take_dirty()
    assert d.domains == {0: {a >> 6, b >> 6}}
    copy.apply_export(hv.export_dirty(d))
    assert hv.dump_port(0, a).abi_field.split() == [str(b)]
    assert copy.to_state() == hv.to_state()
    assert hv.drain(0, 0) == [a, b]  # the guest unlinks A (bucket 0) and then B (bucket 2)
    d = hv.take_dirty()
    assert d.domains == {0: {a >> 6, b >> 6}}
    copy.apply_export(hv.export_dirty(d))
    assert copy.to_state() == hv.to_state()


def test_rows_written_before_the_rover_and_the_bucket_count_still_rebuild() -> None:
    """A store's rows from an earlier export (no domid_rover, no bucket count) and a stale bucket."""
    hv = Hypervisor()
    hv.create_domain(0, privileged=True)
    hv.create_domain(3)
    hv.bind_ipi(3, 0)
    exp = json.loads(json.dumps(export_all(hv)))
    del exp["globals"]["domid_rover"]
    for dom in exp["domains"]:
        stale = dict(dom["buckets"]["0"])
        del dom["record"]["buckets"]
        dom["buckets"]["40"] = stale  # out of range for the table: only skipped with a bucket count
    old = Hypervisor()
    old.apply_export({**exp, "domains": [{**d, "buckets": {"0": d["buckets"]["0"]}} for d in exp["domains"]]})
    assert old.to_state() == hv.to_state() | {"domid_rover": 3}
    exp2 = json.loads(json.dumps(export_all(hv)))
    exp2["domains"][1]["buckets"]["40"] = exp2["domains"][1]["buckets"]["0"]  # a stale row: skipped
    fresh = Hypervisor()
    fresh.apply_export(exp2)
    assert fresh.to_state() == hv.to_state()
