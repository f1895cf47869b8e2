"""VM.get_by_name_label answers what a filter over every VM record answers (xapi: every object whose
name_label equals the label, duplicates included; names are free text), without building the whole
XenAPI view for an ordinary VM name: on a 1 000-VM host that view is ~9 MiB of serve's memory and most
of a lookup's time (issue 14's RSS target, measured by bench/bench_api_scale.py whose clients look their
VM up by name)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evtchn.api.registry import by_name
from evtchn.api.service import Service
from evtchn.api.world import DOM0_NAME
from evtchn.store import Store
from evtchn.toolstack.host import Host
from evtchn.toolstack.spec import VmSpec
from tests.api.hostkit import new_host_file
from tests.api.sdk import template


def _naive(x: Any, label: str) -> list[str]:
    return sorted(r for r, v in x.VM.get_all_records().items() if v["name_label"] == label)


def test_lookup_equals_a_filter_over_every_record(x: Any) -> None:
    a = x.VM.create({"name_label": "web"})
    b = x.VM.create({"name_label": "web"})
    c = x.VM.create({"name_label": "db"})
    x.VM.set_name_label(c, "web")  # renamed to a name two rows already carry
    x.VM.set_name_label(a, "web (old)")  # renamed away: its row still says "web"
    debian = template(x, "Debian")
    t_name = x.VM.get_name_label(debian)
    clone = x.VM.clone(debian, t_name)  # a copy that carries the template's own name
    x.VM.set_name_label(template(x, "Windows"), "web")  # a built-in VM renamed to an ordinary name
    labels = ["web", "web (old)", "db", t_name, DOM0_NAME, "nothing of that name", "Ünïcode ☃", ""]
    for label in labels:
        assert sorted(x.VM.get_by_name_label(label)) == _naive(x, label), label
    assert b in x.VM.get_by_name_label("web") and a not in x.VM.get_by_name_label("web")
    assert sorted(x.VM.get_by_name_label(t_name)) == sorted([debian, clone])
    x.VM.destroy(clone)
    assert x.VM.get_by_name_label(t_name) == [debian]


def test_an_ordinary_name_is_found_without_the_whole_view(tmp_path: Path) -> None:
    store: Store[Host] = new_host_file(tmp_path / "h.db")
    with store.transaction() as host:
        for i in range(3):
            host.define_vm(VmSpec(name=f"vm{i}", type="pv", vcpus=1, memory_mib=64))
    svc = Service(store)
    (ref,) = by_name(svc, "VM", "vm1")
    assert svc.record("VM", ref)["name_label"] == "vm1"
    assert by_name(svc, "VM", "absent") == []
    assert svc._world is None  # answered from the rows, the overlay and one VM's records
    assert by_name(svc, "VM", DOM0_NAME) != [] and svc._world is not None  # a built-in name: the view
