"""`evtchn can-start SPEC --max` and `evtchn plan --host FILE`: how many more VMs fit on a persisted host.

    evtchn can-start web.yaml --max --host lab.db        # exit 0: at least one fits, 1: none (or a mismatch)
    evtchn plan --host lab.db --vm web.yaml:2 --vm db.toml --json

The answer (twin/headroom.py) is checked by starting the VMs on a copy of the host read from the file; the
file itself is only read. Exit 1 when the simulation disagrees with the analytic answer, as `plan --simulate`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from evtchn.cli.table import render

if TYPE_CHECKING:
    from evtchn.plan.limits import PlanSettings
    from evtchn.plan.mix import Mix
    from evtchn.plan.simulate import Simulation
    from evtchn.twin.headroom import Headroom

COLUMNS = [("limit", False), ("free now", True), ("per VM", True), ("VMs it allows", True)]


def report(host_path: str | None, mix: Mix, settings: PlanSettings, as_json: bool) -> int:
    """Print the answer for `mix` on the host file; return the exit code (0: at least one more fits)."""
    from evtchn.cli.hostfile import errors
    from evtchn.store import open_store
    from evtchn.twin.headroom import headroom, verify

    with errors():
        store = open_store(host_path)
        host = store.read()
    room = headroom(host, mix, settings)
    sim = verify(host, mix, settings)
    agree = sim.ok_vms == room.max_vms
    running = sum(1 for vm in host.vms.values() if vm.domid is not None)
    if as_json:
        doc = {"host_file": str(store.path), "running_vms": running, **room.to_json()}
        from evtchn.cli.plan import sim_json  # the same record `plan --simulate --json` prints

        doc["simulated"] = sim_json(sim)
        doc["simulated_equals_analytic"] = agree
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(text(str(store.path), running, room, sim), nl=False)
    if not agree:
        return 1
    return 0 if room.max_vms > 0 else 1


def text(path: str, running: int, room: Headroom, sim: Simulation) -> str:
    what = " + ".join(room.labels)
    titles = ", ".join(room.limit(k).title for k in room.binding)
    head = (
        f"{path} ({room.profile}, {running} VMs running): {room.max_vms} more VMs of {what} fit with every "
        f"device connected; VM {room.max_vms + 1} ({room.next_label}) meets {titles}\n"
    )
    rows = []
    for lim in room.limits:
        per = " / ".join(str(u) for u in lim.per_vm)
        if lim.key == "guest_evtchn":
            free, per = f"{lim.free} spare per VM", "—"
        else:
            free = f"{lim.free} {lim.unit}"
        mark = "binding: " if lim.key in room.binding else ""
        rows.append([mark + lim.title, free, per, "∞" if lim.fit is None else str(lim.fit)])
    out = head + render("Limits on this host now", COLUMNS, rows)
    f = sim.failure
    if f is None:
        out += (
            f"simulated on a copy of the host: {sim.ok_vms} VMs started, no failure within the step limit\n"
        )
    else:
        out += (
            f"simulated on a copy of the host: {sim.ok_vms} more VMs started fully; "
            f"VM {f.index + 1} ({f.vm}) {f.outcome} ({TITLE_OF.get(f.limit, f.limit)}): "
            f"{f.messages[0] if f.messages else ''}\n"
        )
    same = "=" if sim.ok_vms == room.max_vms else "≠"
    return out + f"analytic {room.max_vms} {same} simulated {sim.ok_vms}\n"


TITLE_OF = {
    "host_memory": "host memory",
    "domids": "domain ids",
    "dom0_evtchn": "dom0 event channels",
    "consoled_fds": "xenconsoled file descriptors",
    "guest_evtchn": "guest's own event channels",
}
