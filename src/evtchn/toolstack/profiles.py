"""Host profiles: a built-in one by name, or a user's YAML/TOML/JSON file that may inherit one.

    p = get_profile("xenserver-6.2")
    p = get_profile("my-host.yaml")      # a user's file; `base: xenserver-6.2` inherits and overrides
    p.sources["dm_bufioreq"]             # where that value comes from

The model is in profile_model.py, the built-in data in profile_data.py (reference §7, §8, §10, §12, §13).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evtchn.toolstack._loading import read_mapping, validate_model
from evtchn.toolstack.errors import ProfileError
from evtchn.toolstack.profile_data import BUILTIN_PROFILES, DEFAULT_PROFILE
from evtchn.toolstack.profile_model import XENOPSD_ORDER, XL_ORDER, Failure, KernelFlavour, Profile, StartOp
from evtchn.toolstack.safe_load import exists


def get_profile(name_or_path: str) -> Profile:
    """A built-in profile by name, or a YAML/TOML/JSON file (optionally `base: <built-in>` + overrides)."""
    if name_or_path in BUILTIN_PROFILES:
        return BUILTIN_PROFILES[name_or_path]
    p = Path(name_or_path)
    if not exists(p):
        known = ", ".join(BUILTIN_PROFILES)
        raise ProfileError(f"{name_or_path}: no such profile file or built-in profile (built-in: {known})")
    data = read_mapping(p, "profile")
    base_name = data.pop("base", None)
    if base_name is not None:
        if not isinstance(base_name, str):
            known = ", ".join(BUILTIN_PROFILES)
            raise ProfileError(f"{p}: field base: expected the name of a built-in profile ({known})")
        if base_name not in BUILTIN_PROFILES:
            raise ProfileError(f"{p}: field base: unknown built-in profile {base_name!r}")
        merged = BUILTIN_PROFILES[base_name].model_dump()
        own_sources = data.pop("sources", None) or {}
        if not isinstance(own_sources, dict):
            raise ProfileError(f"{p}: field sources: expected a mapping of field → source")
        sources = dict(merged.get("sources", {}))
        for key in data:
            sources[key] = str(own_sources.get(key, p))
        sources.update({str(k): str(v) for k, v in own_sources.items()})
        data = _deep_merge(merged, data)
        data["sources"] = sources
    data.setdefault("name", p.stem)
    return validate_model(Profile, data, str(p))


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


__all__ = [
    "BUILTIN_PROFILES",
    "DEFAULT_PROFILE",
    "XENOPSD_ORDER",
    "XL_ORDER",
    "Failure",
    "KernelFlavour",
    "Profile",
    "StartOp",
    "get_profile",
]
