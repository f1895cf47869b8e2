"""`evtchn exporter`: metrics scraped over HTTP on 127.0.0.1 match the host, follow it live, and say when
the ABI is unknown; `--min-free` is a Nagios-style check."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from evtchn.cli import main
from evtchn.inspect.lsevtchn import format_lsevtchn
from evtchn.plan.mix import Mix, Shape
from evtchn.store import create_store, open_store
from evtchn.toolstack.host import Host
from evtchn.toolstack.spec import seed_vm_spec
from evtchn.twin.headroom import headroom
from evtchn.twin.metrics import DumpSource, HostFileSource, MetricsCollector, command_reader, file_reader

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FULL_61 = EXAMPLES / "dumps" / "lsevtchn-0-full.txt"  # a full XenServer 6.1 dom0: 1023 of 1023


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.status == 200
        return samples(resp.read().decode())


def lab(path: Path, vms: int) -> Host:
    host = Host.create("xenserver-6.1")
    for i in range(vms):
        host.define_vm(seed_vm_spec(f"vm{i}"))
        host.start_vm(f"vm{i}")
    create_store(host, path, replace=True)
    return host


def test_scraped_over_http_the_metrics_are_the_hosts_and_follow_it(tmp_path: Path) -> None:
    path = tmp_path / "lab.db"
    host = lab(path, 3)
    seed = Shape("seed", seed_vm_spec())
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MetricsCollector(HostFileSource(str(path), [seed])))
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
        got = scrape(url)
        assert got[("evtchn_up", ())] == 1
        assert got[("evtchn_dom0_ports_used", ())] == host.dom0_ports_used()
        assert got[("evtchn_dom0_ports_limit", (("abi", "2l-32"),))] == 1023
        assert got[("evtchn_dom0_ports_free", (("abi", "2l-32"),))] == host.dom0_ports_free()
        assert got[("evtchn_dom0_ports_held", (("domid", "2"),))] == 6
        assert got[("evtchn_domain_ports_used", (("domid", "1"), ("name", "vm0")))] > 0
        rooms = headroom(host, Mix((seed,))).max_vms
        assert got[("evtchn_headroom_vms", (("abi", "2l-32"), ("shape", "seed")))] == rooms
        assert got[("evtchn_headroom_binding_info", (("limit", "dom0_evtchn"), ("shape", "seed")))] == 1
        assert got[("evtchn_degraded_devices", ())] == 0
        with open_store(path).transaction() as live:  # the host changes under the exporter
            live.define_vm(seed_vm_spec("late"))
            live.start_vm("late")
        again = scrape(url)
        assert again[("evtchn_dom0_ports_used", ())] == host.dom0_ports_used() + 6
        assert again[("evtchn_headroom_vms", (("abi", "2l-32"), ("shape", "seed")))] == rooms - 1
        path.unlink()  # the source goes away: up 0, the error counted, the server still answers
        gone = scrape(url)
        assert gone[("evtchn_up", ())] == 0 and gone[("evtchn_source_read_errors_total", ())] == 1
        assert ("evtchn_dom0_ports_used", ()) not in gone
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_a_real_dump_with_an_unknown_abi_gives_every_plausible_limit() -> None:
    src = DumpSource(file_reader(str(FULL_61)), [Shape("seed", seed_vm_spec())], name="ls0")
    reg = CollectorRegistry(auto_describe=False)
    reg.register(MetricsCollector(src))
    from prometheus_client import generate_latest

    got = samples(generate_latest(reg).decode())
    assert got[("evtchn_abi_known", ())] == 0
    assert got[("evtchn_dom0_ports_free", (("abi", "2l-32"),))] == 0
    assert got[("evtchn_dom0_ports_free", (("abi", "2l-64"),))] == 4095 - 1023
    assert got[("evtchn_headroom_vms", (("abi", "2l-32"), ("shape", "seed")))] == 0
    assert got[("evtchn_degraded_domains", ())] == 1  # domid 22 holds 3 where its siblings hold 6
    assert got[("evtchn_dom0_ports_held", (("domid", "22"),))] == 3


def test_from_command_rereads_and_a_failing_command_is_counted(tmp_path: Path) -> None:
    dump = tmp_path / "ls0.txt"
    host = lab(tmp_path / "lab.db", 2)
    dump.write_text(format_lsevtchn(host.hv, 0).stdout)
    cmd = f'{shlex.quote(sys.executable)} -c "import sys; sys.stdout.write(open(sys.argv[1]).read())" {dump}'
    collector = MetricsCollector(DumpSource(command_reader(cmd), [], profile="xenserver-6.1", name="cmd"))
    reg = CollectorRegistry(auto_describe=False)
    reg.register(collector)
    from prometheus_client import generate_latest

    got = samples(generate_latest(reg).decode())
    assert got[("evtchn_abi_known", ())] == 1
    assert got[("evtchn_dom0_ports_used", ())] == host.dom0_ports_used()
    dump.unlink()
    bad = samples(generate_latest(reg).decode())
    assert bad[("evtchn_up", ())] == 0 and bad[("evtchn_source_read_errors_total", ())] == 1
    assert "exit 1" in collector.last_error


def test_cli_serves_on_127_0_0_1_until_stopped(tmp_path: Path) -> None:
    path = tmp_path / "lab.db"
    host = lab(path, 1)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from evtchn.cli import main; main()",
         "exporter", "--host", str(path), "--port", "0"],
        stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "serving http://127.0.0.1:" in line, line
        url = line.split("serving ")[1].split()[0]
        got = scrape(url)
        assert got[("evtchn_dom0_ports_used", ())] == host.dom0_ports_used()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize(("min_free", "code", "state"), [(10, 0, "EVTCHN OK"), (10_000, 1, "EVTCHN WARNING")])
def test_min_free_is_a_nagios_style_check(tmp_path: Path, min_free: int, code: int, state: str) -> None:
    lab(tmp_path / "lab.db", 2)
    r = run("exporter", "--host", str(tmp_path / "lab.db"), "--min-free", str(min_free))
    assert r.exit_code == code, r.output
    assert r.stdout.startswith(state) and "'headroom_seed'=" in r.stdout


def test_min_free_on_an_unreadable_source_is_unknown(tmp_path: Path) -> None:
    r = run("exporter", "--from-file", str(tmp_path / "missing.txt"), "--min-free", "1")
    assert r.exit_code == 2 and r.stdout.startswith("EVTCHN UNKNOWN - ") and "missing.txt" in r.stdout


def test_bad_options_are_one_line(tmp_path: Path) -> None:
    r = run("exporter", "--host", "a.db", "--from-file", "b.txt")
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "--host and --from-file" in r.stderr
    r = run("exporter", "--from-file", str(FULL_61), "--shape", str(tmp_path / "none.yaml"), "--once")
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "none.yaml" in r.stderr
