"""Inputs the fuzzing found (and the issue's own examples), each with the answer a user must get."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from evtchn.cli import main
from evtchn.inspect.detect import parse_text
from evtchn.toolstack.errors import SpecError
from evtchn.toolstack.hardware import get_hardware
from evtchn.toolstack.profiles import get_profile
from evtchn.toolstack.spec import read_spec

HUGE = "9" * 4301


def _one_line_error(p: Path, match: str) -> None:
    with pytest.raises(SpecError) as e:
        read_spec(p)
    assert "\n" not in e.value.message and str(p) in e.value.message
    assert match in e.value.message, e.value.message


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("huge.yaml", f"name: a\nmemory_mib: {HUGE}\n", ":2: a number with 4301 digits"),
        ("huge.toml", f'name = "a"\nvcpus = {HUGE}\n', ":2: a number with 4301 digits"),
        ("huge.cfg", f'name = "a"\nmemory = {HUGE}\n', ":2: a number with 4301 digits"),
        ("mem.yaml", f"name: a\nmemory_mib: {2**64}\n", ":2: field memory_mib: Input should be less than"),
        ("devid.toml", f'name = "a"\n[[disks]]\ndevid = {10**30}\n', "field disks[0].devid: Input should be"),
        ("hvm.yaml", "name: a\ntype: hvm\nvcpus: 200\n", "an HVM guest has at most 128 vCPUs"),
        ("evtchn.yaml", "name: a\nmax_event_channels: 9999999\n", "field max_event_channels"),
        (
            "deep.yaml",
            "name: a\ndisks: " + "[" * 5000 + "]" * 5000 + "\n",
            ":2: lists or tables nest over 64",
        ),
        (
            "deep.toml",
            'name = "a"\nx = ' + "[" * 5000 + "]" * 5000 + "\n",
            ":2: lists or tables nest over 64",
        ),
        ("deep.cfg", 'name = "a"\ndisk = ' + "[" * 5000 + "]" * 5000 + "\n", ":2: lists or tables nest"),
        ("nul.yaml", "name: a\x00b\n", ":1: NUL byte"),
    ],
)
def test_spec_loaders_never_raise_past_the_edge(tmp_path: Path, name: str, text: str, match: str) -> None:
    p = tmp_path / name
    p.write_text(text)
    _one_line_error(p, match)


def test_invalid_utf8_and_giant_specs(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"name: a\nmemory_mib: 1\xff\n")
    _one_line_error(bad, ":2: not UTF-8 text")
    giant = tmp_path / "giant.yaml"
    giant.write_bytes(b"name: a\n#" + b"x" * (5 * 1024 * 1024))
    _one_line_error(giant, "is over 4194304 bytes")


@pytest.mark.parametrize(
    ("suffix", "text", "match"),
    [
        (".yaml", "base: xenserver-6.2\nblkback_max_queues: " + HUGE + "\n", ":2: a number with 4301 digits"),
        (".json", '{"base": "xenserver-8", "netback_max_queues": ' + HUGE + "}", ":1: a number with 4301"),
        (".yaml", 'base =} "_max_queu\x1b[2Jes =', "not valid YAML: "),  # fuzz: a multi-line YAML error
        (".yaml", "base: xenserver-8\nguest_max_evtchn_port: 4294967296\n", "field guest_max_evtchn_port"),
    ],
)
def test_profile_files_get_one_line(tmp_path: Path, suffix: str, text: str, match: str) -> None:
    p = tmp_path / f"prof{suffix}"
    p.write_text(text)
    with pytest.raises(SpecError) as e:
        get_profile(str(p))
    assert "\n" not in e.value.message and match in e.value.message, e.value.message


def test_hardware_bounds(tmp_path: Path) -> None:
    p = tmp_path / "hw.yaml"
    doc = {"name": "h", "host_pcpus": 8, "host_memory_mib": 2**64, "dom0_vcpus": 2, "dom0_memory_mib": 1024}
    p.write_text(json.dumps(doc))
    with pytest.raises(
        SpecError, match="field host_memory_mib: Input should be less than or equal to 16777216"
    ):
        get_hardware(str(p))


def test_a_dump_number_past_the_digit_limit_is_a_bad_line_not_a_crash() -> None:
    # fuzz (dumps): an 'e' dump port line whose port has 4301 digits went into int() and raised ValueError
    line = f"(XEN)    {HUGE}: s=5 n=0 x=0 v=0\n(XEN)       2: s=5 n=0 x=0 v=1\n".encode()
    dump = parse_text(b"(XEN) Event channel information for domain 0:\n" + line, name="d")
    assert dump.bad or dump.tables


@pytest.mark.parametrize("opt", ["-p", "--hardware", "--vm"])
def test_a_file_name_the_os_refuses_is_a_usage_error(opt: str) -> None:
    # fuzz (cli args): `plan -p <300 characters>` raised OSError ENAMETOOLONG out of Path.exists()
    r = CliRunner().invoke(main, ["plan", opt, "x" * 300])
    assert r.exit_code == 2 and not isinstance(r.exception, OSError)
    assert len((r.stderr or r.output).strip().splitlines()) == 1


def test_cli_spec_error_is_one_line_and_exit_2(tmp_path: Path) -> None:
    p = tmp_path / "web.yaml"
    p.write_text(f"name: web\nmemory_mib: {HUGE}\n")
    r = CliRunner().invoke(main, ["vm-local", str(p)])
    assert r.exit_code == 2, r.output
    out = (r.stderr or r.output).strip()
    assert len(out.splitlines()) == 1 and f"{p}:2: a number with 4301 digits" in out


def test_user_text_with_a_newline_stays_on_one_line() -> None:
    # fuzz (cli args): `plan -p 'xenserv[[…1]]\n'` echoed the newline and split the error in two
    r = CliRunner().invoke(main, ["plan", "-pxenserv[[1]]\n"])
    assert r.exit_code == 2
    out = r.stderr or r.output
    assert out.count("\n") == 1 and "xenserv[[1]]\\n: no such profile" in out


def test_vbd_autodetect_on_a_full_vm_is_xapis_invalid_device(tmp_path: Path) -> None:
    # issue 15: VBD.create with userdevice autodetect on a VM with 255 VBDs answered INTERNAL_ERROR
    # ['StopIteration: ']; xapi answers INVALID_DEVICE [autodetect] (xen-api: ocaml/xapi/xapi_vbd.ml)
    from evtchn.api.app import build_dispatcher
    from evtchn.api.errors import ApiFailure
    from evtchn.api.sessions import Credentials
    from evtchn.store import create_store
    from evtchn.toolstack import Host
    from evtchn.toolstack.spec import DiskSpec, VmSpec

    host = Host.create("xenserver-8")
    host.define_vm(VmSpec(name="full", type="pv", disks=[DiskSpec(userdevice=i) for i in range(255)]))
    d = build_dispatcher(create_store(host, tmp_path / "h.db"), Credentials.insecure())
    s = d.call("session.login_with_password", ["root", "x"])
    (vm,) = d.call("VM.get_by_name_label", [s, "full"])
    with pytest.raises(ApiFailure) as e:
        d.call("VBD.create", [s, {"VM": vm, "userdevice": "autodetect", "mode": "RW", "type": "Disk"}])
    assert e.value.description == ["INVALID_DEVICE", "autodetect"]


def test_an_xl_value_python_warns_about_is_still_one_line(tmp_path: Path) -> None:
    # fuzz (spec xl.cfg): `memory = 1in` printed "<unknown>:1: SyntaxWarning: invalid decimal literal"
    # from ast.literal_eval before the one-line error
    import warnings

    p = tmp_path / "a.cfg"
    p.write_text('name = "a"\nmemory = 1in\n')
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        _one_line_error(p, ":2: cannot read the value of memory: '1in'")
    assert [str(w.message) for w in seen] == []


def test_a_spec_path_with_a_nul_byte_is_one_line() -> None:
    # fuzz (cli args): `vm-local '>\x00--coun'` raised ValueError: embedded null byte from open()
    r = CliRunner().invoke(main, ["vm-local", "a\x00b.yaml"])
    assert r.exit_code == 2 and not isinstance(r.exception, ValueError)
    out = r.stderr or r.output
    assert out == "evtchn: a\\x00b.yaml: cannot read spec: the file name holds a NUL byte\n"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        # fuzz (profile): a JSON key with a newline split the field error in two
        (
            '{"base": "xenserver-8", "hvm_guest_kernel": {"blkfro\\nt_max_queues": 2}}',
            "blkfro\\nt_max_queues",
        ),
        # fuzz (profile): a lone "\ud800" escape raised UnicodeEncodeError inside validation
        (
            '{"base": "xenserver-8", "store_failure": {"message": "x", "xenapi_code": "INTERNAL_ERROR", '
            '"xenapi_params": ["{messag\\ud800e}"]}}',
            "a string holds an unpaired surrogate",
        ),
    ],
)
def test_profile_text_fields_stay_one_line(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "prof.json"
    p.write_text(text)
    with pytest.raises(SpecError) as e:
        get_profile(str(p))
    assert "\n" not in e.value.message and match in e.value.message, e.value.message


def test_analyze_a_path_with_a_nul_byte_is_one_line() -> None:
    # fuzz (cli args): `analyze '\x00'` raised ValueError: embedded null byte
    r = CliRunner().invoke(main, ["analyze", "\x00"])
    assert r.exit_code == 2 and not isinstance(r.exception, ValueError)
    assert (r.stderr or r.output).count("\n") == 1


def test_yaml_the_c_loader_accepts_but_the_python_one_refuses(tmp_path: Path) -> None:
    # fuzz (spec yaml, seed 2026): b"e:\t" parses with the C loader to {"e": None}; finding the line of the
    # validation error re-read it with the pure-Python composer, whose ScannerError escaped the loader
    p = tmp_path / "tab.yaml"
    p.write_bytes(b"e:\t")
    with pytest.raises(SpecError) as e:
        read_spec(p)
    assert str(e.value).startswith(f"{p}: field ") and "\n" not in str(e.value)
