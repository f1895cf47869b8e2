// evtchn dashboard: live updates over Server-Sent Events (fed by XenAPI's event.from), the page's actions,
// and the history of dom0 ports used since the page opened. No library; nothing fetched but this server.
(function () {
  "use strict";
  const meta = document.querySelector('meta[name="csrf"]');
  const csrf = meta ? meta.content : "";
  const status = document.getElementById("status");
  const panels = document.getElementById("panels");
  const history = [];

  // A failed action's message stays until the next action: live updates (each refresh, each reconnect)
  // must not wipe the error the person is reading (a refused start also logs a message, which is an event).
  let failed = false;
  function say(text, bad) {
    if (!status) return;
    status.textContent = text;
    status.classList.toggle("bad", !!bad);
  }
  function live(text) {
    if (!failed) say(text);
  }

  function sample() {
    const live = document.getElementById("live");
    if (!live) return;
    const used = Number(live.dataset.used), usable = Number(live.dataset.usable);
    history.push([Date.now(), used]);
    if (history.length > 2000) history.shift();
    const line = document.getElementById("history-line");
    if (!line) return;
    const t0 = history[0][0], t1 = Math.max(history[history.length - 1][0], t0 + 1);
    const y = (v) => (110 - 100 * Math.min(v, usable) / Math.max(usable, 1)).toFixed(1);
    const pts = history.map(([t, v]) => ((600 * (t - t0)) / (t1 - t0)).toFixed(1) + "," + y(v));
    if (pts.length === 1) pts.push("600," + y(used));  // one sample: a flat line, not an invisible point
    line.setAttribute("points", pts.join(" "));
    document.getElementById("history-limit").setAttribute("y1", y(usable));
    document.getElementById("history-limit").setAttribute("y2", y(usable));
    document.getElementById("history-count").textContent = String(history.length);
    document.getElementById("history-latest").textContent = String(used);
  }

  async function refresh() {
    const r = await fetch("/ui/panels" + window.location.search, { credentials: "same-origin", cache: "no-store" });
    if (r.status === 401) { window.location.assign("/ui/login"); return; }
    if (!r.ok) { say("Could not refresh: HTTP " + r.status, true); return; }
    const focused = document.activeElement && document.activeElement.getAttribute("aria-label");
    panels.innerHTML = await r.text();
    if (focused) {  // keep keyboard focus on the same control across a refresh
      const again = panels.querySelector('[aria-label="' + CSS.escape(focused) + '"]');
      if (again) again.focus();
    }
    sample();
  }

  if (panels) {
    sample();
    const es = new EventSource("/ui/events");
    es.addEventListener("hello", () => live("Live: watching the host"));
    es.addEventListener("change", (e) => {
      const d = JSON.parse(e.data);
      refresh().then(() => live("Live: updated at " + new Date().toLocaleTimeString() +
        (d.changes.length ? " (" + d.changes.join(", ") + ")" : " (host file changed)")));
    });
    es.addEventListener("lost", () => refresh());
    // each answer closes its connection by design (one change per answer) and the browser reconnects
    // after `retry`; only a stream the browser gave up on is worth saying
    es.onerror = () => { if (es.readyState === EventSource.CLOSED) say("Live: disconnected; reload the page", true); };

    panels.addEventListener("click", async (e) => {
      const b = e.target.closest("button[data-op]");
      if (!b) return;
      b.disabled = true;
      const from = b.dataset.argFrom ? document.getElementById(b.dataset.argFrom) : null;
      const body = new URLSearchParams({ op: b.dataset.op, vm: b.dataset.vm || "", device: b.dataset.device || "",
        arg: from ? from.value : "" });
      failed = false;
      say(b.getAttribute("aria-label") + "…");
      try {
        const r = await fetch("/ui/action", { method: "POST", body, credentials: "same-origin",
          headers: { "X-CSRF-Token": csrf } });
        const d = await r.json();
        if (d.ok) say(b.getAttribute("aria-label") + ": done");
        else { failed = true; say(b.getAttribute("aria-label") + " failed: " + d.error.join(" "), true); }
      } catch (err) {
        failed = true;
        say(b.getAttribute("aria-label") + " failed: " + err, true);
      }
      b.disabled = false;
      refresh();
    });
  }

  const file = document.getElementById("dump-file");
  if (file) {
    file.addEventListener("change", () => {
      const f = file.files && file.files[0];
      if (!f) return;
      f.text().then((t) => { document.getElementById("dump").value = t; });
    });
  }
})();
