"""Every fuzz surface by name, and the share of a deep run each gets (cheap surfaces get more inputs)."""

from __future__ import annotations

from functools import cache

from tests.fuzz.surface import Surface
from tests.fuzz.surfaces_calls import call_surfaces
from tests.fuzz.surfaces_files import file_surfaces

# relative input counts in a deep run (per-input cost differs about 50x between surfaces)
WEIGHTS = {
    "spec yaml": 12, "spec toml": 12, "spec xl.cfg": 12, "profile": 8, "hardware": 8, "dumps": 10,
    "host file": 2, "cli args": 4, "hypercalls": 12, "xml-rpc": 10, "json-rpc": 10,
}  # fmt: skip


@cache
def surfaces() -> dict[str, Surface]:
    return {s.name: s for s in file_surfaces() + call_surfaces()}
