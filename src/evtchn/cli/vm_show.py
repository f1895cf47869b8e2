"""`evtchn vm show VM`: one VM's record (the `--json` fields, docs/cli.md) and its text form.

    info = vm_record(host, key)      # plain dict: state, dom0 ports held by kind, devices, messages
    text = render_vm(info)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evtchn.cli.table import render

if TYPE_CHECKING:
    from evtchn.toolstack.host import Host

DEVICE_COLUMNS = [
    ("kind", False), ("devid", False), ("state", False), ("dom0 ports", False), ("guest ports", False),
]  # fmt: skip


def vm_record(host: Host, key: str) -> dict[str, Any]:
    vm = host.vm(key)
    held = host.vm_dom0_ports(key)
    devices = [
        {
            "kind": d.kind,
            "devid": d.devid,
            "state": d.state,
            "connected": d.connected,
            "error": d.error,
            "frontend_error": d.frontend_error,
            "queues": d.queues,
            "split": d.split,
            "dom0_ports": d.dom0_ports,
            "guest_ports": d.guest_ports,
        }
        for d in vm.devices
    ]
    return {
        "name": vm.name,
        "uuid": vm.uuid,
        "type": vm.spec.type,
        "power_state": vm.power_state,
        "domid": vm.domid,
        "vcpus": vm.spec.vcpus,
        "memory_mib": vm.spec.memory_mib,
        "dom0_ports": {kind: ports for kind, ports in held.items() if ports},
        "devices": devices,
        "messages": vm.messages,
        "last_error": vm.last_error,
    }


def render_vm(info: dict[str, Any]) -> str:
    domid = "-" if info["domid"] is None else str(info["domid"])
    held: dict[str, list[int]] = info["dom0_ports"]
    total = sum(len(p) for p in held.values())
    by_kind = ", ".join(f"{k} {len(p)}" for k, p in held.items())
    lines = [
        f"{info['name']} ({info['uuid']}): {info['type']}, {info['power_state']}, domid {domid}",
        f"  {info['vcpus']} vCPU(s), {info['memory_mib']} MiB",
        f"  dom0 ports held: {total}" + (f" ({by_kind})" if by_kind else ""),
    ]
    text = "\n".join(lines) + "\n"
    devices: list[dict[str, Any]] = info["devices"]
    if devices:
        rows = [
            [
                d["kind"], str(d["devid"]), d["state"], " ".join(map(str, d["dom0_ports"])) or "-",
                " ".join(map(str, d["guest_ports"])) or "-",
            ]
            for d in devices
        ]  # fmt: skip
        text += render("devices", DEVICE_COLUMNS, rows)
        for d in devices:  # one line each, never wrapped, so scripts can grep them
            if d["error"] or d["frontend_error"]:
                text += f"  {d['kind']} {d['devid']}: {d['error'] or d['frontend_error']}\n"
    if info["last_error"]:
        text += f"  last error: {info['last_error']}\n"
    for m in info["messages"]:
        text += f"  log: {m}\n"
    return text
