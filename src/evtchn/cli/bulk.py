"""Run one host operation per VM, each in its own transaction, in one process, with one progress bar.

    steps = [Step("web-1", lambda host: ...), Step("web-2", ...)]
    run_steps(store, steps)        # prints each step's line; the first failure stops and says which VM

A failure rolls back only its own VM's transaction: the VMs before it stay done, the ones after it are not
tried, and the one line on stderr names the VM and how far the run got. The bar (rich, imported only
then) is drawn on stderr and only when stderr is a terminal and there is more than one VM, so pipes and
scripts see exactly the lines they would see from a loop of single commands.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from evtchn.cli.app import fail
from evtchn.cli.hostfile import one_line

if TYPE_CHECKING:
    from evtchn.store.sqlite import Store
    from evtchn.toolstack.host import Host


@dataclass(frozen=True)
class Step:
    name: str  # how the user knows the VM (the error line names it)
    run: Callable[[Host], list[str]]  # mutate the host; the lines to print once it is committed


@contextmanager
def _progress(total: int, what: str) -> Iterator[Callable[[], None]]:
    if total < 2 or not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(what, total=total)
        yield lambda: bar.advance(task)


def run_steps(store: Store[Host], steps: list[Step], what: str) -> None:
    """Each step in its own transaction, in order; on the first failure: one line and its exit code."""
    from evtchn.toolstack.errors import ToolstackError

    with _progress(len(steps), what) as advance:
        for done, step in enumerate(steps):
            kept: ToolstackError | None = None
            try:
                with store.transaction() as host:
                    try:
                        lines = step.run(host)
                    except ToolstackError as e:
                        if not e.left_behind:
                            raise
                        kept, lines = e, []  # commit what the failure left (a dying domain), then report
                if kept is not None:
                    raise kept
            except Exception as e:
                got = one_line(e)
                if got is None:
                    raise
                message, code = got
                if len(steps) > 1:
                    message = f"{step.name}: {message} (stopped: {done} of {len(steps)} done)"
                fail(message, code)
                return
            for line in lines:
                click.echo(line)
            advance()
