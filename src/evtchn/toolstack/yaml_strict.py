"""YAML loaders that refuse a mapping holding the same key twice.

PyYAML keeps the last of two equal keys without a word, so a hardware file with two `sources:` blocks or
a spec with two `memory_mib:` lines would load with half of what its author wrote. YAML 1.2 (§3.2.1.1)
requires mapping keys to be unique; these loaders say where the second one is:

    yaml.load(text, Loader=StrictSafeLoader)        # ConstructorError, problem_mark at the repeated key
    yaml.load(text, Loader=StrictFastLoader)        # the same on libyaml's parser when PyYAML has it

Merge keys (`<<: *anchor`) may still be overridden by the mapping's own keys, as YAML's merge type says.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError

_MERGE_TAG = "tag:yaml.org,2002:merge"


def _check_unique(loader: yaml.constructor.SafeConstructor, node: yaml.MappingNode) -> None:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == _MERGE_TAG:
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:  # an unhashable key: SafeConstructor refuses it with its own message
            continue
        if duplicate:
            problem = f"found duplicate key {key!r}"
            context = "while constructing a mapping"
            raise ConstructorError(context, node.start_mark, problem, key_node.start_mark)
        seen.add(key)


class StrictSafeLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            _check_unique(self, node)
        return super().construct_mapping(node, deep=deep)


_CLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictFastLoader(_CLoader):  # type: ignore[valid-type,misc]
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            _check_unique(self, node)
        result: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return result
