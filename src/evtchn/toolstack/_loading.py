"""Shared file loading for profiles and hardware: YAML/TOML/JSON → dict, pydantic errors → one line.

data = read_mapping(Path("my-host.yaml"), SpecError)
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from evtchn.toolstack.errors import SpecError
from evtchn.toolstack.safe_load import guarded, one_line, read_text
from evtchn.toolstack.yaml_strict import StrictSafeLoader

M = TypeVar("M", bound=BaseModel)


def read_mapping(p: Path, what: str) -> dict[str, Any]:
    text = read_text(p, what)
    return guarded(str(p), text, lambda: _parse_mapping(p, what, text))


def _parse_mapping(p: Path, what: str, text: str) -> dict[str, Any]:
    suffix = p.suffix.lower()
    try:
        if suffix in (".yaml", ".yml"):
            data = yaml.load(text, Loader=StrictSafeLoader)
        elif suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise SpecError(
                f"{p}: unknown {what} format {suffix or '(none)'!r}; expected .yaml, .toml or .json"
            )
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise SpecError(f"{p}{line}: not valid YAML: {problem}") from None
    except tomllib.TOMLDecodeError as e:
        raise toml_error(p, text, e) from None
    except json.JSONDecodeError as e:
        raise SpecError(f"{p}:{e.lineno}: not valid JSON: {e.msg}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{p}: expected a mapping of {what} fields at the top level")
    return data


def validate_model(model: type[M], data: dict[str, Any], source: str) -> M:
    try:
        return model.model_validate(data)
    except UnicodeEncodeError:  # a JSON "\ud800" escape: text no file or terminal can hold
        raise SpecError(f"{source}: a string holds an unpaired surrogate") from None
    except ValidationError as e:
        err = e.errors()[0]
        loc = one_line(".".join(str(x) for x in err["loc"]) or "(top level)")
        msg = {"extra_forbidden": "unknown field", "missing": "field required"}.get(err["type"], err["msg"])
        raise SpecError(f"{source}: field {loc}: {one_line(msg)}") from None


def toml_error(p: Path, text: str, e: tomllib.TOMLDecodeError) -> SpecError:
    """`file:line: not valid TOML: what` — tomllib puts the line in its message, or says end of document."""
    msg = str(e)
    m = re.search(r"\(at line (\d+)", msg)
    line = m.group(1) if m else str(max(1, text.count("\n") + (not text.endswith("\n"))))
    return SpecError(f"{p}:{line}: not valid TOML: {msg.split(' (at')[0]}")


def yaml_line(p: Path, text: str, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the value at `loc` (keys and list indexes) in a YAML file, None when it is not
    there (a missing field, a TOML or JSON file, or text YAML cannot compose)."""
    if not loc or p.suffix.lower() not in (".yaml", ".yml"):
        return None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
        else:
            return None
        if node is None:
            return None
    return None if node is None else int(node.start_mark.line) + 1
