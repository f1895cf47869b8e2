"""The dashboard over HTTP without a browser: login, what the page says, actions, the event stream."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from click.testing import CliRunner

from evtchn.cli import main as cli_main
from evtchn.toolstack.spec import DiskSpec, VmSpec
from tests.api.hostkit import fill_dom0
from tests.ui.conftest import Browserless, Served

ROOT = Path(__file__).resolve().parents[2]
DUMPS = ROOT / "examples" / "dumps"
CLI = [sys.executable, "-c", "import sys; from evtchn.cli import main; sys.exit(main())"]


def _define(served: Served, name: str, disks: int = 1, start: bool = False) -> None:
    with served.store.transaction() as host:
        disk_specs = [DiskSpec(userdevice=i) for i in range(disks)]
        host.define_vm(VmSpec(name=name, type="pv", memory_mib=64, disks=disk_specs))
        if start:
            host.start_vm(name)


def _vm_ref(served: Served, name: str) -> str:
    return next(v.ref for v in served.store.vms() if v.name == name)


def test_nothing_is_open_without_a_login(client: Browserless) -> None:
    r = client.request("GET", "/ui")
    assert (r.status, r.headers["location"]) == (303, "/ui/login")
    closed = [("GET", "/ui/panels"), ("GET", "/ui/events"), ("POST", "/ui/action"), ("POST", "/ui/analyze")]
    for verb, path in closed:
        assert client.request(verb, path, {} if verb == "POST" else None).status == 401, path
    client.cookie = "evtchn_session=OpaqueRef:made-up"
    assert client.request("GET", "/ui/panels").status == 401
    page = client.request("GET", "/ui/login")
    assert page.status == 200 and 'type="password"' in page.text


def test_a_wrong_password_is_refused_with_xenapis_error(client: Browserless) -> None:
    r = client.login("wrong")
    assert r.status == 401 and "SESSION_AUTHENTICATION_FAILED" in r.text
    assert not client.cookie
    assert client.request("GET", "/ui").status == 303


def test_login_sets_an_httponly_session_cookie_and_shows_dom0(client: Browserless, served: Served) -> None:
    r = client.login()
    assert r.status == 303 and r.headers["location"] == "/ui"
    assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=Strict" in r.headers["set-cookie"]
    host = served.store.read()
    page = client.request("GET", "/ui").text
    assert f'<strong id="dom0-used">{host.dom0_ports_used()}</strong>' in page
    assert f'<strong id="dom0-usable">{host.dom0_ports_usable()}</strong>' in page
    assert '<strong id="abi">2-level</strong>' in page  # xenserver-6.1: 2-level, 32-bit dom0 (§12)
    assert "default-src 'self'" in client.request("GET", "/ui").headers["content-security-policy"]
    assert "AT THE LIMIT" not in page


def test_logout_ends_the_xenapi_session(client: Browserless) -> None:
    client.login()
    token = client.csrf()
    assert client.request("POST", "/ui/logout", {"csrf": token}).status == 303
    client.cookie = client.cookie or ""
    assert client.request("GET", "/ui/panels").status == 401


def test_actions_need_the_csrf_token_and_answer_like_xenapi(client: Browserless, served: Served) -> None:
    _define(served, "web01", disks=2)
    client.login()
    ref = _vm_ref(served, "web01")
    assert client.request("POST", "/ui/action", {"op": "start", "vm": ref}).status == 403
    token = {"X-CSRF-Token": client.csrf()}
    r = client.request("POST", "/ui/action", {"op": "start", "vm": ref}, token)
    assert r.status == 200 and '"ok": true' in r.text
    assert next(v for v in served.store.vms() if v.name == "web01").power_state == "Running"
    again = client.request("POST", "/ui/action", {"op": "start", "vm": ref}, token)
    assert '"ok": false' in again.text and "VM_BAD_POWER_STATE" in again.text
    bad = client.request("POST", "/ui/action", {"op": "explode", "vm": ref}, token)
    assert bad.status == 400 and "unknown action" in bad.text
    panels = client.request("GET", "/ui/panels").text
    row = panels[panels.index('data-vm="web01"') :]
    assert "Running" in row[:400]


def test_a_device_that_failed_shows_its_error_28_highlighted(client: Browserless, served: Served) -> None:
    fill_dom0(served.store, leave=3)  # a PV VM with 3 disks needs store + console + 3 > 3
    _define(served, "late", disks=3, start=True)
    client.login()
    page = client.request("GET", "/ui").text
    row = page[page.index('data-vm="late"') :]
    row = row[: row.index("</tr>")]
    assert "has-failed" in page[page.index('data-vm="late"') - 60 : page.index('data-vm="late"') + 40]
    assert re.search(r'<mark class="err">error 28 [^<]+</mark>', row), row
    assert '<span class="badge full" id="at-limit">AT THE LIMIT</span>' in page


def test_unplug_from_the_page_goes_through_the_toolstack(client: Browserless, served: Served) -> None:
    _define(served, "web01", disks=2, start=True)
    client.login()
    token = {"X-CSRF-Token": client.csrf()}
    dev = next(d for d in served.store.devices() if d.kind == "vbd")
    before = served.store.read().dom0_ports_used()
    r = client.request("POST", "/ui/action", {"op": "unplug", "vm": dev.vm_ref, "device": dev.ref}, token)
    assert '"ok": true' in r.text, r.text
    assert served.store.read().dom0_ports_used() == before - 1
    r = client.request("POST", "/ui/action", {"op": "unplug", "vm": dev.vm_ref, "device": dev.ref}, token)
    assert "DEVICE_ALREADY_DETACHED" in r.text


def _event(client: Browserless, last: str | None) -> str:
    return client.request("GET", "/ui/events", headers={"Last-Event-ID": last} if last else None).text


def test_the_event_stream_reports_another_processs_change_within_a_second(
    client: Browserless, served: Served
) -> None:
    _define(served, "other")
    client.login()
    hello = _event(client, None)
    assert "event: hello" in hello
    last = re.search(r"^id: (\S+)$", hello, re.M)
    assert last
    env = {**os.environ, "EVTCHN_HOST": str(served.path)}
    box: dict[str, float] = {}

    def start_elsewhere() -> None:
        time.sleep(0.3)
        subprocess.run([*CLI, "vm", "start", "other"], env=env, check=True, capture_output=True, timeout=60)
        box["committed"] = time.monotonic()

    t = threading.Thread(target=start_elsewhere)
    t.start()
    answer = _event(client, last.group(1))
    seen = time.monotonic()
    t.join()
    assert "event: change" in answer and "vm:mod" in answer, answer
    assert seen - box["committed"] < 1.0
    assert "Running" in client.request("GET", "/ui/panels").text


def test_the_event_stream_answers_a_quiet_host_with_the_same_id(served: Served) -> None:
    from evtchn.api.app import build_dispatcher
    from evtchn.api.sessions import Credentials
    from evtchn.ui import routes
    from evtchn.ui.app import attach, find

    d = build_dispatcher(served.store, Credentials(password="pw"), extensions=[attach])
    ui = find(d)
    assert ui is not None
    ref = d.call("session.login_with_password", ["root", "pw", "1.0", "t"])
    last = re.search(r"^id: (\S+)$", routes.events(ui, ref, None).decode(), re.M)
    assert last
    t0 = time.monotonic()
    quiet = routes.events(ui, ref, last.group(1), wait=0.3)
    assert quiet.decode() == f"retry: {routes.RETRY_MS}\nid: {last.group(1)}\n\n"
    assert 0.3 <= time.monotonic() - t0 < 2.0


def _cli_analyze(path: Path, *extra: str) -> str:
    r = CliRunner().invoke(cli_main, ["analyze", str(path), *extra])
    assert r.exit_code == 0, r.output
    return r.output


def _report(page: str) -> str:
    m = re.search(r'<pre id="report" tabindex="0">(.*?)</pre>', page, re.S)
    assert m, page[-800:]
    return html.unescape(m.group(1))


def test_a_pasted_dump_gets_the_clis_answer_and_its_honesty_about_the_abi(client: Browserless) -> None:
    client.login()
    token = client.csrf()
    src = DUMPS / "lsevtchn-0-pasted.txt"
    r = client.request("POST", "/ui/analyze", {"csrf": token, "dump": src.read_text(), "abi": ""})
    assert r.status == 200
    assert _report(r.text) == _cli_analyze(src)
    assert '<strong class="warn-text">unknown</strong>' in r.text and "2l-32, 2l-64, fifo" in r.text
    chosen = client.request("POST", "/ui/analyze", {"csrf": token, "dump": src.read_text(), "abi": "2l-64"})
    assert _report(chosen.text) == _cli_analyze(src, "--abi", "2l-64")
    assert "<strong>2l-64</strong> (given)" in chosen.text


def test_every_example_dump_kind_is_read_as_the_cli_reads_it(client: Browserless) -> None:
    client.login()
    token = client.csrf()
    for src in sorted(DUMPS.glob("*.txt")) + sorted(DUMPS.glob("*.log")):
        r = client.request("POST", "/ui/analyze", {"csrf": token, "dump": src.read_text(), "abi": ""})
        assert r.status == 200, src
        assert _report(r.text) == _cli_analyze(src).replace(str(src), "<pasted>"), src.name


def test_an_empty_paste_is_a_one_line_error(client: Browserless) -> None:
    client.login()
    r = client.request("POST", "/ui/analyze", {"csrf": client.csrf(), "dump": "  ", "abi": ""})
    assert r.status == 400 and 'role="alert">nothing pasted' in r.text


def test_static_files_come_from_the_package_and_nothing_else(client: Browserless) -> None:
    assert client.request("GET", "/ui/static/ui.js").status == 200
    assert client.request("GET", "/ui/static/ui.css").headers["content-type"].startswith("text/css")
    assert client.request("GET", "/ui/static/../app.py").status == 404
    assert client.request("PUT", "/ui").status == 405


def test_serve_says_where_the_dashboard_is_and_it_asks_for_a_login(served: Served, tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    args = [*CLI, "serve", "--host", str(served.path), "--port", "0", "--password-file", str(pw)]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        lines = [proc.stderr.readline().strip() for _ in range(2)]
        m = re.search(r"^evtchn serve: dashboard at (http://\S+/)ui$", lines[1])
        assert m, lines
        c = Browserless(m.group(1))
        assert c.request("GET", "/ui").headers["location"] == "/ui/login"
        assert c.login("wrong").status == 401
        assert c.login("s3cret").status == 303 and c.request("GET", "/ui").status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_browsers_crlf_form_encoding_is_not_reported_as_the_dumps(client: Browserless) -> None:
    client.login()
    src = DUMPS / "lsevtchn-0-full.txt"
    crlf = src.read_text().replace("\n", "\r\n")  # what a browser submits for a textarea
    r = client.request("POST", "/ui/analyze", {"csrf": client.csrf(), "dump": crlf, "abi": ""})
    assert _report(r.text) == _cli_analyze(src).replace(str(src), "<pasted>")
    assert "CR line endings" not in r.text


def test_every_field_has_a_label_and_every_button_a_name(client: Browserless, served: Served) -> None:
    _define(served, "web01", disks=1, start=True)
    pages = [client.request("GET", "/ui/login").text]
    client.login()
    pages += [client.request("GET", "/ui").text, client.request("GET", "/ui/analyze").text]
    for page in pages:
        assert '<html lang="en">' in page and 'name="viewport"' in page
        labels = set(re.findall(r'<label for="([^"]+)"', page))
        for tag in re.findall(r"<(?:input|textarea|select)\b[^>]*>", page):
            if 'type="hidden"' in tag:
                continue
            m = re.search(r'id="([^"]+)"', tag)
            assert m and m.group(1) in labels, tag
        for attrs, text in re.findall(r"<button\b([^>]*)>([^<]*)</button>", page):
            assert text.strip() or "aria-label=" in attrs, attrs


def test_headroom_for_a_chosen_shape_and_a_bad_field_named(client: Browserless, served: Served) -> None:
    from evtchn.toolstack import costs
    from evtchn.toolstack.spec import NicSpec

    client.login()
    page = client.request("GET", "/ui/panels?type=pv&vcpus=2&disks=3&nics=1").text
    host = served.store.read()
    spec = VmSpec(name="x", type="pv", vcpus=2, disks=[DiskSpec(userdevice=i) for i in range(3)],
                  nics=[NicSpec(devid=0)])  # fmt: skip
    cost = costs.vm_cost(host.profile, host.hardware, spec).total
    more = host.dom0_ports_free() // cost
    said = f"<strong>{more}</strong> more VMs of this shape (pv, 2 vCPUs, 3 disks, 1 NIC) fit now ({cost} "
    assert said in page
    bad = client.request("GET", "/ui/panels?type=pv&vcpus=two&disks=3&nics=1").text
    assert "vcpus: &#39;two&#39; is not a whole number from 1 to 64" in bad and "chosen-headroom" not in bad
    assert "type: &#39;arm&#39; is not one of" in client.request("GET", "/ui/panels?type=arm").text
    too_many = client.request("GET", "/ui?nics=17").text
    assert "nics: &#39;17&#39; is not a whole number from 0 to 16" in too_many
