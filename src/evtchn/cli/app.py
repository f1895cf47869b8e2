"""The `evtchn` group: one table of subcommands, each loaded only when it runs.

    evtchn --help

`COMMANDS` maps each subcommand to "module:attribute". Nothing else is imported at start-up, so
`evtchn --version` or `evtchn vm list` never pays for matplotlib, numpy, pydantic or the toolstack; a
command imports what it needs inside its own function. Exit codes are in `evtchn.cli.exits`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any

import click

from evtchn import __version__
from evtchn.cli.exits import EXIT_NO, EXIT_USAGE

# name -> "module:attribute" of a click command; the one place a subcommand is registered.
COMMANDS: dict[str, str] = {
    "analyze": "evtchn.cli.inspect:analyze_cmd",
    "can-start": "evtchn.cli.plan:can_start_cmd",
    "debug-keys": "evtchn.cli.hostdump:debug_keys",
    "demo": "evtchn.cli.demo:demo_cmd",
    "exporter": "evtchn.cli.exporter:exporter_cmd",
    "fault": "evtchn.cli.fault:fault_group",
    "host": "evtchn.cli.host:host_group",
    "lsevtchn": "evtchn.cli.hostdump:lsevtchn_cmd",
    "plan": "evtchn.cli.plan:plan_cmd",
    "serve": "evtchn.cli.serve:serve",
    "vm": "evtchn.cli.vm:vm_group",
    "vm-local": "evtchn.cli.vm_local:vm_local",
    "xl-list": "evtchn.cli.xl:xl_list_cmd",
}


def load_command(target: str) -> click.Command:
    """Import "module:attribute" and return the click command it names."""
    module_name, _, attr = target.partition(":")
    command = getattr(importlib.import_module(module_name), attr)
    if not isinstance(command, click.Command):  # a wrong table entry is a bug, not a user error
        raise TypeError(f"{target} is not a click command")
    return command


class LazyGroup(click.Group):
    """A group whose subcommands come from a name -> "module:attribute" table, imported on first use."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, str] = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            command = load_command(self.lazy[cmd_name])
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


class OneLineErrors(LazyGroup):
    """A group whose usage errors (missing argument, bad option value, unknown command) are one line.

    Click's own form is three lines (usage, hint, error); every other evtchn error is one line on stderr.
    Asking for help with no arguments still prints the help.
    """

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except click.exceptions.NoArgsIsHelpError as e:
            click.echo(e.ctx.get_help() if e.ctx is not None else e.format_message())
            sys.exit(e.exit_code)
        except click.UsageError as e:
            where = e.ctx.command_path if e.ctx is not None else "evtchn"
            text = " ".join(e.format_message().split())
            click.echo(f"{where}: {text} (see '{where} --help')", err=True)
            sys.exit(e.exit_code)
        except click.ClickException as e:
            click.echo(f"evtchn: {' '.join(e.format_message().split())}", err=True)
            sys.exit(e.exit_code)
        except click.Abort:
            click.echo("evtchn: aborted", err=True)
            sys.exit(EXIT_NO)
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(cls=OneLineErrors, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="evtchn")
def main() -> None:
    """A simulated Xen host where event channels are concerned."""


def fail(message: str, code: int = EXIT_USAGE) -> None:
    """Print one clear line on stderr and exit non-zero: the only way a user error leaves the CLI."""
    click.echo(f"evtchn: {message.strip().translate(_ESCAPE_CONTROL)}", err=True)  # user text may hold \n
    sys.exit(code)


_ESCAPE_CONTROL = {c: f"\\x{c:02x}" for c in (*range(32), 127) if c != 9} | {10: "\\n", 13: "\\r"}
