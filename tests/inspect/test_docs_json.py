"""The shipped sample dumps analyse cleanly, and docs/analyze-json.md documents every key --json prints."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from evtchn.cli import main as evtchn_main

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = [
    "lsevtchn-0-full.txt",
    "lsevtchn-0-pasted.txt",
    "xenstore-ls.txt",
    "kern.log",
    "guest-interrupts.txt",
]


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_dumps_analyse_with_nothing_unrecognised(name: str) -> None:
    res = CliRunner().invoke(evtchn_main, ["analyze", str(ROOT / "examples" / "dumps" / name), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["unrecognised"] == [] and doc["inputs"]["kinds"]


def test_every_json_key_is_documented() -> None:
    args = ["analyze", "--json", *(str(ROOT / "examples" / "dumps" / n) for n in SAMPLES)]
    doc = json.loads(CliRunner().invoke(evtchn_main, args).stdout)
    text = (ROOT / "docs" / "analyze-json.md").read_text()
    documented = set(re.findall(r"`([a-z_0-9]+)`", text))
    keys = set(doc) | set(doc["inputs"]) | set(doc["dom0"]) | set(doc["tables"][0]) | set(doc["messages"][0])
    keys |= (
        set(doc["xenstore"]["devices"][0]) | set(doc["xenstore"]["domains"][0]) | set(doc["short_domains"][0])
    )
    keys |= set(next(iter(doc["headroom_by_abi"].values())))
    assert keys - documented == set()
