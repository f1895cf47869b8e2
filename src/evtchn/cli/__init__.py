"""The `evtchn` command. Each module in this package adds its commands with `register(main)`.

    evtchn --help

Modules register themselves so that each area (inspection, host, planning, serving) owns its own file.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Sequence
from typing import Any

import click

from evtchn import __version__


class OneLineErrors(click.Group):
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
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="evtchn")
def main() -> None:
    """A simulated Xen host where event channels are concerned."""


def _register_all() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(main)


def fail(message: str, code: int = 2) -> None:
    """Print one clear line on stderr and exit non-zero: the only way a user error leaves the CLI."""
    click.echo(f"evtchn: {message.strip().translate(_ESCAPE_CONTROL)}", err=True)  # user text may hold \n
    sys.exit(code)


_ESCAPE_CONTROL = {c: f"\\x{c:02x}" for c in (*range(32), 127) if c != 9} | {10: "\\n", 13: "\\r"}


_register_all()
