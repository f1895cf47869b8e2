"""Fuzz surfaces over calls: hypercall arguments, XML-RPC and JSON-RPC requests to the XenAPI endpoint."""

from __future__ import annotations

import json
import os
import random
import re
import xmlrpc.client
from functools import cache
from typing import Any

from evtchn.api.app import build_dispatcher
from evtchn.api.dispatch import Dispatcher
from evtchn.api.request import XapiHandler
from evtchn.api.server import Limits
from evtchn.api.sessions import Client, Credentials
from evtchn.xen import Hypervisor, XenError
from tests.fuzz.surface import Surface, Uncaught, workdir

# ---------------------------------------------------------------- hypercalls
_OPS: dict[str, int] = {
    "alloc_unbound": 3,
    "bind_interdomain": 3,
    "bind_virq": 3,
    "bind_ipi": 2,
    "bind_pirq": 3,
    "close": 2,
    "send": 2,
    "status": 3,
    "bind_vcpu": 3,
    "unmask": 2,
    "reset": 2,
    "init_control": 4,
    "expand_array": 2,
    "set_priority": 3,
    "create_domain": 1,
    "destroy_domain": 1,
    "kill_domain": 1,
    "pause": 1,
}
_INTS = [
    -1,
    0,
    1,
    2,
    3,
    5,
    7,
    15,
    16,
    23,
    24,
    63,
    1023,
    1024,
    4095,
    4096,
    32751,
    0x7FF0,
    0x7FF1,
    0x7FF4,
    0x7FFF,
    65535,
    131071,
    131072,
    2**31 - 1,
    2**31,
    2**32,
    2**63,
    2**64,
    -(2**63),
    10**30,
]


def _hv_generate(rnd: random.Random, seeds: list[bytes]) -> bytes:
    lines = []
    for _ in range(rnd.randrange(1, 40)):
        op = rnd.choice(list(_OPS))
        args = [
            str(rnd.choice(_INTS) if rnd.random() < 0.4 else rnd.randrange(0, 8)) for _ in range(_OPS[op])
        ]
        lines.append(" ".join([op, *args]))
    return "\n".join(lines).encode()


def _run_hypercalls(data: bytes) -> str:
    hv = Hypervisor()
    hv.create_domain(0, max_vcpus=4, privileged=True, nr_pirqs=64)
    hv.create_domain(1, max_vcpus=2, max_evtchn_port=1023, is_hvm=True)
    hv.create_domain(2, max_vcpus=1)
    clean = False
    for line in data.decode("utf-8", "replace").splitlines():
        words = line.split()
        if not words or words[0] not in _OPS:
            continue
        try:
            args = [int(w) for w in words[1 : 1 + _OPS[words[0]]]]
        except ValueError:
            continue
        if len(args) != _OPS[words[0]]:
            continue
        try:
            if words[0] == "create_domain":
                hv.create_domain(args[0])
            else:
                getattr(hv, words[0])(*args)
        except XenError:
            clean = True
        except ValueError:  # the domctls (create/destroy) refuse a taken or reserved domid this way
            if words[0] not in ("create_domain", "destroy_domain", "kill_domain", "pause"):
                raise
            clean = True
        hv.check_invariants()
    return "clean" if clean else "ok"


# ---------------------------------------------------------------- XenAPI
@cache
def _endpoint() -> tuple[type[XapiHandler], Dispatcher]:
    from evtchn.store import create_store
    from evtchn.toolstack import Host, seed_vm_spec

    host = Host.create("xenserver-8")
    for i in range(3):
        host.define_vm(seed_vm_spec(f"api{i}"))
    host.start_vm("api0")
    store = create_store(host, workdir() / f"api-host-{os.getpid()}.db")
    d = build_dispatcher(store, Credentials(user="root", password="pw"))
    handler = type("FuzzHandler", (XapiHandler,), {"dispatcher": d, "limits": Limits()})
    return handler, d


def _session() -> str:
    _, d = _endpoint()
    return d.sessions.login("root", "pw")


def _refs() -> list[str]:
    _, d = _endpoint()
    s = _session()
    try:
        return [*d.call("VM.get_all", [s]), *d.call("VBD.get_all", [s]), *d.call("VIF.get_all", [s])]
    except Exception:
        return []


