"""The Prometheus metrics `evtchn exporter` serves: read the host afresh at every scrape.

    collector = HostFileSource("lab.db", shapes)          # a persisted simulated host
    collector = DumpSource(reader, shapes, profile=None)  # a real dom0: `lsevtchn 0` or /proc/interrupts
    registry = CollectorRegistry(); registry.register(MetricsCollector(collector))

Names follow the Prometheus conventions (base units, `_total` only on counters, `_info` for a constant 1
carrying labels). Every metric about dom0's limit carries the ABI: a real dump that does not prove dom0's
ABI (evtchn.inspect.abi) gives one series per plausible ABI, never a single number a rule could take as
fact (issue 11). Metrics, all gauges unless said:

    evtchn_up                                     1 when the last read of the source worked
    evtchn_source_read_errors_total               counter: reads that failed
    evtchn_dom0_ports_used                        dom0 ports in use
    evtchn_dom0_ports_limit{abi}                  usable dom0 ports under that ABI
    evtchn_dom0_ports_free{abi}                   limit − used
    evtchn_abi_known                              1 when the ABI is known (profile, --abi or proven)
    evtchn_dom0_ports_held{domid}                 dom0 ports each guest domain holds (its devices)
    evtchn_domain_ports_used{domid,name}          a domain's own table (simulated host only)
    evtchn_domain_ports_limit{domid,name}         …and its usable size
    evtchn_headroom_vms{shape,abi}                more VMs of that shape that fit now
    evtchn_headroom_binding_info{shape,limit}     1: the limit that binds first (simulated host only)
    evtchn_degraded_devices                       devices not connected on running VMs (simulated host)
    evtchn_degraded_domains                       domains running with devices that failed to connect
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from evtchn.plan.mix import Shape

COMMAND_TIMEOUT_S = 20.0


@dataclass(slots=True)
class Reading:
    """One read of the source, in the metrics' terms."""

    dom0_used: int
    limits: dict[str, int]  # ABI → usable dom0 ports (one entry when known)
    abi_known: bool
    held: dict[int, int]  # guest domid → dom0 ports it holds
    headroom: dict[tuple[str, str], int]  # (shape, abi) → VMs
    degraded_domains: int
    domains: list[tuple[int, str, int, int]] = field(default_factory=list)  # domid, name, used, limit
    binding: dict[str, list[str]] = field(default_factory=dict)  # shape → limit keys
    degraded_devices: int | None = None


class Source:
    """Where a reading comes from; `read()` raises SourceError with a one-line reason."""

    def read(self) -> Reading:
        raise NotImplementedError


class SourceError(Exception):
    """The source could not be read (file gone, command failed, not a dom0 table)."""


class HostFileSource(Source):
    """A persisted simulated host, re-opened at every scrape (never written)."""

    def __init__(self, path: str | None, shapes: Sequence[Shape]) -> None:
        self.path = path
        self.shapes = list(shapes)

    def read(self) -> Reading:
        from evtchn.inspect.abi import abi_for_max_evtchns
        from evtchn.plan.mix import Mix
        from evtchn.store import StoreError, open_store
        from evtchn.twin.headroom import headroom

        try:
            host = open_store(self.path).read()
        except StoreError as e:
            raise SourceError(e.message) from None
        abi = abi_for_max_evtchns(host.profile.dom0_abi_limit)
        held: dict[int, int] = {}
        degraded_devices = degraded_domains = 0
        names = {0: "Domain-0"}
        for vm in host.vms.values():
            if vm.domid is None:
                continue
            names[vm.domid] = vm.name
            held[vm.domid] = sum(len(p) for p in host.vm_dom0_ports(vm.uuid).values())
            bad = sum(1 for d in vm.devices if d.state in ("failed", "absent"))
            degraded_devices += bad
            degraded_domains += int(bad > 0)
        reading = Reading(
            dom0_used=host.dom0_ports_used(),
            limits={abi: host.dom0_ports_usable()},
            abi_known=True,
            held=dict(sorted(held.items())),
            headroom={},
            degraded_domains=degraded_domains,
            degraded_devices=degraded_devices,
        )
        for domid in sorted(host.hv.domains):
            d = host.hv.domains[domid]
            reading.domains.append((domid, names.get(domid, "?"), d.active_evtchns, d.limit_port))
        for shape in self.shapes:
            room = headroom(host, Mix((shape,)))
            reading.headroom[(shape.label, abi)] = room.max_vms
            reading.binding[shape.label] = list(room.binding)
        return reading


