"""Async calls and tasks, and events: event.from with tokens (in this process and from another one),
event.register / next (issue 10)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from evtchn.store import Store
from evtchn.toolstack.host import Host
from tests.api.harness import Endpoint
from tests.api.sdk import fails, login, pv_vm, template


def _wait(x: Any, task: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while x.task.get_status(task) == "pending":
        assert time.monotonic() < deadline, "task never finished"
        time.sleep(0.01)
    rec: dict[str, Any] = x.task.get_record(task)
    return rec


def test_async_calls_return_a_task_that_ends_in_success_or_failure(x: Any) -> None:
    vm = pv_vm(x, "a1")
    task = x.Async.VM.start(vm, False, True)
    assert task.startswith("OpaqueRef:") and task in x.task.get_all()
    rec = _wait(x, task)
    assert rec["status"] == "success" and rec["result"] == "" and rec["error_info"] == []
    assert rec["name_label"] == "Async.VM.start" and float(rec["progress"]) == 1.0
    assert rec["created"] <= rec["finished"] and rec["resident_on"] == x.host.get_all()[0]
    assert x.VM.get_power_state(vm) == "Running"
    assert "suspend" in x.VM.get_allowed_operations(vm)
    failed = _wait(x, x.Async.VM.start(vm, False, True))
    assert failed["status"] == "failure"
    assert failed["error_info"] == ["VM_BAD_POWER_STATE", vm, "halted", "running"]
    debian = template(x, "Debian")
    cloned = _wait(x, x.Async.VM.clone(debian, "from async"))
    assert cloned["status"] == "success" and cloned["result"].startswith("<value>OpaqueRef:")
    new_vm = cloned["result"][len("<value>") : -len("</value>")]
    assert x.VM.get_name_label(new_vm) == "from async"
    assert fails(x.task.cancel, task) == ["OPERATION_NOT_ALLOWED", f"task {task} is not cancellable now"]
    x.task.destroy(task)
    assert fails(x.task.get_record, task) == ["HANDLE_INVALID", "task", task]
    assert x.task.get_by_uuid(failed["uuid"]) != task


def test_a_queued_task_shows_in_current_operations_and_can_be_cancelled(x: Any, store: Store[Host]) -> None:
    vm = pv_vm(x, "q1")
    with store.transaction():  # another writer holds the host file: the task waits for it
        task = x.Async.VM.start(vm, False, True)
        deadline = time.monotonic() + 10
        while x.VM.get_current_operations(vm) != {task: "start"}:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert x.VM.get_allowed_operations(vm) == []
        assert x.task.get_allowed_operations(task) == ["cancel"]
        x.task.cancel(task)
    rec = _wait(x, task)
    assert rec["status"] == "cancelled" and rec["error_info"] == ["TASK_CANCELLED", task]
    assert x.VM.get_power_state(vm) == "Halted" and x.VM.get_current_operations(vm) == {}
    assert "start" in x.VM.get_allowed_operations(vm)


def test_event_from_delivers_each_change_once_in_order_with_snapshots(x: Any) -> None:
    first = x.event_from(["*"], "", 0.0)
    assert {e["operation"] for e in first["events"]} == {"add"}
    classes = {e["class"] for e in first["events"]}
    assert {"vm", "host", "pool", "sr", "network", "pif"} <= classes
    token = first["token"]
    empty = x.event_from(["vm"], token, 0.1)
    assert empty["events"] == [] and empty["token"] == token
    vm = pv_vm(x, "ev1", disks=0, nics=0)
    x.VM.set_name_label(vm, "ev one")
    x.VM.destroy(vm)
    got = x.event_from(["VM"], token, 1.0)
    mine = [(e["operation"], e["snapshot"]["name_label"]) for e in got["events"] if e["ref"] == vm]
    assert mine == [("add", "ev1"), ("mod", "ev one"), ("del", "ev one")]
    ids = [int(e["id"]) for e in got["events"]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert x.event_from(["VM"], got["token"], 0.0)["events"] == []
    bad = fails(x.event_from, ["VM"], "not-a-token", 0.0)
    assert bad == ["EVENT_FROM_TOKEN_PARSE_FAILURE", "not-a-token"]
    assert fails(x.event_from, ["nosuch"], "", 0.0) == ["EVENT_SUBSCRIPTION_PARSE_FAILURE", "nosuch"]


def test_event_from_waits_for_a_change_and_sees_tasks(x: Any, ep: Endpoint) -> None:
    watcher = login(ep)  # an SDK session is one connection: the watcher has its own
    token = watcher.event_from(["task"], "", 0.0)["token"]
    vm = pv_vm(x, "ev2")
    out: dict[str, Any] = {}
    waiter = threading.Thread(target=lambda: out.update(watcher.event_from(["task"], token, 10.0)))
    started = time.monotonic()
    waiter.start()
    time.sleep(0.2)
    task = x.Async.VM.start(vm, False, False)
    waiter.join(15)
    assert time.monotonic() - started < 9, "event.from did not wake on the change"
    assert any(e["ref"] == task and e["class"] == "task" for e in out["events"])


def test_event_from_sees_another_process_change(x: Any, store: Store[Host], tmp_path: Path) -> None:
    token = x.event_from(["VM"], "", 0.0)["token"]
    spec = tmp_path / "other.yaml"
    spec.write_text("name: fromcli\ntype: pv\nmemory_mib: 64\n")
    run_cli = "import sys; from evtchn.cli import main; sys.exit(main())"
    cli = [sys.executable, "-c", run_cli, "vm", "create", str(spec), "--host", str(store.path)]
    proc = subprocess.run(cli, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    got = x.event_from(["VM"], token, 5.0)
    assert [e["snapshot"]["name_label"] for e in got["events"] if e["operation"] == "add"] == ["fromcli"]


def test_event_register_and_next(x: Any) -> None:
    assert fails(x.event.next)[0] == "SESSION_NOT_REGISTERED"
    x.event.register(["vm"])
    vm = pv_vm(x, "ev3", disks=0, nics=0)
    events = x.event.next()
    assert [e["operation"] for e in events if e["ref"] == vm] == ["add"]
    x.event.unregister(["vm"])
    x.event.register(["task"])
    task = x.Async.VM.start(vm, False, False)
    assert any(e["ref"] == task for e in x.event.next())
