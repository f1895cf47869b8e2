"""dom0's /proc/interrupts (tests/inspect/fixtures/proc-interrupts-dom0.txt, the older joined-chip layout
of drivers/xen/events as the inspect tests use it) as the capture for the exporter and the import: it
gives ports and remote domains but no vCPU per port and no ABI, and both say so."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from evtchn.cli import main
from evtchn.plan.mix import Shape
from evtchn.toolstack.spec import seed_vm_spec
from evtchn.twin.importer import import_host
from evtchn.twin.metrics import DumpSource, file_reader, worst_headroom

PROC = Path(__file__).resolve().parents[1] / "inspect" / "fixtures" / "proc-interrupts-dom0.txt"


def test_exporter_reads_dom0s_proc_interrupts_with_every_plausible_abi() -> None:
    r = DumpSource(file_reader(str(PROC)), [Shape("seed", seed_vm_spec())], name="pi").read()
    assert r.dom0_used == 17 and not r.abi_known
    assert r.limits == {"2l-32": 1023, "2l-64": 4095}
    assert r.held == {5: 2}
    assert worst_headroom(r) == {"seed": r.headroom[("seed", "2l-32")]}


def test_import_from_proc_interrupts_states_what_it_could_not_reproduce(tmp_path: Path) -> None:
    r = import_host([str(PROC)])
    text = "\n".join(r.assumed)
    assert "does not say which vCPU each port is bound on" in text
    assert "fewer free ports than the real host" in text  # the profile's baseline is larger: said
    assert [(d.domid, d.real_ports) for d in r.domains] == [(5, 2)]
    cli = CliRunner().invoke(main, ["host", "import", str(PROC), "--host", str(tmp_path / "t.db")])
    assert cli.exit_code == 0 and "assumed: dom0 vCPUs" in cli.stdout
