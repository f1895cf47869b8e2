"""`evtchn exporter`: Prometheus metrics for a host's event channels (twin/metrics.py lists them).

    evtchn exporter --host lab.db --shape seed --shape web.yaml --port 9477
    evtchn exporter --from-command 'lsevtchn 0' --profile xenserver-6.2      # on a real dom0
    evtchn exporter --from-file /tmp/lsevtchn-0.txt --once                    # print one scrape and exit
    evtchn exporter --host lab.db --shape seed --min-free 20                  # Nagios-style check

The source is read again at every scrape, so the numbers are live. With --min-free the command is a
check: one `EVTCHN OK|WARNING|UNKNOWN - …` line and exit 0 (every shape has that many VMs of room), 1
(one has fewer, as `analyze --min-free`) or 2 (the source could not be read). Listens on 127.0.0.1
unless --bind says otherwise.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import click

from evtchn.cli.app import fail
from evtchn.cli.exits import EXIT_NO, EXIT_USAGE

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from evtchn.twin.metrics import Source


@click.command("exporter")
@click.option(
    "--host", "host_path", metavar="FILE", help="A host file (simulated host), re-read each scrape."
)
@click.option("--from-file", "from_file", metavar="FILE", help="A dom0 capture re-read each scrape.")
@click.option(
    "--from-command",
    "from_command",
    metavar="CMD",
    help="A command printing dom0's table, e.g. 'lsevtchn 0'.",
)
@click.option(
    "--shape",
    "shapes",
    multiple=True,
    metavar="SPEC",
    help="VM shape for headroom (repeatable; default seed).",
)
@click.option("--profile", metavar="P", help="Profile of a real host: its ABI and per-VM costs.")
@click.option("--abi", type=click.Choice(["2l-32", "2l-64", "fifo"]), help="dom0's ABI, when known.")
@click.option("--bind", "bind", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=9477, show_default=True)
@click.option("--once", is_flag=True, help="Print one scrape in the text exposition format and exit.")
@click.option(
    "--min-free", type=click.IntRange(min=0), help="Check mode: exit 1 when fewer VMs than this fit."
)
def exporter_cmd(
    host_path: str | None,
    from_file: str | None,
    from_command: str | None,
    shapes: tuple[str, ...],
    profile: str | None,
    abi: str | None,
    bind: str,
    port: int,
    once: bool,
    min_free: int | None,
) -> None:
    """Serve dom0 ports used/free/limit, per-domain ports, headroom in VMs per shape and degraded devices."""
    from evtchn.plan.mix import MixError, parse_vm_arg
    from evtchn.toolstack.errors import ToolstackError
    from evtchn.twin import metrics as m

    given = [
        o
        for o, v in (("--host", host_path), ("--from-file", from_file), ("--from-command", from_command))
        if v
    ]
    if len(given) > 1:
        fail(f"give one source, not {' and '.join(given)}")
    if host_path is not None and (profile or abi):
        fail("--profile and --abi are for a real dom0's capture; a host file has its own profile")
    try:
        parsed = [parse_vm_arg(s, what="--shape", allow_count=False) for s in (shapes or ("seed",))]
        if profile is not None:
            from evtchn.toolstack.profiles import get_profile

            get_profile(profile)
    except (MixError, ToolstackError) as e:
        fail(getattr(e, "message", None) or str(e))
        return
    source: m.Source
    if from_file is not None:
        source = m.DumpSource(m.file_reader(from_file), parsed, profile=profile, abi=abi, name=from_file)
    elif from_command is not None:
        if not from_command.strip():
            fail("--from-command is empty")
        source = m.DumpSource(
            m.command_reader(from_command), parsed, profile=profile, abi=abi, name=from_command
        )
    else:
        source = m.HostFileSource(host_path, parsed)
    if min_free is not None:
        sys.exit(check(source, min_free))
    collector = m.MetricsCollector(source)
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    if once:
        text = generate_latest(registry).decode()
        if collector.last_error:
            fail(collector.last_error)
        click.echo(text, nl=False)
        return
    serve(registry, bind, port)


def check(source: Source, min_free: int) -> int:
    from evtchn.twin.metrics import SourceError, worst_headroom

    try:
        reading = source.read()
    except SourceError as e:
        click.echo(f"EVTCHN UNKNOWN - {e}")
        return EXIT_USAGE
    worst = worst_headroom(reading)
    low = {s: n for s, n in worst.items() if n < min_free}
    rooms = ", ".join(f"{n} VMs of {s}" for s, n in worst.items())
    perf = " ".join(f"'headroom_{s}'={n};{min_free}" for s, n in worst.items())
    unknown = "" if reading.abi_known else " (least over every plausible ABI; the ABI is unknown)"
    state = "WARNING" if low else "OK"
    click.echo(
        f"EVTCHN {state} - {rooms} fit{unknown}, min {min_free}; dom0 uses {reading.dom0_used} | {perf}"
    )
    return EXIT_NO if low else 0


def serve(registry: CollectorRegistry, bind: str, port: int) -> None:
    from prometheus_client import start_http_server

    try:
        server, _ = start_http_server(port, addr=bind, registry=registry)
    except OSError as e:
        fail(f"cannot listen on {bind}:{port}: {e.strerror or e}")
        return
    host, real_port = str(server.server_address[0]), server.server_address[1]
    click.echo(f"evtchn exporter: serving http://{host}:{real_port}/metrics (Ctrl-C to stop)", err=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()
