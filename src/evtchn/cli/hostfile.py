"""What every `evtchn host …` / `evtchn vm …` command shares: the host file options, one-line errors with
their exit codes, and VM arguments that are a name or a uuid.

    @store_options
    def cmd(..., host_file, wait):
        with errors():
            store = open_host(host_file, wait)
            row = resolve_row(store.vms(), "web1")          # a name or a uuid; ambiguous -> one line

Imports only click and the store; the toolstack is loaded by the commands that change the host.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import click

from evtchn.cli.app import fail
from evtchn.cli.exits import EXIT_REFUSED, EXIT_USAGE

if TYPE_CHECKING:
    from evtchn.store.rows import VmRow
    from evtchn.store.sqlite import Store
    from evtchn.toolstack.host import Host

F = TypeVar("F", bound=Callable[..., Any])


class CliError(Exception):
    """A one-line error with its exit code, raised where the CLI itself decides the answer."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def store_options(f: F) -> F:
    f = click.option(
        "--wait", "wait", type=click.FloatRange(min=0), metavar="SECONDS",
        help="How long to wait for another process using the host file (default 30, $EVTCHN_LOCK_TIMEOUT).",
    )(f)  # fmt: skip
    return click.option(
        "--host", "host_file", metavar="FILE",
        help="Host file (default: $EVTCHN_HOST, else $XDG_DATA_HOME/evtchn/host.db).",
    )(f)  # fmt: skip


def notice(message: str) -> None:
    click.echo(f"evtchn: {message}", err=True)


def one_line(e: BaseException) -> tuple[str, int] | None:
    """(message, exit code) of an error the CLI reports as one line; None for anything else (a bug).

    A start the host refused exits EXIT_REFUSED (the request was fine); every other store, toolstack or
    CLI error is a usage or input error (cli/exits.py).
    """
    from evtchn.store import StoreError

    if isinstance(e, CliError):
        return e.message, e.code
    if isinstance(e, StoreError):
        return e.message, EXIT_USAGE
    from evtchn.toolstack.errors import StartError, ToolstackError

    if isinstance(e, ToolstackError):
        return e.message, EXIT_REFUSED if isinstance(e, StartError) else EXIT_USAGE
    return None


@contextmanager
def errors() -> Iterator[None]:
    """Store, toolstack and CLI errors leave as one line on stderr with their exit code (cli/exits.py)."""
    try:
        yield
    except Exception as e:
        got = one_line(e)
        if got is None:
            raise
        fail(*got)


def open_host(host_file: str | None, wait: float | None) -> Store[Host]:
    """The host file (`--host`, else $EVTCHN_HOST, else the default), checked; the toolstack is imported
    only when the command builds the host."""
    from evtchn.store.reads import open_lazy

    return open_lazy(host_file, timeout=wait, on_wait=notice)


# ------------------------------------------------------------ names and uuids


class _Named(Protocol):
    @property
    def uuid(self) -> str: ...

    @property
    def name(self) -> str: ...


N = TypeVar("N", bound=_Named)


def resolve(arg: str, candidates: Iterable[N]) -> N:
    """The one candidate whose uuid is `arg`, else the one named `arg`.

    A VM's name is free text and may repeat (as in xapi); a name that several VMs share is an error that
    lists their uuids, so the user can say which one.
    """
    named: list[N] = []
    for c in candidates:
        if c.uuid == arg:
            return c
        if c.name == arg:
            named.append(c)
    if not named:
        raise CliError(f"no VM named {arg!r}")
    if len(named) > 1:
        uuids = ", ".join(sorted(c.uuid for c in named))
        raise CliError(f"{len(named)} VMs are named {arg!r}; give a uuid: {uuids}")
    return named[0]


def resolve_rows(args: Iterable[str], rows: Iterable[VmRow]) -> list[VmRow]:
    """Each argument resolved against the store's VM rows, in order, before anything is changed."""
    table = list(rows)
    return [resolve(a, table) for a in args]


def host_key(vms: Mapping[str, Any], uuid: str) -> str:
    """The key under which the loaded host holds the VM with this uuid.

    The seam between the CLI and the toolstack: the Host keys its VMs by name today and by uuid once
    names may repeat; the CLI always finds the VM by uuid and passes whichever key the Host uses.
    """
    if uuid in vms:
        return uuid
    for key, vm in vms.items():
        if vm.uuid == uuid:
            return key
    raise CliError(f"no VM with uuid {uuid} (removed by another process?)")
