"""The dashboard in a real browser: log in with the keyboard, watch a VM started by another process appear,
exhaust dom0 and see the gauge at the limit and the failed devices, act from the page, analyse a pasted dump.

Skips (with the reason) only when this machine has no chromium; `.ci/run` installs it for CI. Set
EVTCHN_UI_SHOTS=DIR to also save screenshots of the main views there (docs/img/ holds the committed ones).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from evtchn.cli import main as cli_main
from tests.ui.browser import chromium, why_not
from tests.ui.conftest import PASSWORD, Served

pytestmark = pytest.mark.skipif(why_not() is not None, reason=str(why_not()))

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "import sys; from evtchn.cli import main; sys.exit(main())"]
LIVE_WITHIN_MS = 1000.0  # issue 13: a change by any client appears within a second, without a reload
# the test allows a loaded CI machine this many times the target (bench/bench_ui.py measures the real figure)
SLACK = float(os.environ.get("EVTCHN_UI_SLACK", "3"))


def _cli(served: Served, *args: str) -> float:
    """Run `evtchn ARGS` in another process on the served host file; when its commit was done."""
    env = {**os.environ, "EVTCHN_HOST": str(served.path)}
    r = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return time.monotonic()


def _fill_elsewhere(served: Served, leave: int) -> None:
    """Another process takes dom0's ports until `leave` are free (filler VMs, as a busy host does)."""
    code = (
        "import sys; from evtchn.store import open_store; from tests.api.hostkit import fill_dom0; "
        "fill_dom0(open_store(sys.argv[1]), int(sys.argv[2]))"
    )
    args = [sys.executable, "-c", code, str(served.path), str(leave)]
    subprocess.run(args, cwd=ROOT, check=True, timeout=120)


def _shot(page: Any, name: str) -> None:
    where = os.environ.get("EVTCHN_UI_SHOTS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(where) / f"{name}.png"), full_page=True)


def _appears_within(page: Any, selector: str, text: str, since: float, timeout_ms: float) -> float:
    page.locator(selector).filter(has_text=text).first.wait_for(timeout=timeout_ms)
    return 1000.0 * (time.monotonic() - since)


def test_the_dashboard_live_in_chromium(served: Served, tmp_path: Path) -> None:
    spec = tmp_path / "web01.yaml"
    spec.write_text("name: web01\ntype: pv\nmemory_mib: 64\ndisks: [{userdevice: 0}, {userdevice: 1}]\n"
                    "nics: [{devid: 0}]\n")  # fmt: skip
    _cli(served, "vm", "create", str(spec))
    with chromium(tmp_path / "profile", viewport={"width": 1280, "height": 800}) as ctx:
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(served.url + "ui")
        assert page.url.endswith("/ui/login")
        page.focus("#user")  # the whole login by keyboard
        page.keyboard.press("Control+A")
        page.keyboard.type("root")
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url("**/ui")
        page.locator("#status").filter(has_text="watching").wait_for(timeout=SLACK * 5000)
        host = served.store.read()
        assert page.text_content("#dom0-used") == str(host.dom0_ports_used())
        assert page.text_content("#abi") == "2-level"

        # a VM started by another process appears without a reload
        row = 'tr[data-vm="web01"]'
        assert "Halted" in (page.text_content(row) or "")
        committed = _cli(served, "vm", "start", "web01")
        ms = _appears_within(page, row, "Running", committed, SLACK * LIVE_WITHIN_MS)
        assert ms < SLACK * LIVE_WITHIN_MS
        assert page.text_content("#dom0-used") == str(served.store.read().dom0_ports_used())
        # headroom for a chosen shape, kept across live refreshes (the query string stays)
        page.select_option("#shape-type", "pv")
        page.fill("#shape-vcpus", "1")
        page.fill("#shape-disks", "2")
        page.fill("#shape-nics", "0")
        page.click("button:has-text('How many fit?')")
        page.locator("#chosen-headroom").wait_for(timeout=SLACK * 5000)
        chosen = page.text_content("#chosen-headroom") or ""
        assert "more VMs of this shape (pv, 1 vCPU, 2 disks, 0 NICs)" in chosen
        page.locator("#status").filter(has_text="watching").wait_for(timeout=SLACK * 5000)
        _shot(page, "ui-dashboard")

        # dom0 exhausted by another process: the gauge at the limit, the late VM's devices failed
        _fill_elsewhere(served, leave=3)
        late = tmp_path / "late.yaml"
        late.write_text("name: late\ntype: pv\nmemory_mib: 64\ndisks: [{userdevice: 0}, {userdevice: 1}, "
                        "{userdevice: 2}]\n")  # fmt: skip
        _cli(served, "vm", "create", str(late))
        _cli(served, "vm", "start", "late")
        page.locator("#at-limit").wait_for(timeout=SLACK * 2000)
        assert page.text_content("#dom0-free") == "0"
        marks = page.locator('tr[data-vm="late"] mark.err')
        assert marks.count() >= 1 and "error 28" in (marks.first.text_content() or "")
        assert page.locator("svg.gauge.full").count() == 1
        assert (page.text_content("#chosen-headroom") or "").startswith("0 more VMs")  # refreshed, same shape
        _shot(page, "ui-exhausted")

        # an action from the page fails as XenAPI fails: web01 cannot come back while dom0 is full
        page.click('button[aria-label="shut down web01"]')
        page.locator('tr[data-vm="web01"]').filter(has_text="Halted").wait_for(timeout=SLACK * 5000)
        page.locator(row).locator("td.state").filter(has_text="Halted").wait_for(timeout=SLACK * 2000)
        _fill_elsewhere(served, leave=0)
        page.locator("#dom0-free").filter(has_text="0").wait_for(timeout=SLACK * 2000)
        page.click('button[aria-label="start web01"]')
        status = page.locator("#status.bad")
        status.wait_for(timeout=SLACK * 5000)
        assert "start web01 failed" in (status.text_content() or "")

        # phone-sized: nothing wider than the screen
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        _shot(page, "ui-phone")
        page.set_viewport_size({"width": 1280, "height": 800})

        # the analysis view: a pasted dump, the same honesty about an unknown ABI
        page.click("text=Analyse a dump")
        page.fill("#dump", (ROOT / "examples" / "dumps" / "lsevtchn-0-pasted.txt").read_text())
        page.click("button:has-text('Analyse')")
        page.locator("#report").wait_for(timeout=SLACK * 5000)
        assert "unknown" in (page.text_content("#result-abi") or "")
        dump = ROOT / "examples" / "dumps" / "lsevtchn-0-pasted.txt"
        cli = CliRunner().invoke(cli_main, ["analyze", str(dump)])
        assert page.text_content("#report") == cli.output  # the CLI's answer, to the character
        _shot(page, "ui-analyze")
        assert errors == []
