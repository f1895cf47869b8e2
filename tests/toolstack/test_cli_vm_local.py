"""`evtchn vm-local`: output a user reads, and one-line errors with exit 2 for bad input."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from evtchn.cli import main

SEED = (
    "name: seed\ntype: hvm\ndisks: [{userdevice: 0}, {userdevice: 1}, {userdevice: 2}]\nnics: [{devid: 0}]\n"
)


def test_runs_the_seed_story(tmp_path: Path) -> None:
    spec = tmp_path / "seed.yaml"
    spec.write_text(SEED)
    r = CliRunner().invoke(main, ["vm-local", str(spec), "--profile", "xenserver-6.1", "--count", "157"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0] == "host: xenserver-6.1, dom0 baseline 90 of 1023 usable ports"
    assert "seed-1: domid 1 running, dom0 +6 (927 free); vbd 51712 connected" in r.output
    assert (
        "seed-156: domid 156 running, dom0 +3 (0 free); vbd 51712 connected, "
        "vbd 51728 failed (error 28 mapping ring-refs and evtchn)" in r.output
    )
    assert "  vif vif-156-0: 28 mapping ring-refs and evtchn" in lines
    assert (
        lines[-1]
        == "seed-157: start failed: INTERNAL_ERROR ['xenopsd internal error: Xs_protocol.Error(\"ENOSPC\")']"
    )


def test_xl_cfg_notes_and_xenstore(tmp_path: Path) -> None:
    cfg = tmp_path / "g.cfg"
    cfg.write_text('name = "g"\ntype = "pv"\nvif = [ "bridge=xenbr0" ]\nkernel = "/boot/vmlinuz"\n')
    r = CliRunner().invoke(main, ["vm-local", str(cfg), "--profile", "xen-xl", "--xenstore"])
    assert r.exit_code == 0, r.output
    assert f"note: {cfg}:4: kernel: not modelled, ignored" in r.stderr
    assert '/local/domain/1/device/vif/0/event-channel-tx = "' in r.stdout


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: b\nvcpus: lots\n")
    runner = CliRunner()
    for args, expected in (
        ([str(bad)], f"evtchn: {bad}:2: field vcpus: "),
        ([str(tmp_path / "missing.toml")], "cannot read"),
        ([str(bad), "--profile", "xenserver-9"], "xenserver-9: no such profile file or built-in profile"),
        ([str(bad), "--hardware", str(tmp_path / "hw.yaml")], "no such hardware file"),
    ):
        r = runner.invoke(main, ["vm-local", *args])
        assert r.exit_code == 2, r.output
        assert r.stderr.count("\n") == 1 and expected in r.stderr
        assert "Traceback" not in r.output


def test_a_guest_that_dies_at_boot_is_shown_halted(tmp_path: Path) -> None:
    """max_event_channels too small for the kernel's per-vCPU binds: kernel BUG, the VM halts (§8.3a)."""
    spec = tmp_path / "tiny.yaml"
    spec.write_text("name: tiny\ntype: pv\nvcpus: 2\nmax_event_channels: 4\n")
    r = CliRunner().invoke(main, ["vm-local", str(spec), "--profile", "xen-xl"])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[1].startswith("tiny: halted, dom0 +0 (")
    assert lines[2].startswith("  kernel BUG at drivers/xen/events/events_base.c")
