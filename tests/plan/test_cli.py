"""`evtchn plan`, `can-start` and `demo` as a user runs them: output, JSON, exit codes, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from evtchn.cli import main
from evtchn.store import create_store
from evtchn.toolstack.host import Host
from evtchn.toolstack.spec import seed_vm_spec


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def one_line_error(r: Result, code: int = 2) -> str:
    assert r.exit_code == code, (r.exit_code, r.output)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evtchn: "), r.stderr
    assert "Traceback" not in r.output
    return lines[0]


def test_plan_prints_the_answer_and_every_limit() -> None:
    r = run("plan", "--profile", "xenserver-6.1", "--vm", "seed")
    assert r.exit_code == 0, r.output
    assert "Maximum for seed: 155 VMs" in r.stdout  # ⌊(1023 − 90)/6⌋ with the default hardware's baseline
    assert "VM 156 (seed) meets dom0 event channels" in r.stdout
    for title in ("host memory", "dom0 event channels", "xenconsoled file descriptors", "guest's own"):
        assert title in r.stdout
    assert "reference §" in r.stdout  # every limit's source is printed


def test_plan_simulate_shows_equality_and_messages() -> None:
    r = run("plan", "--profile", "xenserver-6.1", "--simulate")
    assert r.exit_code == 0, r.output
    assert "analytic 155 = simulated 155" in r.stdout
    assert "28 mapping ring-refs and evtchn" in r.stdout


def test_plan_json_with_simulation() -> None:
    r = run("plan", "-p", "xenserver-6.2", "--vm", "seed:2", "--simulate", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["profile"] == "xenserver-6.2" and doc["dom0_limit"] == 4095
    assert doc["shapes"][0]["dom0_ports"] == 7 and doc["shapes"][0]["count"] == 2
    assert doc["binding"] == ["dom0_evtchn"]
    assert doc["simulated"]["ok_vms"] == doc["max_vms"] and doc["simulated_equals_analytic"] is True
    assert {lim["key"] for lim in doc["limits"]} == {
        "host_memory",
        "domids",
        "dom0_evtchn",
        "consoled_fds",
        "guest_evtchn",
    }


def test_compare_table_tells_the_story(tmp_path: Path) -> None:
    png = tmp_path / "cmp.png"
    r = run("plan", "--compare", "--plot", str(png))
    assert r.exit_code == 0, r.output
    rows = {line.split("│")[1].strip(): line for line in r.stdout.splitlines() if line.startswith("│")}
    assert set(rows) == {
        "xenserver-6.1", "xenserver-6.2", "xenserver-6.5", "xenserver-8", "xen-xl", "xen-4.17",
    }
    assert " 155 │ dom0 evtchn" in rows["xenserver-6.1"] and " 572 │ dom0 evtchn" in rows["xenserver-6.2"]
    assert "│ memory" in rows["xenserver-8"]  # FIFO: dom0 outlasts the host's memory
    assert f"plot written to {png}" in r.stdout.replace("\n", "")
    assert png.stat().st_size > 20_000


def test_compare_simulated_column() -> None:
    r = run("plan", "--compare", "xenserver-6.1", "xenserver-6.2", "--simulate")
    assert r.exit_code == 0, r.output
    assert " 155 ✓" in r.stdout and " 572 ✓" in r.stdout


def test_small_hardware_says_memory_binds() -> None:
    r = run("plan", "--compare", "xenserver-6.1", "--hardware", "rack-128g")
    assert r.exit_code == 0, r.output
    out = " ".join(r.stdout.split())
    assert "note: host memory binds first on hardware rack-128g" in out


def test_compare_json_for_chosen_profiles() -> None:
    r = run("plan", "--json", "--compare", "xenserver-6.1", "xenserver-6.2")
    assert r.exit_code == 0, r.output
    plans = json.loads(r.stdout)["plans"]
    assert [p["profile"] for p in plans] == ["xenserver-6.1", "xenserver-6.2"]
    assert plans[0]["max_vms"] < plans[1]["max_vms"]


def test_mix_of_files(tmp_path: Path) -> None:
    (tmp_path / "web.yaml").write_text("name: web\ntype: pv\nmemory_mib: 512\ndisks: [{}]\nnics: [{}]\n")
    (tmp_path / "db.toml").write_text('name = "db"\ntype = "hvm"\nvcpus = 2\n[[disks]]\nuserdevice = 0\n')
    r = run(
        "plan",
        "-p",
        "xenserver-6.1",
        "--json",
        "--vm",
        f"{tmp_path / 'web.yaml'}:3",
        "--vm",
        str(tmp_path / "db.toml"),
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [(s["label"], s["count"]) for s in doc["shapes"]] == [("web", 3), ("db", 1)]
    assert sum(s["in_mix_at_max"] for s in doc["shapes"]) == doc["max_vms"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--profile", "xenserver-9"], "xenserver-9: no such profile file or built-in profile"),
        (["--vm", "nope.yaml"], "--vm 'nope.yaml': no such spec file"),
        (["--vm", "seed:zero"], "COUNT after ':' must be a whole number ≥ 1, not 'zero'"),
        (["--vm", "seed:0"], "COUNT after ':' must be a whole number ≥ 1"),
        (["--hardware", "nohw"], "nohw: no such hardware file"),
        (["--set", "bogus=1"], "unknown setting 'bogus'"),
        (["--set", "shadow_multiplier=inf"], "--set shadow_multiplier: Input should be a finite number"),
        (["--plot", "x.pdf"], "x.pdf: plot file must end in .png or .svg"),
        (["xenserver-6.1"], "profiles as arguments need --compare"),
        (["--compare", "nope-profile"], "nope-profile: no such profile"),
    ],
)
def test_plan_user_errors_are_one_line(args: list[str], expected: str) -> None:
    assert expected in one_line_error(run("plan", *args))


def test_invalid_spec_file_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ntype: hvm\nvcpus: -1\n")
    line = one_line_error(run("plan", "--vm", str(bad)))
    assert f"{bad}:3: field vcpus" in line


@pytest.fixture
def host_file(tmp_path: Path) -> Path:
    """A persisted xenserver-6.1 host with dom0 nearly full: 150 seed VMs (512 MiB each) running."""
    host = Host.create("xenserver-6.1")
    for i in range(150):
        host.define_vm(seed_vm_spec(f"vm{i}").model_copy(update={"memory_mib": 512}))
        host.start_vm(f"vm{i}")
    path = tmp_path / "host.db"
    create_store(host, path).close()
    return path


def test_can_start_yes_then_no(host_file: Path, tmp_path: Path) -> None:
    r = run("can-start", "seed", "--host", str(host_file))
    free = 1023 - 90 - 150 * 6
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(
        f"yes: seed can start fully on this xenserver-6.1 host; dom0 ports needed 6, free {free}"
    )
    big = tmp_path / "big.yaml"
    big.write_text(
        "name: big\ntype: hvm\ndisks: "
        + str([{"userdevice": i} for i in range(36)])
        + "\nnics: [{}, {devid: 1}]\n"
    )
    r = run("can-start", str(big), "--host", str(host_file), "--json")
    assert r.exit_code == 1, r.output
    doc = json.loads(r.stdout)
    needed = 1 + 36 + 2 + 1  # xenstore, 36 disks, 2 NICs, 1 ioreq port (6.1, 1 vCPU)
    assert doc["ok"] is False and doc["needed"] == needed and doc["free"] == free
    assert doc["shortfall"] == needed - free and doc["binding_limit"] == "dom0_evtchn"


def test_can_start_memory_binds(host_file: Path, tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    huge.write_text("name: huge\ntype: pv\nmemory_mib: 1100000\n")
    r = run("can-start", str(huge), "--host", str(host_file))
    assert r.exit_code == 1
    assert r.stdout.startswith("no: huge cannot start fully")
    assert "binding limit: host memory" in r.stdout.splitlines()[0]


def test_can_start_errors(tmp_path: Path, host_file: Path) -> None:
    assert "no host file" in one_line_error(run("can-start", "seed", "--host", str(tmp_path / "none.db")))
    assert "SPEC 'x.yaml': no such spec file" in one_line_error(
        run("can-start", "x.yaml", "--host", str(host_file))
    )
    notdb = tmp_path / "not.db"
    notdb.write_text("hello")
    one_line_error(run("can-start", "seed", "--host", str(notdb)))


def test_demo_tells_the_story(tmp_path: Path) -> None:
    r = run("demo", "--out", str(tmp_path / "d"))
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "155 VMs started with every device connected" in out
    assert "572 VMs started with every device connected" in out
    assert "28 mapping ring-refs and evtchn" in out
    assert 'Device.Ioemu_failed("qemu-dm exited unexpectedly")' in out
    assert "Interdomain (Waiting connection) - Remote Domain 0" in out  # one VM's lsevtchn
    assert "155 ✓" in out and "572 ✓" in out
    assert out.count("after shutting down seed-1 and seed-2") == 2  # recovery on both profiles
    assert "starts with every device connected" in out
    png = tmp_path / "d" / "density.png"
    assert png.exists() and png.stat().st_size > 20_000
    assert str(png) in out.replace("\n", "")


def test_demo_story_respects_host_memory(tmp_path: Path) -> None:
    """On rack-128g memory binds at 125 seed VMs: the story must stop there too, as the table and
    --simulate do, not report 155 VMs started on a host without the memory for them."""
    r = run("demo", "--hardware", "rack-128g", "--out", str(tmp_path / "d"))
    assert r.exit_code == 0, r.output
    assert r.stdout.count("125 VMs started with every device connected") == 2
    assert "155 VMs started" not in r.stdout and "572 VMs started" not in r.stdout
    assert "VM 126 refused" in r.stdout and "HOST_NOT_ENOUGH_FREE_MEMORY [" in r.stdout
    assert "125 ✓" in r.stdout


def test_demo_on_hardware_whose_dom0_cannot_boot_is_one_line(tmp_path: Path) -> None:
    """512 dom0 vCPUs bind more VIRQs and IPIs than a 1023-port dom0 has: this was a traceback."""
    hw = tmp_path / "hw.yaml"
    hw.write_text(
        "name: many-vcpus\nhost_pcpus: 512\nhost_memory_mib: 4096\ndom0_vcpus: 512\ndom0_memory_mib: 1024\n"
    )
    line = one_line_error(run("demo", "--hardware", str(hw), "--out", str(tmp_path / "d")))
    assert "dom0 cannot bind its own baseline on this hardware" in line


def test_ignored_xl_cfg_keys_are_reported_by_plan_and_can_start(tmp_path: Path, host_file: Path) -> None:
    """`vm create` reports xl.cfg keys the model ignores; plan and can-start dropped them silently, so a plan
    could rest on a setting (e.g. a stub domain) that was never read."""
    cfg = tmp_path / "stub.cfg"
    cfg.write_text('name = "stub"\ntype = "hvm"\ndevice_model_stubdomain_override = 1\n')
    note = f"evtchn: {cfg}:3: device_model_stubdomain_override: not modelled, ignored\n"
    r = run("plan", "--vm", f"{cfg}:2", "--json")
    assert r.exit_code == 0, r.output
    assert r.stderr == note
    json.loads(r.stdout)  # stdout stays machine-readable
    r = run("can-start", str(cfg), "--host", str(host_file))
    assert r.exit_code == 0, r.output
    assert r.stderr == note
