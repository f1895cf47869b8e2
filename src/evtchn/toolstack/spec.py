"""VM specs: the models (spec_model.py), loaded from YAML, TOML or a real xl.cfg (xl_cfg.py).

    spec = load_spec("web01.yaml")                 # or .yml / .toml / .cfg (xl.cfg)
    spec, notes = read_spec("guest.cfg")           # notes: unknown xl.cfg keys, reported not fatal
    spec = VmSpec(name="w", type="hvm", disks=[DiskSpec(userdevice=i) for i in range(3)], nics=[NicSpec()])

A bad file raises SpecError naming the file and the line (YAML, xl.cfg) or the field (TOML).
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path

import yaml

from evtchn.toolstack._loading import toml_error
from evtchn.toolstack.errors import SpecError
from evtchn.toolstack.safe_load import guarded, read_text
from evtchn.toolstack.spec_model import (
    DiskSpec,
    NicSpec,
    VmSpec,
    VmType,
    seed_vm_spec,
    validate_spec,
    vdev_name,
    vdev_to_devid,
    xvd_devid,
)
from evtchn.toolstack.xl_cfg import parse_xl_cfg, to_xl_cfg
from evtchn.toolstack.yaml_strict import StrictFastLoader, StrictSafeLoader


def read_spec(path: str | Path) -> tuple[VmSpec, list[str]]:
    """Load a spec; the second value lists non-fatal notes (unknown xl.cfg keys) as 'file:line: text'."""
    p = Path(path)
    text = read_text(p, "spec")
    return guarded(str(p), text, lambda: _read_spec_text(p, text))


def _read_spec_text(p: Path, text: str) -> tuple[VmSpec, list[str]]:
    suffix = p.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return _from_yaml(p, text), []
    if suffix == ".toml":
        return _from_toml(p, text), []
    if suffix in (".cfg", ".xl", ".conf"):
        return parse_xl_cfg(text, source=str(p))
    raise SpecError(f"{p}: unknown spec format {suffix or '(none)'!r}; expected .yaml, .yml, .toml or .cfg")


def load_spec(path: str | Path) -> VmSpec:
    """VmSpec from a .yaml/.yml/.toml/.cfg file; SpecError naming the file and line or field."""
    return read_spec(path)[0]


def _yaml_line(root: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    """1-based line of the YAML node at `loc` (or of its nearest existing parent)."""
    node = root
    best = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        nxt: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for k, v in node.value:
                if getattr(k, "value", None) == part:
                    nxt = v
                    best = k.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
            best = nxt.start_mark.line + 1
        if nxt is None:
            break
        node = nxt
    return best


def _from_yaml(p: Path, text: str) -> VmSpec:
    return parse_yaml_spec(text, source=str(p))


# libyaml's loader when PyYAML has it; the pure-Python one words the errors (and finds the lines). Both
# refuse a key given twice (yaml_strict.py).
_FAST_LOADER: type[yaml.SafeLoader] = StrictFastLoader


def parse_yaml_spec(text: str, *, source: str = "<yaml>") -> VmSpec:
    """A VmSpec from YAML text; SpecError naming the source, the line and the field. The node tree that
    gives the line is only built when the spec is wrong."""
    try:
        data = yaml.load(text, Loader=_FAST_LOADER)  # a SafeLoader (C or Python)
    except yaml.YAMLError:
        try:
            yaml.load(text, Loader=StrictSafeLoader)  # the same failure, worded by the pure-Python loader
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = f":{mark.line + 1}" if mark is not None else ""
            problem = getattr(e, "problem", None) or str(e).splitlines()[0]
            raise SpecError(f"{source}{line}: not valid YAML: {problem}") from None
        raise SpecError(f"{source}: not valid YAML") from None
    return validate_spec(source, data, lambda loc: _yaml_line(_compose(text), loc))


def _compose(text: str) -> yaml.Node | None:
    """The node tree for line numbers, or None: the C loader accepts a few texts (a tab after `key:`)
    that the pure-Python one refuses (fuzz: b'e:\\t'), and the error then has no line to give."""
    try:
        return yaml.compose(text)
    except yaml.YAMLError:
        return None


def _from_toml(p: Path, text: str) -> VmSpec:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise toml_error(p, text, e) from None
    return validate_spec(str(p), data)


__all__ = [
    "DiskSpec",
    "NicSpec",
    "VmSpec",
    "VmType",
    "load_spec",
    "parse_xl_cfg",
    "parse_yaml_spec",
    "read_spec",
    "seed_vm_spec",
    "to_xl_cfg",
    "vdev_name",
    "vdev_to_devid",
    "xvd_devid",
]
