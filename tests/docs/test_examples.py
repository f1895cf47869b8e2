"""Every file under examples/ loads with the loader a user would give it to, and the documented figures
of the worked examples hold (docs/hardware.md, docs/profiles.md, docs/vm-specs.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evtchn.inspect import analyze, parse_file
from evtchn.toolstack import dom0_baseline, get_hardware, get_profile, read_spec, seed_vm_spec, vm_cost

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SPECS = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".yaml", ".toml", ".cfg"))


def test_examples_are_all_covered() -> None:
    """A new kind of example file needs a loader below (and a line in examples/README.md)."""
    known = {*SPECS, *EXAMPLES.glob("hardware/*"), *EXAMPLES.glob("profiles/*"), *EXAMPLES.glob("dumps/*"),
             *EXAMPLES.glob("*.py")}
    files = {p for p in EXAMPLES.rglob("*") if p.is_file() and p.name != "README.md"}
    assert files == known
    listed = (EXAMPLES / "README.md").read_text("utf-8")
    assert all(str(p.relative_to(EXAMPLES)) in listed for p in files)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_spec_loads(path: Path) -> None:
    spec, notes = read_spec(path)
    assert spec.name
    assert all(n.startswith(f"{path}:") for n in notes)


def test_client_scripts_compile() -> None:
    """The scripts are run against `evtchn serve` by docs/xenapi.md's console block; here: they parse."""
    for script in EXAMPLES.glob("*.py"):
        compile(script.read_text("utf-8"), str(script), "exec")


def test_xl_cfg_notes_the_key_it_does_not_model() -> None:
    _, notes = read_spec(EXAMPLES / "guest.cfg")
    assert notes == [f"{EXAMPLES / 'guest.cfg'}:9: serial: not modelled, ignored"]


def test_seed_example_is_the_blogs_vm() -> None:
    spec, _ = read_spec(EXAMPLES / "seed.yaml")
    assert spec == seed_vm_spec("seed")


def test_r720_hardware_worked_example() -> None:
    """docs/hardware.md: 53 PIRQs; baseline 8×6 + 1 + 1 + 2 + 53 = 105 under the XenServer 6.x dom0."""
    hw = get_hardware(str(EXAMPLES / "hardware" / "dell-r720.yaml"))
    assert hw.name == "dell-r720"
    assert (hw.host_pcpus, hw.dom0_vcpus, hw.host_memory_mib) == (32, 8, 256 * 1024)
    assert hw.pirqs == 53
    assert len(set(hw.pirq_numbers)) == 53
    base = dom0_baseline(get_profile("xenserver-6.2"), hw)
    assert base == {"virq": 18, "ipi": 32, "pirq": 53, "xenbus": 2}
    assert sum(base.values()) == 105
    # every field of the file says where its value comes from
    assert set(hw.sources) == {"description", "host_pcpus", "host_memory_mib", "dom0_vcpus",
                               "dom0_memory_mib", "irq_sources", "msi_pirq_base", "dom0_nr_pirqs",
                               "xen_msi_irqs"}


def test_two_per_vcpu_profile_worked_example() -> None:
    """docs/profiles.md: same cost as 6.2 for the 1-vCPU seed, one more port for the 2-vCPU web VM."""
    path = EXAMPLES / "profiles" / "xenserver-6.2-two-per-vcpu.yaml"
    mine, builtin = get_profile(str(path)), get_profile("xenserver-6.2")
    assert (mine.dm_ports_per_vcpu, mine.dm_bufioreq) == (2, False)
    assert mine.sources["dm_bufioreq"] == str(path)
    assert "rising to two" in mine.sources["dm_ports_per_vcpu"]
    hw = get_hardware(None)
    seed = seed_vm_spec("s")
    web, _ = read_spec(EXAMPLES / "web.yaml")
    assert vm_cost(mine, hw, seed).total == vm_cost(builtin, hw, seed).total == 7
    assert (vm_cost(builtin, hw, web).total, vm_cost(mine, hw, web).total) == (7, 8)


def test_seed_dump_example() -> None:
    """reference §10: the blog's lsevtchn 36 has 11 ports, six connected to dom0 ports 51–56."""
    dump = parse_file(EXAMPLES / "dumps" / "seed-lsevtchn-36.txt")
    (table,) = dump.tables
    assert table.domid == 36 and len(table) == 11
    assert sorted(int(p) for p in table.remote_port if p > 0) == [51, 52, 53, 54, 55, 56]


def test_edump_example() -> None:
    dump = parse_file(EXAMPLES / "dumps" / "xl-dmesg-xs62.txt")
    assert dump.accounted() == dump.lines and not dump.bad
    a = analyze(dump, vm_cost=7)
    assert a.dom0_total == 90 + 3 * 7
