"""Project habits a newcomer relies on: one version source, a typed package, the pre-commit hooks."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import yaml
from click.testing import CliRunner

import evtchn

ROOT = Path(__file__).resolve().parents[2]


def test_one_version_source() -> None:
    """`__version__` in src/evtchn/__init__.py is the only place the version is written."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "evtchn.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", evtchn.__version__)
    written = [
        p for p in (ROOT / "src").rglob("*.py")
        if re.search(r"^__version__\s*=\s*['\"]", p.read_text("utf-8"), re.M)
    ]
    assert written == [ROOT / "src" / "evtchn" / "__init__.py"]


def test_version_agrees_everywhere() -> None:
    from evtchn.cli import main

    assert importlib.metadata.version("evtchn") == evtchn.__version__
    out = CliRunner().invoke(main, ["--version"])
    assert out.exit_code == 0
    assert out.output == f"evtchn, version {evtchn.__version__}\n"


def test_wheel_is_typed_and_versioned(tmp_path: Path) -> None:
    """Build the wheel as pip would (setuptools' PEP 517 backend, in a child process as pip runs it)
    and look inside: py.typed, the dashboard's files and the compiled scanner ship, the version is ours."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    assert project["build-system"]["build-backend"] == "setuptools.build_meta"
    build = "import sys, setuptools.build_meta as b; print(b.build_wheel(sys.argv[1]))"
    out = subprocess.run(
        [sys.executable, "-c", build, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    wheel = tmp_path / out.stdout.strip().splitlines()[-1]
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = zf.read(meta).decode()
    assert "evtchn/py.typed" in names
    assert "evtchn/inspect/_cscan.pyi" in names
    assert any(re.fullmatch(r"evtchn/inspect/_cscan\.[^/]*\.so", n) for n in names), names
    ui = {"evtchn/ui/templates/base.html", "evtchn/ui/static/ui.css", "evtchn/ui/static/ui.js"}
    assert ui <= set(names)
    assert f"\nVersion: {evtchn.__version__}\n" in metadata
    assert wheel.name.startswith(f"evtchn-{evtchn.__version__}-")


def test_pre_commit_runs_ruff_and_mypy() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text("utf-8"))
    hooks = {h["id"]: h for repo in config["repos"] for h in repo["hooks"]}
    assert set(hooks) >= {"ruff", "mypy"}
    assert hooks["ruff"]["entry"].split()[:2] == [".venv/bin/ruff", "check"]
    assert hooks["mypy"]["entry"] == ".venv/bin/mypy" and hooks["mypy"]["pass_filenames"] is False
