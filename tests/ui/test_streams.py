"""Open dashboard pages and XenAPI share the server's 16 request workers (api/limits.py): however many
pages wait in /ui/events, at most routes.STREAMS_WAITING of them hold a worker; the others are answered
at once and asked back in BUSY_RETRY_MS, and a XenAPI client is still answered at once. A change still
reaches a page that was turned away, on its next look."""

from __future__ import annotations

import re
import threading
import time

import XenAPI

from evtchn.ui import routes
from tests.ui.conftest import PASSWORD, Browserless, Served

PAGES = 16  # as many as the server has workers: were each to hold one, XenAPI would wait STREAM_WAIT


def test_sixteen_open_pages_do_not_starve_xenapi(served: Served) -> None:
    page = Browserless(served.url)
    page.login()
    hello = page.request("GET", "/ui/events").text
    last = re.search(r"^id: (\S+)$", hello, re.M)
    assert last
    answers: list[tuple[float, str]] = []
    lock = threading.Lock()

    def stream() -> None:
        t0 = time.monotonic()
        got = page.request("GET", "/ui/events", headers={"Last-Event-ID": last.group(1)}, timeout=60).text
        with lock:
            answers.append((time.monotonic() - t0, got))

    threads = [threading.Thread(target=stream) for _ in range(PAGES)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # every page has asked and is waiting, or was turned away
    s = XenAPI.Session(served.url)
    t0 = time.monotonic()
    s.xenapi.login_with_password("root", PASSWORD, "2.0", "t")
    vms = s.xenapi.VM.get_all()
    took = time.monotonic() - t0
    with lock:
        early = list(answers)
    for t in threads:
        t.join(routes.STREAM_WAIT + 20)
    assert vms and took < 2.0, f"a XenAPI call waited {took:.1f} s behind {PAGES} open pages"
    # the ones turned away were answered at once, told to come back later; at most STREAMS_WAITING waited
    busy = [text for _, text in early if text.startswith(f"retry: {routes.BUSY_RETRY_MS}\n")]
    assert len(busy) >= PAGES - routes.STREAMS_WAITING
    assert len(answers) == PAGES


def test_a_page_turned_away_still_sees_a_change(served: Served) -> None:
    from evtchn.api.app import build_dispatcher
    from evtchn.api.sessions import Credentials
    from evtchn.ui.app import attach, find

    d = build_dispatcher(served.store, Credentials(password="pw"), extensions=[attach])
    ui = find(d)
    assert ui is not None
    ref = d.call("session.login_with_password", ["root", "pw", "1.0", "t"])
    last = re.search(r"^id: (\S+)$", routes.events(ui, ref, None).decode(), re.M)
    assert last
    taken = 0
    while ui.stream_slots.acquire(blocking=False):  # every waiting slot held by other pages
        taken += 1
    assert taken == routes.STREAMS_WAITING
    try:
        t0 = time.monotonic()
        quiet = routes.events(ui, ref, last.group(1), wait=5.0).decode()
        assert time.monotonic() - t0 < 2.0
        assert quiet == f"retry: {routes.BUSY_RETRY_MS}\nid: {last.group(1)}\n\n"
        with served.store.transaction() as host:  # another client's change
            host.plumbing.fault.bind_unbound()
        got = routes.events(ui, ref, last.group(1), wait=5.0).decode()
    finally:
        for _ in range(taken):
            ui.stream_slots.release()
    assert got.startswith(f"retry: {routes.BUSY_RETRY_MS}\n") and "event: change" in got
