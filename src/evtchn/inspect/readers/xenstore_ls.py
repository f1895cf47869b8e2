"""Reader for `xenstore-ls` output, as a tree (one space per level) or with `-f` (full paths) (§7.2, §7.4).

    /local/domain/5/device/vbd/51712/event-channel = "9"        # xenstore-ls -f
      5 = ""                                                     # xenstore-ls /local/domain
       device = ""
        vbd = ""
         51712 = ""
          event-channel = "9"

Frontend trees give each device's event-channel keys (`event-channel`, split `event-channel-tx`/`-rx`,
multi-queue `queue-N/…`) and state; backend trees give the backend's state; error nodes
(`error/backend/<kind>/<domid>/<devid>/error`, `error/device/<kind>/<devid>/error`) say why a device did
not connect. Everything is attributed to the frontend domain and device (xen: xen/include/public/io/
blkif.h, netif.h; linux: drivers/xen/xenbus/xenbus_client.c). A subtree listed without -f is placed by
its first key: `local`/`tool` is the root, `domain` is /local, a number is /local/domain, anything else
is one domain's directory (its domid from a `domid` key, else unknown).
"""

from __future__ import annotations

import re

from evtchn.inspect.findings import XsDevice, XsDomain, XsTree
from evtchn.inspect.readers.base import Sink, Verdict, num

# key = "value", with xenstore-ls -p's permissions "  . . . (n0,r5)" allowed after the value.
_NODE = re.compile(r'^( *)([^ =][^=]*?) = "(.*?)"(?:\s+\.[ .]*\s*\([^)]*\))?$')
_ROOTS = {"tool": [], "local": [], "vm": [], "libxl": [], "vss": [], "xapi": [], "domain": ["local"]}


def _int(value: str) -> int | None:
    return num(value) if value.isdigit() else None


def line(sink: Sink, lineno: int, text: str) -> Verdict:
    if ' = "' not in text:
        return None
    m = _NODE.match(text)
    if m is None:
        return None
    indent, key, value = len(m[1]), m[2], m[3]
    if key.startswith("/"):
        parts = [p for p in key.split("/") if p]
    else:
        if indent == 0 or sink.xs_root is None:
            if sink.xs_root is None or indent == 0:
                sink.xs_root = _root_for(key, sink.xs_root)
            sink.xs_path = []
        del sink.xs_path[indent:]
        if len(sink.xs_path) < indent:
            return "xenstore-ls line indented deeper than its parent"
        sink.xs_path.append(key)
        parts = sink.xs_root + sink.xs_path
    tree = sink.xenstore()
    tree.lines += 1
    tree.seen.append((lineno, text))
    _record(tree, parts, value, lineno)
    return True


def _root_for(key: str, previous: list[str] | None) -> list[str]:
    if key in _ROOTS:
        return list(_ROOTS[key])
    if key.isdigit():
        return ["local", "domain"]
    if previous is not None and previous[:2] == ["local", "domain"] and len(previous) == 3:
        return previous  # more keys of the same domain's directory
    return ["local", "domain", "?"]


def _device(tree: XsTree, dom: int | None, kind: str, devid: str, lineno: int) -> XsDevice:
    key = (dom, kind, devid)
    dev = tree.devices.get(key)
    if dev is None:
        dev = tree.devices[key] = XsDevice(dom, kind, devid, lineno=lineno)
    return dev


def _record(tree: XsTree, parts: list[str], value: str, lineno: int) -> None:
    if len(parts) < 4 or parts[:2] != ["local", "domain"]:
        return
    dom = _int(parts[2])
    rest = parts[3:]
    head = rest[0]
    if dom is not None and (head in ("name", "store", "console") or head == "domid"):
        d = tree.domains.setdefault(dom, XsDomain(dom))
        if rest == ["name"]:
            d.name = value
        elif rest == ["store", "port"]:
            d.store_port = _int(value)
        elif rest == ["console", "port"]:
            d.console_port = _int(value)
        return
    if head == "device" and len(rest) >= 4:
        kind, devid, leaf = rest[1], rest[2], rest[3:]
        dev = _device(tree, dom, kind, devid, lineno)
        name = "/".join(leaf)
        if name == "state":
            dev.frontend_state = _int(value)
        elif name == "backend-id":
            dev.backend_domid = _int(value)
        elif name == "multi-queue-num-queues":
            dev.queues = _int(value)
        elif leaf[-1].startswith("event-channel") and _int(value) is not None:
            dev.ports[name] = num(value)
        return
    if head == "backend" and len(rest) >= 5:
        fdom, tail = _int(rest[2]), "/".join(rest[4:])
        dev = _device(tree, fdom, rest[1], rest[3], lineno)
        dev.backend_domid = dom
        if tail == "state":
            dev.backend_state = _int(value)
        elif tail in ("hotplug-error", "tapdisk-error") and value:
            dev.error = dev.error or value
        return
    if head == "error" and len(rest) >= 5 and rest[-1] == "error" and value:
        if rest[1] == "backend" and len(rest) >= 6:
            dev = _device(tree, _int(rest[3]), rest[2], rest[4], lineno)
            dev.backend_domid = dom
        elif rest[1] == "device":
            dev = _device(tree, dom, rest[2], rest[3], lineno)
        else:
            return
        dev.error = value
