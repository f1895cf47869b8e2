"""How a host is loaded (docs/store.md, "Memory"): kind by kind in the codec's load order whatever order
the rows were written in, each VM's disks and NICs shared with equal ones, and damage still reported as
one line."""

from __future__ import annotations

import json
import random
import sqlite3
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from evtchn.store import CorruptHost, create_store, open_store
from evtchn.store.codec import HOST_CODEC, LOAD_ORDER
from evtchn.store.writer import decode, encode
from evtchn.toolstack import Host, seed_vm_spec
from evtchn.toolstack.spec import DiskSpec


def _host(n: int = 5) -> Host:
    host = Host.create("xenserver-8")
    for i in range(n):
        host.define_vm(seed_vm_spec(f"g{i}"))
    for i in range(1, n, 2):
        host.start_vm(f"g{i}")
    return host


def _reshuffle(path: Path, seed: int) -> None:
    """Rewrite the parts table with the kinds interleaved at random (each kind keeping its own order),
    as years of operations leave it: a new domain's buckets after older VMs' nodes, and so on."""
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT kind, key, data FROM parts ORDER BY rowid").fetchall()
    by_kind: dict[str, list[tuple[str, str, bytes]]] = {}
    for r in rows:
        by_kind.setdefault(r[0], []).append(r)
    rng = random.Random(seed)
    queues = [list(reversed(v)) for v in by_kind.values()]
    mixed = []
    while queues:
        q = rng.choice(queues)
        mixed.append(q.pop())
        if not q:
            queues.remove(q)
    assert [r[0] for r in mixed] != [r[0] for r in rows]
    conn.execute("DELETE FROM parts")
    conn.executemany("INSERT INTO parts (kind, key, data) VALUES (?, ?, ?)", mixed)
    conn.commit()
    conn.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_host_loads_the_same_whatever_order_its_rows_were_written_in(tmp_path: Path, seed: int) -> None:
    host = _host()
    store = create_store(host, tmp_path / "h.db")
    _reshuffle(store.path, seed)
    again = open_store(store.path).read()
    assert again.to_state() == host.to_state()
    assert list(again.xenstore.walk("/")) == list(host.xenstore.walk("/"))
    with open_store(store.path).transaction() as h:  # and it goes on working
        h.shutdown_vm("g1")
        h.start_vm("g0")
    assert open_store(store.path).read().vms.lookup("g0") is not None


def test_parts_come_in_load_order_and_out_of_order_is_refused() -> None:
    parts = list(HOST_CODEC.parts(_host(3)))
    ranks = [LOAD_ORDER.index(kind) for kind, _, _ in parts]
    assert ranks == sorted(ranks)
    dom = next(i for i, p in enumerate(parts) if p[0] == "dom")
    bkt = next(i for i, p in enumerate(parts) if p[0] == "bkt")
    swapped = [*parts[:bkt], parts[dom], *parts[bkt:dom], *parts[dom + 1 :]]  # a record before buckets
    with pytest.raises(ValueError, match="part bkt 0/0 comes after the dom parts"):
        HOST_CODEC.assemble(swapped)
    with pytest.raises(ValueError, match="unknown part kind 'odd'"):
        HOST_CODEC.assemble([*parts, ("odd", "", 1)])


def test_vms_share_equal_disks_and_nics_and_keep_their_own(tmp_path: Path) -> None:
    host = _host(4)
    spec = seed_vm_spec("odd")
    host.define_vm(spec.model_copy(update={"disks": [DiskSpec(userdevice=0, mode="ro")]}))
    store = create_store(host, tmp_path / "h.db")
    loaded = open_store(store.path).read()
    vms = {vm.name: vm for vm in loaded.vms.values()}
    assert vms["g0"].spec.disks[1] is vms["g3"].spec.disks[1]
    assert vms["g0"].spec.nics[0] is vms["g2"].spec.nics[0]
    assert vms["odd"].spec.disks[0].mode == "ro" and vms["g0"].spec.disks[0].mode == "rw"
    assert loaded.to_state() == host.to_state()
    with pytest.raises(ValidationError):  # shared safely: they are frozen
        vms["g0"].spec.disks[1].mode = "ro"  # type: ignore[misc]


def test_a_damaged_disk_record_is_one_line(tmp_path: Path) -> None:
    store = create_store(_host(2), tmp_path / "h.db")
    conn = sqlite3.connect(store.path)
    key, data = conn.execute("SELECT key, data FROM parts WHERE kind = 'vm' ORDER BY rowid").fetchone()
    rec = decode(data)
    rec["spec"]["disks"][0]["mode"] = "rx"
    conn.execute("UPDATE parts SET data = ? WHERE kind = 'vm' AND key = ?", (encode(rec), key))
    conn.commit()
    conn.close()
    with pytest.raises(CorruptHost) as e:
        open_store(store.path).read()
    assert "\n" not in e.value.message and "the host cannot be rebuilt" in e.value.message
    assert "mode" in e.value.message
    assert json.dumps(rec)  # the damage is valid JSON: only the model can refuse it


@settings(max_examples=300, deadline=None)
@given(value=st.text(), is_dir=st.booleans())
def test_a_node_part_is_the_bytes_json_writes(value: str, is_dir: bool) -> None:
    """writer.encode's shortcut for xenstore nodes writes what json.dumps writes, byte for byte."""
    raw = json.dumps([value, is_dir], separators=(",", ":")).encode()
    got = encode([value, is_dir])
    assert got == (b"j" + raw if len(raw) <= 2048 else b"z" + zlib.compress(raw, 1))
    assert decode(got) == [value, is_dir]


def test_commits_give_freed_memory_back_at_most_once_an_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evtchn.store import connect

    calls: list[int] = []
    monkeypatch.setattr(connect, "_malloc_trim", lambda: calls.append(1))
    monkeypatch.setattr(connect, "_last_trim", [0.0])
    monkeypatch.setattr(connect, "_TRIM_EVERY", 3600.0)  # "once a second", slowed so no load can flake it
    store = create_store(_host(2), tmp_path / "h.db")
    with store.transaction() as h:  # loads the host (which trims too) and commits: a trim now
        h.start_vm("g0")
    assert calls and connect._last_trim[0] > 0
    calls.clear()
    for _ in range(3):  # within the interval
        with store.transaction() as h:
            h.shutdown_vm("g0")
        with store.transaction() as h:
            h.start_vm("g0")
    assert calls == []
    connect._last_trim[0] -= connect._TRIM_EVERY  # the interval later
    with store.transaction() as h:
        h.shutdown_vm("g0")
    assert len(calls) == 1
