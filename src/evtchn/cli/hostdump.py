"""What the simulated host shows its administrator: `evtchn lsevtchn [domid]` and `evtchn debug-keys e`.

    evtchn lsevtchn 0 | wc -l
    evtchn debug-keys e --layout 4.1 --prefix

Both read only the domains they print from the host file (evtchn.store.reads): no toolstack, no numpy.
"""

from __future__ import annotations

import sys

import click

from evtchn.cli.app import fail

LAYOUT_CHOICES = ("4.4", "4.2", "4.1", "auto")


@click.command(
    "lsevtchn",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def lsevtchn_cmd(args: tuple[str, ...]) -> None:
    """lsevtchn [--host FILE] [domid]: list a domain's event channels like /usr/lib/xen/bin/lsevtchn."""
    from evtchn.cli.lsevtchn import run

    out, err, code = run(["lsevtchn", *args])
    click.echo(out, nl=False)
    click.echo(err, nl=False, err=True)
    sys.exit(code)


@click.command("debug-keys")
@click.argument("keys")
@click.option("--host", "host", metavar="FILE", help="Host file (default: $EVTCHN_HOST, else the store's).")
@click.option(
    "--layout",
    type=click.Choice(LAYOUT_CHOICES),
    default="4.4",
    show_default=True,
    help="'e' dump layout: Xen 4.4+, 4.2-4.3, 4.1, or the simulated Xen's own.",
)
@click.option("--prefix", is_flag=True, help='Prefix each line with "(XEN) " as `xl dmesg` shows it.')
def debug_keys(keys: str, host: str | None, layout: str, prefix: bool) -> None:
    """Press Xen debug KEYS and print what the console shows; only 'e' (event channels) is modelled."""
    from evtchn.cli.lsevtchn import HostUnavailable, _load_hypervisor
    from evtchn.inspect.edump import format_edump, layout_for_version

    unknown = sorted(set(keys) - {"e"})
    if not keys or unknown:
        fail(f"debug key {''.join(unknown) or keys!r} is not modelled; only 'e' (event-channel info) is")
    try:
        hv = _load_hypervisor(host)
    except HostUnavailable as e:
        fail(str(e))
    lay = layout_for_version(hv.settings.xen_version) if layout == "auto" else layout
    text = "".join(format_edump(hv, layout=lay, prefix=prefix) for _ in keys)  # type: ignore[arg-type]
    click.echo(text, nl=False)
