"""event.from fed by the store's events table: another process's changes arrive once each, in order, even
two to the same VM between two looks; tokens as xapi's (issue 10)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from evtchn.store import Store
from evtchn.toolstack.host import Host
from tests.api.sdk import pv_vm

EVTCHN = str(Path(sys.executable).parent / "evtchn")


def _cli(store: Store[Host], *args: str) -> None:
    subprocess.run([EVTCHN, "vm", *args, "--host", str(store.path)], check=True, capture_output=True,
                   timeout=60)  # fmt: skip


def test_another_process_changes_are_each_delivered_in_order(x: Any, store: Store[Host]) -> None:
    vm = pv_vm(x, "watched", disks=1, nics=0)
    x.VM.start(vm, False, True)
    token = x.event_from(["vm"], "", 0.0)["token"]
    uuid = x.VM.get_uuid(vm)
    _cli(store, "pause", uuid)  # two changes to one VM by another process, nobody looking in between
    _cli(store, "unpause", uuid)
    got = x.event_from(["vm"], token, 5.0)
    mine = [e for e in got["events"] if e["ref"] == vm]
    assert [e["operation"] for e in mine] == ["mod", "mod"]
    assert int(mine[0]["id"]) < int(mine[1]["id"])
    assert mine[-1]["snapshot"]["power_state"] == "Running" and mine[-1]["obj_uuid"] == uuid
    assert got["token"] > token
    again = x.event_from(["vm"], got["token"], 0.0)  # delivered once: nothing new since
    assert [e for e in again["events"] if e["ref"] == vm] == []


def test_event_from_waits_for_another_process_and_sees_a_delete(x: Any, store: Store[Host]) -> None:
    vm = pv_vm(x, "doomed", disks=1, nics=0)
    uuid = x.VM.get_uuid(vm)
    token = x.event_from(["vm", "vbd"], "", 0.0)["token"]
    proc = subprocess.Popen([EVTCHN, "vm", "remove", uuid, "--host", str(store.path)])
    try:
        seen: list[tuple[str, str]] = []
        for _ in range(20):
            got = x.event_from(["vm", "vbd"], token, 2.0)
            token = got["token"]
            seen += [(e["class"], e["operation"]) for e in got["events"]]
            if ("vm", "del") in seen:
                break
    finally:
        proc.wait(60)
    assert ("vm", "del") in seen and ("vbd", "del") in seen
    dels = [e for e in x.event_from(["vm"], "", 0.0)["events"] if e["ref"] == vm]
    assert dels == []  # gone from the current objects too
