"""Helpers for the SDK-driven tests of the larger object model."""

from __future__ import annotations

from typing import Any

import pytest
import XenAPI

from tests.api.harness import Endpoint

GIB = 1024**3


def login(ep: Endpoint, transport: str = "tcp") -> Any:
    s = ep.tcp_session() if transport == "tcp" else ep.unix_session()
    s.xenapi.login_with_password("root", "pw", "2.0", "evtchn-tests")
    return s.xenapi


def fails(call: Any, *args: Any) -> list[str]:
    with pytest.raises(XenAPI.Failure) as e:
        call(*args)
    return list(e.value.details)


def template(x: Any, prefix: str) -> str:
    recs = x.VM.get_all_records().items()
    (ref,) = [r for r, v in recs if v["is_a_template"] and v["name_label"].startswith(prefix)]
    return str(ref)


def pv_vm(x: Any, name: str, disks: int = 1, nics: int = 1) -> str:
    vm = x.VM.create({"name_label": name, "VCPUs_max": "1", "memory_static_max": str(256 * 1024**2),
                      "HVM_boot_policy": "", "PV_bootloader": "pygrub"})  # fmt: skip
    for i in range(disks):
        x.VBD.create({"VM": vm, "VDI": "OpaqueRef:NULL", "userdevice": str(i), "mode": "RW", "type": "Disk"})
    net = x.network.get_all()[0]
    for i in range(nics):
        x.VIF.create({"VM": vm, "network": net, "device": str(i), "MAC": "", "MTU": "1500"})
    return str(vm)
