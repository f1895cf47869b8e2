"""The two orderings behind the flaky 8-client test (test_async_concurrency), each made deterministic.

1. A commit that lands between event.from's look (nothing new yet) and its wait: the event is logged by the
   committing thread's after-commit look, so the waiter must not then sleep its whole timeout. It takes its
   mark of the host BEFORE looking (api/events.py EventFeed.event_from); were the mark taken after the look,
   as before, this call would return only at its 5 s deadline. A hook on the source runs the commit exactly
   at that point.
2. A VM made before a watcher's first event.from("") is in that first answer as "add" (xapi's token ""
   semantics): a watcher that ignores its first answer misses it. The 8-client test's watchers did, which is
   what made it fail when a worker's first VM.create committed before a watcher's first call.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from evtchn.api import overlay
from evtchn.api.events import Event
from evtchn.api.xenapi import XapiService
from evtchn.toolstack.spec import VmSpec
from tests.api.hostkit import new_host_file


def _service(tmp_path: Path) -> tuple[XapiService, str]:
    store = new_host_file(tmp_path / "host.db", "xenserver-6.2")
    with store.transaction() as host:
        host.define_vm(VmSpec(name="vm0", type="pv", vcpus=1, memory_mib=64))
    row = store.vm(name="vm0")
    assert row is not None
    return XapiService(store), row.ref


def test_a_commit_between_the_look_and_the_wait_ends_the_wait_at_once(tmp_path: Path) -> None:
    api, vm = _service(tmp_path)
    token = api.events.event_from(["VM"], "", 0.0)["token"]
    source = api.events.source
    looks = 0
    real = source.events_since

    def look_then_commit(since: int, classes: frozenset[str]) -> tuple[list[Event], int]:
        nonlocal looks
        got = real(since, classes)
        looks += 1
        if looks == 1:  # the first look found nothing; the commit lands before the caller waits
            assert got[0] == []
            with api.svc.txn() as tx:
                overlay.update(tx.conn, vm, "VM", name_description="changed between look and wait")
        return got

    source.events_since = look_then_commit  # type: ignore[method-assign,assignment]
    t0 = time.monotonic()
    got = api.events.event_from(["VM"], token, 5.0)
    took = time.monotonic() - t0
    mine = [e for e in got["events"] if e["ref"] == vm]
    assert [e["operation"] for e in mine] == ["mod"]
    assert mine[0]["snapshot"]["name_description"] == "changed between look and wait"
    assert took < 2.0, f"event.from slept {took:.1f} s with the event already logged"


def test_a_vm_made_before_the_first_call_is_in_its_answer(tmp_path: Path) -> None:
    api, vm = _service(tmp_path)
    first: dict[str, Any] = api.events.event_from(["VM"], "", 0.0)
    assert vm in {e["ref"] for e in first["events"] if e["operation"] == "add"}
    later = api.events.event_from(["VM"], first["token"], 0.0)
    assert vm not in {e["ref"] for e in later["events"]}  # not delivered twice
