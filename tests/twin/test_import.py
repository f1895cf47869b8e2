"""`evtchn host import`: a twin rebuilt from captured output reproduces the real host's dom0 ports.

The "real" host is a simulated one whose `lsevtchn 0` output (the project's own lsevtchn, reference §9.1)
is the capture; `xl list -l`, `xe vm-list params=all` and `xl info` are hand-written fixtures in
tests/twin/data/ in each tool's layout (sources in evtchn/twin/formats.py). Checked against public text:
the xe `key ( RW): value` layout with right-aligned keys and (MRW)/(SRO) kinds is the one quoted in the
XenServer CLI reference (docs.vmd.citrix.com/XenServer/4.0.1/reference/ch05s03.html, "Parameter types");
`xl info`'s `xen_version            : 4.8-unstable` layout is quoted in the xen-devel patch "tools/xl: Allow
callers of `xl info` to select specific information" (Andrew Cooper, 2016). The libxl JSON follows
libxl_types.idl field names; no public capture was found to compare it with.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from evtchn.cli import main
from evtchn.inspect.lsevtchn import format_lsevtchn
from evtchn.plan.mix import Mix, Shape
from evtchn.plan.simulate import simulate_on
from evtchn.store import open_store
from evtchn.toolstack.host import Host
from evtchn.toolstack.spec import DiskSpec, NicSpec, VmSpec, seed_vm_spec
from evtchn.twin.headroom import headroom
from evtchn.twin.importer import import_host

DATA = Path(__file__).parent / "data"
XL_LIST = str(DATA / "xl-list-l.json")
XE_LIST = str(DATA / "xe-vm-list.txt")
XL_INFO = str(DATA / "xl-info.txt")


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def real_host() -> Host:
    """The host the fixtures describe: web1 (domid 1), db1 (2), win10 (4; domid 3 came and went)."""
    host = Host.create("xenserver-6.2")
    specs = [
        VmSpec(name="web1", type="hvm", vcpus=2, memory_mib=2048, disks=[DiskSpec(userdevice=0),
               DiskSpec(userdevice=1)], nics=[NicSpec(devid=0)]),
        VmSpec(name="db1", type="pv", vcpus=4, memory_mib=4096,
               disks=[DiskSpec(userdevice=i) for i in range(3)], nics=[NicSpec(devid=0), NicSpec(devid=1)]),
        VmSpec(name="gone", type="hvm"),
        VmSpec(name="win10", type="hvm", vcpus=1, memory_mib=1024,
               disks=[DiskSpec(userdevice=0), DiskSpec(userdevice=1, kind="cdrom")], nics=[NicSpec(devid=0)]),
    ]  # fmt: skip
    for spec in specs:
        host.define_vm(spec)
        host.start_vm(spec.name)
    host.shutdown_vm("gone")
    assert [host.vm(n).domid for n in ("web1", "db1", "win10")] == [1, 2, 4]
    return host


def capture(host: Host, path: Path) -> str:
    out = format_lsevtchn(host.hv, 0)
    path.write_text(f"[root@xs62 ~]# /usr/lib/xen/bin/lsevtchn 0\n{out.stdout}")
    return str(path)


def ports(host: Host, name: str) -> int:
    return sum(len(p) for p in host.vm_dom0_ports(name).values())


def test_twin_from_xl_list_reproduces_every_domain_and_dom0(tmp_path: Path) -> None:
    real = real_host()
    r = import_host([capture(real, tmp_path / "ls0.txt")], xl_list=XL_LIST, profile="xenserver-6.2")
    assert [(d.domid, d.name, d.shape_from, d.state) for d in r.domains] == [
        (1, "web1", "xl list -l", "running"),
        (2, "db1", "xl list -l", "running"),
        (4, "win10", "xl list -l", "running"),
    ]
    for d in r.domains:
        assert d.real_ports == d.twin_ports == ports(real, d.name)
        assert r.host.vm(d.name).domid == d.domid
    assert r.dom0_real == r.dom0_twin == real.dom0_ports_used()
    r.host.check_invariants()
    mix = Mix((Shape("seed", seed_vm_spec()),))
    assert headroom(r.host, mix).max_vms == headroom(real, mix).max_vms


def test_twin_from_xe_vm_list_fits_devices_to_the_ports_and_says_so(tmp_path: Path) -> None:
    real = real_host()
    r = import_host([capture(real, tmp_path / "ls0.txt")], xe_list=XE_LIST, xl_info=XL_INFO)
    assert all(d.shape_from.startswith("fitted to ") for d in r.domains)
    assert [d.real_ports for d in r.domains] == [d.twin_ports for d in r.domains]
    assert r.host.vm("db1").spec.type == "pv" and r.host.vm("db1").spec.vcpus == 4
    assert r.dom0_twin == r.dom0_real
    hw = r.host.hardware
    assert (hw.host_pcpus, hw.host_memory_mib, hw.dom0_memory_mib) == (32, 262130, 752)
    text = "\n".join(r.assumed)
    assert "old-test (xe vm-list) is not running" in text
    assert "profile xenserver-6.2" in text  # not proven by an lsevtchn of 4095-limit size: said, not hidden


def test_a_full_dom0_runs_out_at_the_same_vm_in_the_twin(tmp_path: Path) -> None:
    real = Host.create("xenserver-6.1")
    web = VmSpec(name="web", vcpus=2, disks=[DiskSpec(userdevice=0), DiskSpec(userdevice=1)],
                 nics=[NicSpec(devid=0)])  # fmt: skip
    sim = simulate_on(real, Mix((Shape("web", web),)))
    assert sim.failure is not None and sim.failure.outcome == "runs degraded"
    doms = [
        {"domid": vm.domid, "config": {"c_info": {"type": "hvm", "name": vm.name},
         "b_info": {"max_vcpus": 2, "max_memkb": 1048576},
         "disks": [{"vdev": "xvda"}, {"vdev": "xvdb"}], "nics": [{"devid": 0}]}}
        for vm in sorted(real.vms.values(), key=lambda v: v.domid or 0)
    ]  # fmt: skip
    (tmp_path / "xl.json").write_text(json.dumps(doms))
    r = import_host([capture(real, tmp_path / "ls0.txt")], xl_list=str(tmp_path / "xl.json"))
    assert r.host.profile.name == "xenserver-6.1"
    assert [d.twin_ports for d in r.domains] == [d.real_ports for d in r.domains]
    assert [d.state for d in r.domains] == ["running"] * (len(doms) - 1) + ["degraded"]
    assert r.dom0_twin == r.dom0_real and r.host.dom0_ports_free() == real.dom0_ports_free()


def test_cli_writes_the_twin_and_can_start_max_reads_it(tmp_path: Path) -> None:
    dump = capture(real_host(), tmp_path / "ls0.txt")
    twin = tmp_path / "twin.db"
    r = run("host", "import", dump, "--xl-list", XL_LIST, "--xl-info", XL_INFO, "--host", str(twin), "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [d["name"] for d in doc["domains"]] == ["web1", "db1", "win10"]
    assert doc["dom0"]["real_used"] == doc["dom0"]["twin_used"]
    assert open_store(twin).read().vm("db1").domid == 2
    text = run("host", "import", dump, "--xl-list", XL_LIST, "--host", str(twin), "--force")
    assert text.exit_code == 0 and "assumed: " in text.stdout and "win10" in text.stdout
    again = run("host", "import", dump, "--host", str(twin))
    assert again.exit_code == 2 and "--force" in again.stderr
    more = run("can-start", "seed", "--max", "--host", str(twin), "--json")
    assert more.exit_code == 0 and json.loads(more.stdout)["simulated_equals_analytic"] is True


@pytest.mark.parametrize(
    ("option", "content", "expected"),
    [
        ("--xl-list", '[{"domid": 1,\n "config": ', "bad.txt:2: not JSON"),
        ("--xl-list", '[{"domid": 1}]', "no 'config' object"),
        ("--xl-list", '[{"domid": "x", "config": {}}]', "domid is 'x'"),
        (
            "--xe-vm-list",
            "uuid ( RO): 1\n name-label ( RW): a\nthis is not xe\n",
            "bad.txt:3: not a `key ( RO)",
        ),
        (
            "--xe-vm-list",
            "uuid ( RO): 1\n name-label ( RW): a\n VCPUs-max ( RW): many\n",
            "VCPUs-max is 'many'",
        ),
        ("--xl-info", "hello world\n", "bad.txt:1: not a `key : value` line"),
        ("--xl-info", "nr_cpus : lots\n", "nr_cpus is 'lots'"),
    ],
)
def test_a_bad_capture_is_one_line_naming_file_line_and_field(
    tmp_path: Path, option: str, content: str, expected: str
) -> None:
    dump = capture(real_host(), tmp_path / "ls0.txt")
    (tmp_path / "bad.txt").write_text(content)
    r = run("host", "import", dump, option, str(tmp_path / "bad.txt"), "--host", str(tmp_path / "t.db"))
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], r.stderr
    assert not (tmp_path / "t.db").exists()


def test_a_guests_own_table_is_not_a_dom0_capture(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples" / "dumps"
    r = run("host", "import", str(examples / "guest-interrupts.txt"), "--host", str(tmp_path / "t.db"))
    assert r.exit_code == 2
    assert "no dom0 table" in r.stderr and r.stderr.count("\n") == 1


def test_an_e_dump_is_a_dom0_capture_too_and_what_it_does_not_prove_is_said(tmp_path: Path) -> None:
    from evtchn.inspect.edump import format_edump

    real = real_host()
    dump = tmp_path / "xl-dmesg.txt"
    dump.write_text(format_edump(real.hv, layout="4.4", prefix=True))
    r = import_host([str(dump)], xl_list=XL_LIST)
    # Xen 4.4+ prints the ABI: 2L rules FIFO out, but not 32- against 64-bit; the fallback is said.
    assert r.host.profile.name == "xenserver-6.2"
    assert any("not prove dom0's ABI (plausible: 2l-32, 2l-64)" in a for a in r.assumed), r.assumed
    assert [d.twin_ports for d in r.domains] == [ports(real, n) for n in ("web1", "db1", "win10")]
    assert r.dom0_twin == real.dom0_ports_used()


def test_xenstore_ls_gives_each_vms_devices_even_those_that_failed(tmp_path: Path) -> None:
    real = Host.create("xenserver-6.1")
    sim = simulate_on(real, Mix((Shape("seed", seed_vm_spec()),)))
    assert sim.failure is not None and sim.failure.outcome == "runs degraded"
    last = real.vm(sim.failure.vm)
    assert any(d.state == "failed" for d in last.devices)
    xs = tmp_path / "xenstore-ls.txt"
    xs.write_text(real.xenstore.dump("/local"))  # `xenstore-ls -f /local` layout
    r = import_host([capture(real, tmp_path / "ls0.txt")], xenstore_ls=str(xs))
    assert {d.shape_from for d in r.domains} == {"xenstore-ls"}
    assert [d.name for d in r.domains] == [
        v.name for v in sorted(real.vms.values(), key=lambda v: v.domid or 0)
    ]
    assert r.domains[-1].state == "degraded" and r.domains[-1].real_ports < ports(real, r.domains[0].name)
    assert [d.twin_ports for d in r.domains] == [d.real_ports for d in r.domains]
    assert len(r.host.vm(last.name).spec.disks) == len(last.spec.disks)  # the failed disk is in the shape
    assert r.host.dom0_ports_free() == real.dom0_ports_free()
    assert not any("no toolstack record" in a for a in r.assumed)


def test_xenstore_ls_that_is_not_one_is_refused(tmp_path: Path) -> None:
    (tmp_path / "xs.txt").write_text("hello\n")
    dump = capture(real_host(), tmp_path / "ls0.txt")
    r = run(
        "host", "import", dump, "--xenstore-ls", str(tmp_path / "xs.txt"), "--host", str(tmp_path / "t.db")
    )
    assert r.exit_code == 2 and r.stderr.count("\n") == 1, r.output
