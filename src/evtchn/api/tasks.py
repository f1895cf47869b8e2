"""Tasks: what `Async.<class>.<call>` returns at once, and the record that follows the call to its end.

    ref = tasks.spawn("Async.VM.start", run, target=vm_ref, op="start")
    tasks.records()[ref]["status"]      # pending -> success | failure | cancelled

A task is pending until its call returns (success, `result` the XML-RPC-encoded value as xapi stores it)
or raises (failure, `error_info` the XenAPI error). While pending, the target object's
`current_operations` shows {task: op} (xen-api: ocaml/xapi/xapi_task.ml, message_forwarding.ml). A task
can be cancelled until its call gets hold of the host file (`checkpoint()`, called by the service when its
write transaction begins): it then ends `cancelled` with error_info [TASK_CANCELLED, task] and changes
nothing. Once the call holds the host, cancel is refused (OPERATION_NOT_ALLOWED), as xapi refuses it for an
operation that cannot be interrupted.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from evtchn.api.errors import ApiFailure

MAX_TASKS = 10_000  # finished tasks beyond this are forgotten oldest first (xapi garbage-collects them too)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H:%M:%SZ")


def encode_result(value: Any) -> str:
    """xapi keeps a task's result as the XML-RPC <value> of the call's answer; void is ""."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return f"<value><boolean>{int(value)}</boolean></value>"
    return f"<value>{escape(str(value))}</value>"


@dataclass
class _Task:
    ref: str
    record: dict[str, Any]
    target: str | None
    op: str | None
    cancelled: bool = False
    started: bool = False
    done: threading.Event = field(default_factory=threading.Event)


class TaskTable:
    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self._tasks: dict[str, _Task] = {}
        self._lock = threading.Lock()
        self.version = 0
        self._on_change = on_change
        self._local = threading.local()

    def _changed(self) -> None:
        self.version += 1
        if self._on_change is not None:
            self._on_change()

    def records(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {ref: _copy(t.record) for ref, t in self._tasks.items()}

    def operations(self) -> dict[str, dict[str, str]]:
        """Object ref -> {task ref: operation} for every pending task."""
        out: dict[str, dict[str, str]] = {}
        with self._lock:
            for t in self._tasks.values():
                if t.target and t.op and t.record["status"] == "pending":
                    out.setdefault(t.target, {})[t.ref] = t.op
        return out

    def spawn(self, name: str, run: Callable[[], Any], *, target: str | None, op: str | None) -> str:
        ref = f"OpaqueRef:{uuidlib.uuid4()}"
        record = {
            "uuid": str(uuidlib.uuid4()), "name_label": name, "name_description": "",
            "allowed_operations": ["cancel"], "current_operations": {}, "created": _now(),
            "finished": "19700101T00:00:00Z", "status": "pending", "resident_on": "", "progress": 0.0,
            "type": "<none/>", "result": "", "error_info": [], "other_config": {}, "subtask_of":
            "OpaqueRef:NULL", "subtasks": [], "backtrace": "()",
        }  # fmt: skip
        task = _Task(ref, record, target, op)
        with self._lock:
            self._forget_old()
            self._tasks[ref] = task
            self._changed()
        threading.Thread(target=self._run, args=(task, run), name=f"task {name}", daemon=True).start()
        return ref

    def checkpoint(self) -> None:
        """The calling task's point of no return: TASK_CANCELLED if it was cancelled, else not cancellable."""
        task: _Task | None = getattr(self._local, "task", None)
        if task is None or task.started:
            return
        with self._lock:
            if task.cancelled:
                raise ApiFailure("TASK_CANCELLED", task.ref)
            task.started = True
            task.record["allowed_operations"] = []
            task.record["progress"] = 0.5
            self._changed()

    def _run(self, task: _Task, run: Callable[[], Any]) -> None:
        self._local.task = task
        try:
            if task.cancelled:
                return
            result = run()
        except ApiFailure as e:
            if task.cancelled:
                return
            self._finish(task, "failure", error=e.description)
        except Exception as e:  # the dispatcher turns handler bugs into INTERNAL_ERROR; so does a task
            self._finish(task, "failure", error=["INTERNAL_ERROR", f"{type(e).__name__}: {e}"])
        else:
            self._finish(task, "success", result=encode_result(result))
        finally:
            self._local.task = None
            task.done.set()

    def _finish(self, task: _Task, status: str, *, result: str = "", error: list[str] | None = None) -> None:
        with self._lock:
            task.record.update(
                status=status, result=result, error_info=list(error or []), progress=1.0, finished=_now(),
                allowed_operations=[],
            )
            self._changed()
        task.done.set()

    def _get(self, ref: Any) -> _Task:
        task = self._tasks.get(ref) if isinstance(ref, str) else None
        if task is None:
            raise ApiFailure("HANDLE_INVALID", "task", ref)
        return task

    def cancel(self, ref: Any) -> str:
        with self._lock:
            task = self._get(ref)
            if task.started or task.record["status"] != "pending":
                raise ApiFailure("OPERATION_NOT_ALLOWED", f"task {task.ref} is not cancellable now")
            task.cancelled = True
            task.record.update(
                status="cancelled", error_info=["TASK_CANCELLED", task.ref], finished=_now(), progress=1.0,
                allowed_operations=[],
            )
            self._changed()
        return ""

    def destroy(self, ref: Any) -> str:
        with self._lock:
            self._get(ref)
            del self._tasks[ref]
            self._changed()
        return ""

    def wait(self, ref: str, timeout: float | None = None) -> bool:
        task = self._tasks.get(ref)
        return task is None or task.done.wait(timeout)

    def _forget_old(self) -> None:
        if len(self._tasks) < MAX_TASKS:
            return
        for ref in [r for r, t in self._tasks.items() if t.record["status"] != "pending"][: MAX_TASKS // 10]:
            del self._tasks[ref]


def _copy(rec: dict[str, Any]) -> dict[str, Any]:
    out = dict(rec)
    for k, v in out.items():
        if isinstance(v, list | dict):
            out[k] = v.copy()
    return out
