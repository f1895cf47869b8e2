"""The server's log goes through a bounded queue to one writer thread, so a stalled stderr never blocks a
request (issue 14): when the queue is full a record is dropped and counted, and the count is logged once
the writer catches up.

    stop = log_to_stderr(verbose=True)    # in `evtchn serve`; stop() flushes what is queued
"""

from __future__ import annotations

import logging
import logging.handlers
import queue
import sys
import threading
from collections.abc import Callable
from typing import TextIO

QUEUE_RECORDS = 10_000
FORMAT = "evtchn serve: %(message)s"


class _DroppingQueueHandler(logging.handlers.QueueHandler):
    def __init__(self, q: queue.Queue[logging.LogRecord]) -> None:
        super().__init__(q)
        self.dropped = 0
        self._lock_dropped = threading.Lock()

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            with self._lock_dropped:
                self.dropped += 1

    def take_dropped(self) -> int:
        with self._lock_dropped:
            n, self.dropped = self.dropped, 0
        return n


class _Writer(logging.StreamHandler):  # type: ignore[type-arg]
    def __init__(self, stream: TextIO, front: _DroppingQueueHandler) -> None:
        super().__init__(stream)
        self.front = front
        self.setFormatter(logging.Formatter(FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)
        lost = self.front.take_dropped()
        if lost:
            note = logging.makeLogRecord({"msg": f"{lost} log records dropped: stderr was not being read"})
            super().emit(note)


def log_to_stderr(verbose: bool, stream: TextIO | None = None) -> Callable[[], None]:
    """Route the root logger through the queue; returns a stop() that drains it."""
    q: queue.Queue[logging.LogRecord] = queue.Queue(QUEUE_RECORDS)
    front = _DroppingQueueHandler(q)
    listener = logging.handlers.QueueListener(q, _Writer(stream or sys.stderr, front))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(front)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    listener.start()

    def stop() -> None:
        root.removeHandler(front)
        listener.stop()

    return stop