class DumpSource(Source):
    """A real dom0's table (`lsevtchn 0`, an 'e' dump or /proc/interrupts) from a file or a command,
    re-read at every scrape; a shape's cost comes from the profile (given, else the default one)."""

    def __init__(
        self,
        fetch: Callable[[], str],
        shapes: Sequence[Shape],
        *,
        profile: str | None = None,
        abi: str | None = None,
        name: str = "",
    ) -> None:
        self.fetch = fetch
        self.shapes = list(shapes)
        self.profile = profile
        self.abi = abi
        self.name = name

    def read(self) -> Reading:
        from evtchn.inspect.abi import abi_for_max_evtchns
        from evtchn.inspect.analyze import analyze
        from evtchn.inspect.detect import parse_text
        from evtchn.inspect.model import ParseError
        from evtchn.toolstack.costs import vm_cost
        from evtchn.toolstack.hardware import get_hardware
        from evtchn.toolstack.profiles import DEFAULT_PROFILE, get_profile

        text = self.fetch()
        try:
            dump = parse_text(text, name=self.name)
        except ParseError as e:
            raise SourceError(str(e)) from None
        prof = get_profile(self.profile or DEFAULT_PROFILE)
        given = (
            None
            if self.profile is None or self.abi
            else (abi_for_max_evtchns(prof.dom0_abi_limit), prof.name)
        )
        a = analyze(dump, abi=self.abi, profile_abi=given)
        if a.dom0_total is None or a.dom0_guest_file:
            raise SourceError(
                f"{self.name or 'input'}: no dom0 table ({', '.join(dump.kinds()) or 'nothing'})"
            )
        rooms = {a.abi: a.limit} if a.abi is not None and a.limit is not None else {}
        rooms = rooms or {name: h.limit for name, h in a.by_abi.items()}
        hw = get_hardware(None)
        reading = Reading(
            dom0_used=a.dom0_total,
            limits=rooms,
            abi_known=a.abi is not None,
            held={d: n for d, n in a.held_by_domain.items() if d != 0},
            headroom={},
            degraded_domains=len(a.short),
        )
        for shape in self.shapes:
            cost = vm_cost(prof, hw, shape.spec).total
            for abi, limit in rooms.items():
                reading.headroom[(shape.label, abi)] = max(0, limit - a.dom0_total) // max(cost, 1)
        return reading


def file_reader(path: str) -> Callable[[], str]:
    def fetch() -> str:
        try:
            return Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            raise SourceError(f"{path}: cannot read ({e.strerror or e})") from None

    return fetch


def command_reader(command: str) -> Callable[[], str]:
    """Run COMMAND (split like a shell would, but no shell) and take its stdout."""
    argv = shlex.split(command)

    def fetch() -> str:
        try:
            done = subprocess.run(argv, capture_output=True, timeout=COMMAND_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise SourceError(f"{command}: {e}") from None
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip().splitlines()
            raise SourceError(f"{command}: exit {done.returncode}" + (f": {err[-1]}" if err else ""))
        return done.stdout.decode(errors="replace")

    return fetch


class MetricsCollector(Collector):
    """Reads the source at each scrape; a failed read gives evtchn_up 0 and counts the error."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.errors = 0
        self.last_error = ""

    def collect(self) -> Iterator[Metric]:
        try:
            r: Reading | None = self.source.read()
        except SourceError as e:
            self.errors += 1
            self.last_error = str(e)
            r = None
        yield GaugeMetricFamily(
            "evtchn_up", "1 when the last read of the source worked", value=int(r is not None)
        )
        yield CounterMetricFamily(
            "evtchn_source_read_errors", "Reads of the source that failed", value=self.errors
        )
        if r is not None:
            yield from families(r)


def families(r: Reading) -> Iterator[Metric]:
    yield GaugeMetricFamily("evtchn_dom0_ports_used", "dom0 event channel ports in use", value=r.dom0_used)
    limit = GaugeMetricFamily("evtchn_dom0_ports_limit", "Usable dom0 ports under the ABI", labels=["abi"])
    free = GaugeMetricFamily("evtchn_dom0_ports_free", "dom0 ports still free under the ABI", labels=["abi"])
    for abi, n in r.limits.items():
        limit.add_metric([abi], n)
        free.add_metric([abi], max(0, n - r.dom0_used))
    yield limit
    yield free
    yield GaugeMetricFamily(
        "evtchn_abi_known", "1 when dom0's ABI is known, 0 when guessed", value=int(r.abi_known)
    )
    held = GaugeMetricFamily("evtchn_dom0_ports_held", "dom0 ports a guest domain holds", labels=["domid"])
    for domid, n in r.held.items():
        held.add_metric([str(domid)], n)
    yield held
    if r.domains:
        used = GaugeMetricFamily(
            "evtchn_domain_ports_used", "Ports in a domain's own table", labels=["domid", "name"]
        )
        lim = GaugeMetricFamily(
            "evtchn_domain_ports_limit", "Usable ports in a domain's table", labels=["domid", "name"]
        )
        for domid, name, u, n in r.domains:
            used.add_metric([str(domid), name], u)
            lim.add_metric([str(domid), name], n)
        yield used
        yield lim
    room = GaugeMetricFamily(
        "evtchn_headroom_vms", "More VMs of the shape that fit now", labels=["shape", "abi"]
    )
    for (shape, abi), n in r.headroom.items():
        room.add_metric([shape, abi], n)
    yield room
    if r.binding:
        bind = GaugeMetricFamily(
            "evtchn_headroom_binding_info",
            "The limit that binds first for the shape",
            labels=["shape", "limit"],
        )
        for shape, keys in r.binding.items():
            for key in keys:
                bind.add_metric([shape, key], 1)
        yield bind
    if r.degraded_devices is not None:
        yield GaugeMetricFamily(
            "evtchn_degraded_devices",
            "Devices of running VMs that are not connected",
            value=r.degraded_devices,
        )
    yield GaugeMetricFamily(
        "evtchn_degraded_domains",
        "Domains running with devices that failed to connect",
        value=r.degraded_domains,
    )


def worst_headroom(r: Reading) -> dict[str, int]:
    """Per shape, the least headroom over the ABIs given (the cautious number for --min-free)."""
    out: dict[str, int] = {}
    for (shape, _), n in r.headroom.items():
        out[shape] = min(n, out.get(shape, n))
    return out
