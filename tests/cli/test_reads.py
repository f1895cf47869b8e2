"""The thin reads behind `lsevtchn N`, `debug-keys e`, `host show` and `vm list` (evtchn.store.reads)
print what the whole host prints (issue 14, "A read-only command does not load what it does not print").

Each read is compared with the host built by the full load (`Store.read()`), after random hypercalls run
through the store's own write path (so FIFO resets leave stale buckets, closed FIFO ports stay busy).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evtchn.inspect.edump import format_edump
from evtchn.inspect.lsevtchn import format_lsevtchn
from evtchn.store import CorruptHost, create_store, open_store
from evtchn.store.reads import VmSummary, domain_counts, hypervisor, open_lazy, vm_summaries
from evtchn.toolstack import Host, seed_vm_spec
from evtchn.xen import Hypervisor
from tests.properties.ops import Op, apply_op, op_strategy


def _full_counts(hv: Hypervisor) -> list[tuple[int, int, int]]:
    return [(i, hv.domains[i].active_evtchns, hv.domains[i].limit_port) for i in sorted(hv.domains)]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A dom0-only host file per profile: FIFO dom0 on Xen 4.17 (xenserver-8), 2-level (xenserver-6.2)."""
    out = {}
    for profile in ("xenserver-8", "xenserver-6.2"):
        path = tmp_path_factory.mktemp("reads") / f"{profile}.db"
        create_store(Host.create(profile), path)
        out[profile] = path.read_bytes()
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    profile=st.sampled_from(("xenserver-8", "xenserver-6.2")),
    batches=st.lists(st.lists(op_strategy(), max_size=25), min_size=1, max_size=3),
)
def test_partial_reads_print_what_the_whole_host_prints(
    base: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory, profile: str, batches: list[list[Op]]
) -> None:
    _check(base[profile], tmp_path_factory.mktemp("prop") / "h.db", batches)


# A FIFO guest whose closed port is still LINKED (busy); or drained and reset to 2-level (stale buckets).
FIFO_BUSY: list[Op] = [
    ("create_domain", 1, 2, 64, -1),
    ("init_control", 1, 100, 0, 0),
    ("expand_array", 1, 101),
    *[("bind_ipi", 1, 0)] * 3,
    *[op for port in (1, 2, 3) for op in (("unmask", 1, port), ("send", 1, port))],
    ("close", 1, 1),
]


@pytest.mark.parametrize("reset", [False, True])
def test_busy_fifo_ports_and_stale_buckets(
    base: dict[str, bytes], tmp_path: Path, reset: bool
) -> None:
    then: list[Op] = [("drain", 1, 0), ("reset", 1, 1)] if reset else []
    full = _check(base["xenserver-8"], tmp_path / "h.db", [FIFO_BUSY, then])
    guest = full.domains[1]
    assert (guest.is_fifo, guest.ports.busy_ports()) == ((False, []) if reset else (True, [1]))


def _check(data: bytes, path: Path, batches: list[list[Op]]) -> Hypervisor:
    """Run each batch of hypercalls in one store transaction, then compare every thin read with the
    host the full load builds; returns that hypervisor."""
    path.write_bytes(data)
    writer = open_store(path)
    for ops in batches:  # one transaction each: only the changed records and buckets are rewritten
        with writer.transaction() as host:
            for op in ops:
                apply_op(host.hv, op)
    full = open_store(path).read().hv
    store = open_lazy(path)
    assert domain_counts(store) == _full_counts(full)
    for domid in (0, 1, 2, 3, 9):
        part = hypervisor(store, [0, domid])
        assert part is not None and sorted(part.domains) == sorted({0, domid} & set(full.domains))
        for version in ((4, 14), (4, 17), (4, 20)):
            assert format_lsevtchn(part, domid, tool_version=version) == format_lsevtchn(
                full, domid, tool_version=version
            )
    every = hypervisor(store)
    assert every is not None
    for layout in ("4.4", "4.1"):
        assert format_edump(every, layout=layout) == format_edump(full, layout=layout)
    return full


@pytest.fixture
def vms_file(tmp_path: Path) -> Path:
    host = Host.create("xenserver-8")
    vms = [host.define_vm(seed_vm_spec(f"vm{i % 4}"), unique_name=False) for i in range(6)]  # names repeat
    for vm in vms[1:3]:
        host.start_vm(vm.uuid)
    path = tmp_path / "h.db"
    create_store(host, path)
    return path


def _naive_summaries(path: Path) -> list[tuple[object, ...]]:
    """`vm list`'s rows as the CLI built them before: every VM and device row read, counted in Python."""
    store = open_store(path)
    devices = store.devices()
    out: list[tuple[object, ...]] = []
    for r in sorted(store.vms(), key=lambda r: (r.name, r.uuid)):
        mine = [d for d in devices if d.vm_ref == r.ref]
        failed = sum(1 for d in mine if d.status_code)
        out.append((r.name, r.uuid, r.power_state, r.domid, r.vm_type, r.vcpus, r.memory_mib, r.dom0_ports,
                    len(mine), failed))  # fmt: skip
    return out


def test_vm_summaries_count_devices_and_failures_as_the_rows_do(vms_file: Path) -> None:
    assert [tuple(v) for v in _rows(vms_file)] == _naive_summaries(vms_file)
    conn = sqlite3.connect(vms_file)
    with conn:  # a backend failure recorded on one device (errno in status_code)
        conn.execute("UPDATE devices SET status_code = 19 WHERE rowid = (SELECT min(rowid) FROM devices)")
    conn.close()
    got = _rows(vms_file)
    assert [tuple(v) for v in got] == _naive_summaries(vms_file)
    assert sum(v.failed_devices for v in got) == 1
    assert len({v.name for v in got}) == 4 and len(got) == 6


def _rows(path: Path) -> list[VmSummary]:
    return vm_summaries(open_lazy(path))


def test_a_damaged_bucket_is_one_corrupt_host_error(vms_file: Path) -> None:
    conn = sqlite3.connect(vms_file)
    with conn:
        conn.execute("UPDATE parts SET data = CAST('j{\"state\":\"!!\"}' AS BLOB) WHERE kind = 'bkt'")
    conn.close()
    store = open_lazy(vms_file)
    for read in (domain_counts, hypervisor):
        with pytest.raises(CorruptHost, match=r"h\.db: corrupt host file: "):
            read(store)