def _value(rnd: random.Random, refs: list[str], depth: int = 0) -> Any:
    k = rnd.randrange(10 if depth < 4 else 6)
    if k == 0:
        return rnd.choice(refs) if refs else "OpaqueRef:NULL"
    if k == 1:
        return str(rnd.choice(_INTS))
    if k == 2:
        return rnd.choice(["", "true", "false", "OpaqueRef:NULL", "x" * 300, "a\u00e9\u4e2d", "Running"])
    if k == 3:
        return rnd.choice([True, False, 0, 1, -1, 2**31 - 1])
    if k == 4:
        return rnd.choice(["name_label", "memory_static_max", "VCPUs_max", "userdevice", "device", "MAC"])
    if k == 5:
        return rnd.random() * 1e6
    if k in (6, 7):
        return {
            rnd.choice(
                [
                    "name_label",
                    "VM",
                    "VDI",
                    "userdevice",
                    "mode",
                    "type",
                    "device",
                    "MAC",
                    "MTU",
                    "memory_static_max",
                    "VCPUs_max",
                    "VCPUs_at_startup",
                    "other_config",
                    "bootable",
                    "empty",
                    "unpluggable",
                    "network",
                    "qos_algorithm_params",
                ]
            ): _value(rnd, refs, depth + 1)
            for _ in range(rnd.randrange(6))
        }
    return [_value(rnd, refs, depth + 1) for _ in range(rnd.randrange(4))]


def _call(rnd: random.Random) -> tuple[str, list[Any]]:
    _, d = _endpoint()
    name = rnd.choice(sorted(d.methods)) if rnd.random() < 0.95 else rnd.choice(["VM.nope", "", "a.b.c"])
    m = d.methods.get(name)
    n = m.arity if m is not None and rnd.random() < 0.8 else rnd.randrange(5)
    refs = _refs()
    params = [_value(rnd, refs) for _ in range(n)]
    if m is not None and m.session and params and rnd.random() < 0.9:
        params[0] = _session()
    return name, params


def _http(path: str, body: bytes) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: fuzz\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    return head + body


def _xml_generate(rnd: random.Random, seeds: list[bytes]) -> bytes:
    name, params = _call(rnd)
    return _http("/", xmlrpc.client.dumps(tuple(params), name, allow_none=False).encode())


def _json_generate(rnd: random.Random, seeds: list[bytes]) -> bytes:
    name, params = _call(rnd)
    req: dict[str, Any] = {"method": name, "params": params, "id": rnd.randrange(100)}
    if rnd.random() < 0.5:
        req["jsonrpc"] = "2.0"
    return _http("/jsonrpc", json.dumps(req).encode())


def _rpc_seeds(kind: str) -> list[bytes]:
    s = _session()
    refs = _refs() or ["OpaqueRef:NULL"]
    calls: list[tuple[str, tuple[Any, ...]]] = [
        ("session.login_with_password", ("root", "pw", "2.0", "fuzz")),
        ("VM.get_record", (s, refs[0])),
        ("VM.get_all_records", (s,)),
        ("VM.create", (s, {"name_label": "fz", "memory_static_max": "1073741824", "VCPUs_max": "2"})),
        ("VM.start", (s, refs[0], False, False)),
        ("VBD.create", (s, {"VM": refs[0], "userdevice": "autodetect", "mode": "RW", "type": "Disk"})),
    ]
    if kind == "xml":
        return [_http("/", xmlrpc.client.dumps(p, n).encode()) for n, p in calls]
    return [
        _http("/jsonrpc", json.dumps({"method": n, "params": list(p), "id": 1}).encode()) for n, p in calls
    ]


_STATUS = re.compile(rb"^HTTP/1\.[01] (\d{3}) ")


def _run_rpc(data: bytes) -> str:
    handler, _ = _endpoint()
    out, _keep = handler.answer(data, Client("fuzz"))
    m = _STATUS.match(out)
    if m is None:
        if not out:
            return "clean"  # an empty request line: the connection just closes
        if b"Error code: 400" in out or b"Error code: 414" in out or b"Error code: 505" in out:
            return "clean"  # http.server's own refusal of a malformed request line or version
        raise Uncaught(f"no HTTP status line: {out[:200]!r}")
    status = int(m.group(1))
    body = out.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in out else b""
    if b"internal error" in body:
        raise Uncaught(f"HTTP {status}: {body[:300]!r}")
    if status != 200:
        return "clean"
    if b"INTERNAL_ERROR" in body:
        raise Uncaught(f"INTERNAL_ERROR answer: {body[:400]!r}")
    if body.lstrip().startswith(b"<?xml"):
        try:
            envelope: Any = xmlrpc.client.loads(body)[0][0]
        except Exception as e:
            raise Uncaught(f"answer is not XML-RPC: {e}: {body[:200]!r}") from e
        return "ok" if envelope.get("Status") == "Success" else "clean"
    reply = json.loads(body)
    return "ok" if reply.get("error") in (None, "") else "clean"


def call_surfaces() -> list[Surface]:
    return [
        Surface(
            "hypercalls",
            lambda: [_hv_generate(random.Random(i), []) for i in range(8)],
            _run_hypercalls,
            _hv_generate,
        ),
        Surface("xml-rpc", lambda: _rpc_seeds("xml"), _run_rpc, _xml_generate),
        Surface("json-rpc", lambda: _rpc_seeds("json"), _run_rpc, _json_generate),
    ]
