"""The `evtchn` command. Each module in this package adds its commands with `register(main)`.

    evtchn --help

Modules register themselves so that each area (inspection, host, planning, serving) owns its own file.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import click

from evtchn import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    click.echo(f"evtchn: {message}", err=True)
    sys.exit(code)


_register_all()
