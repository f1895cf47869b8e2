"""The lsevtchn console script and `evtchn lsevtchn` / `evtchn debug-keys` against a persisted host."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from evtchn.cli import main as evtchn_main
from evtchn.cli.lsevtchn import main as lsevtchn_main
from evtchn.inspect import format_edump, format_lsevtchn
from evtchn.store import create_store
from evtchn.toolstack.host import Host


@pytest.fixture(scope="module")
def host_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Host]:
    path = tmp_path_factory.mktemp("inspect") / "host.db"
    host = Host.create("xenserver-6.2")
    create_store(host, path)
    return path, host


def test_console_script_matches_formatter(
    host_file: tuple[Path, Host], capsys: pytest.CaptureFixture[str]
) -> None:
    path, host = host_file
    rc = lsevtchn_main(["lsevtchn", "--host", str(path), "0"])
    out, err = capsys.readouterr()
    want = format_lsevtchn(host.hv, 0, tool_version=host.hv.settings.xen_version)
    assert (out, err, rc) == want
    assert rc == 0 and out.count("\n") == host.hv.domain(0).active_evtchns


def test_console_script_reads_env_and_ignores_extra_args(
    host_file: tuple[Path, Host], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = host_file
    monkeypatch.setenv("EVTCHN_HOST", str(path))
    assert lsevtchn_main(["lsevtchn", "zero", "more", "args"]) == 0
    by_env = capsys.readouterr().out
    assert lsevtchn_main(["lsevtchn", f"--host={path}"]) == 0
    assert capsys.readouterr().out == by_env != ""


def test_tool_version_env_changes_the_walk(
    host_file: tuple[Path, Host], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = host_file
    monkeypatch.setenv("EVTCHN_LSEVTCHN_VERSION", "4.20")
    assert lsevtchn_main(["lsevtchn", "--host", str(path), "99"]) == 1
    assert capsys.readouterr().err == "xc_evtchn_status: No such process\n"
    monkeypatch.setenv("EVTCHN_LSEVTCHN_VERSION", "4.19")
    assert lsevtchn_main(["lsevtchn", "--host", str(path), "99"]) == 0
    monkeypatch.setenv("EVTCHN_LSEVTCHN_VERSION", "four")
    assert lsevtchn_main(["lsevtchn", "--host", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "EVTCHN_LSEVTCHN_VERSION='four'" in err


def test_missing_host_file_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert lsevtchn_main(["lsevtchn", "--host", str(tmp_path / "none.db")]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "none.db" in err
    assert lsevtchn_main(["lsevtchn", "--host"]) == 2
    assert capsys.readouterr().err == "lsevtchn: --host needs a host file\n"


def test_lsevtchn_0_wc_l_from_a_shell(host_file: tuple[Path, Host]) -> None:
    """`lsevtchn 0 | wc -l` gives dom0's used ports, the number the seed tells admins to watch (§10)."""
    path, host = host_file
    exe = Path(sys.executable).with_name("lsevtchn")
    env = {**os.environ, "EVTCHN_HOST": str(path)}
    res = subprocess.run(f"{exe} 0 | wc -l", shell=True, env=env, capture_output=True, text=True, check=True)
    assert int(res.stdout) == host.hv.domain(0).active_evtchns


def test_evtchn_lsevtchn_subcommand(host_file: tuple[Path, Host]) -> None:
    path, host = host_file
    res = CliRunner().invoke(evtchn_main, ["lsevtchn", "--host", str(path), "0"])
    assert res.exit_code == 0
    assert res.stdout == format_lsevtchn(host.hv, 0, tool_version=host.hv.settings.xen_version).stdout


@pytest.mark.parametrize(
    ("args", "layout", "prefix"),
    [
        ([], "4.4", False),
        (["--layout", "4.1", "--prefix"], "4.1", True),
        (["--layout", "auto"], "4.1", False),  # the simulated Xen's own: xenserver-6.2 runs Xen 4.1
    ],
)
def test_debug_keys_e(host_file: tuple[Path, Host], args: list[str], layout: str, prefix: bool) -> None:
    path, host = host_file
    res = CliRunner().invoke(evtchn_main, ["debug-keys", "e", "--host", str(path), *args])
    assert res.exit_code == 0
    assert res.stdout == format_edump(host.hv, layout=layout, prefix=prefix)  # type: ignore[arg-type]


def test_debug_keys_rejects_other_keys(host_file: tuple[Path, Host]) -> None:
    res = CliRunner().invoke(evtchn_main, ["debug-keys", "q", "--host", str(host_file[0])])
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1 and "only 'e'" in res.stderr


def test_debug_keys_missing_host(tmp_path: Path) -> None:
    res = CliRunner().invoke(evtchn_main, ["debug-keys", "e", "--host", str(tmp_path / "x.db")])
    assert res.exit_code == 2 and res.stderr.startswith("evtchn: ") and res.stderr.count("\n") == 1
