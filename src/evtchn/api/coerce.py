"""XenAPI argument and value helpers: ints as decimal strings, bools, records, maps (reference §11)."""

from __future__ import annotations

import re
from typing import Any

from evtchn.api.errors import ApiFailure

NULL_REF = "OpaqueRef:NULL"
MIB = 1024 * 1024


def as_int(value: Any, field: str) -> int:
    """XenAPI ints arrive as decimal strings (or ints from lenient clients); they are 64-bit."""
    if isinstance(value, bool):
        raise ApiFailure("FIELD_TYPE_ERROR", field)
    try:
        n = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a <double> inf
        raise ApiFailure("FIELD_TYPE_ERROR", field) from None
    if not -(2**63) <= n < 2**63:
        raise ApiFailure("FIELD_TYPE_ERROR", field)
    return n


def as_bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ApiFailure("FIELD_TYPE_ERROR", field)


def as_str(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise ApiFailure("FIELD_TYPE_ERROR", field)
    return value


def as_record(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ApiFailure("FIELD_TYPE_ERROR", "record")
    return value


def as_str_map(value: Any, field: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ApiFailure("FIELD_TYPE_ERROR", field)
    return {str(k): v for k, v in value.items()}


def as_str_list(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiFailure("FIELD_TYPE_ERROR", field)
    return list(value)


def vbd_device_name(userdevice: int) -> str:
    """xvd<letter(s)> for a userdevice number, as xapi names Linux-style VBDs."""
    letters, n = "", userdevice
    while True:
        letters = chr(ord("a") + n % 26) + letters
        n = n // 26 - 1
        if n < 0:
            return "xvd" + letters


def stable_mac(vm_uuid: str, devid: int) -> str:
    """A stable locally administered MAC for a VIF created without one (xapi: random, then fixed)."""
    h = re.sub("[^0-9a-f]", "", vm_uuid)
    return "02:" + ":".join(h[i : i + 2] for i in range(0, 6, 2)) + f":{devid // 256:02x}:{devid % 256:02x}"
