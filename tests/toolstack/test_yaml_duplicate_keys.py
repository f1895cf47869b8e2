"""A YAML key given twice is refused with the file and the line of the second one.

PyYAML on its own keeps the last value silently (an R720 hardware file with two `sources:` blocks loaded
with half of what its author wrote); YAML 1.2 §3.2.1.1 says mapping keys are unique. Merge keys
(`<<: *base`) may still be overridden, as the YAML merge type allows.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evtchn.toolstack.errors import SpecError
from evtchn.toolstack.hardware import get_hardware
from evtchn.toolstack.spec import load_spec, parse_yaml_spec
from evtchn.toolstack.yaml_strict import StrictFastLoader, StrictSafeLoader

EXAMPLE_HW = Path(__file__).resolve().parents[2] / "examples" / "hardware" / "dell-r720.yaml"


@pytest.mark.parametrize("loader", [StrictSafeLoader, StrictFastLoader])
def test_loaders_refuse_a_repeated_key_and_point_at_it(loader: type[yaml.SafeLoader]) -> None:
    with pytest.raises(yaml.constructor.ConstructorError) as e:
        yaml.load("a: 1\nb:\n  c: 2\n  c: 3\n", Loader=loader)
    assert e.value.problem == "found duplicate key 'c'"
    assert e.value.problem_mark is not None and e.value.problem_mark.line + 1 == 4


@pytest.mark.parametrize("loader", [StrictSafeLoader, StrictFastLoader])
def test_merge_keys_may_still_be_overridden(loader: type[yaml.SafeLoader]) -> None:
    text = "base: &b {vcpus: 2, memory_mib: 512}\nvm:\n  <<: *b\n  vcpus: 4\n"
    assert yaml.load(text, Loader=loader)["vm"] == {"vcpus": 4, "memory_mib": 512}


def test_a_spec_with_a_key_twice_names_the_line() -> None:
    with pytest.raises(SpecError, match=r"^web\.yaml:4: not valid YAML: found duplicate key 'vcpus'$"):
        parse_yaml_spec("name: web\nvcpus: 2\nmemory_mib: 1024\nvcpus: 4\n", source="web.yaml")


def test_a_spec_file_with_a_key_twice_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "db.yaml"
    p.write_text("name: db\nmemory_mib: 1024\ndisks: 2\nmemory_mib: 2048\n")
    with pytest.raises(SpecError, match=r"db\.yaml:4: not valid YAML: found duplicate key 'memory_mib'"):
        load_spec(p)


def test_a_hardware_file_with_a_block_twice_is_refused(tmp_path: Path) -> None:
    text = EXAMPLE_HW.read_text()
    p = tmp_path / "r720.yaml"
    p.write_text(text + "sources:\n  name: again\n")
    line = text.count("\n") + 1
    with pytest.raises(SpecError, match=rf"r720\.yaml:{line}: not valid YAML: found duplicate key 'sources'"):
        get_hardware(str(p))


def test_the_shipped_example_has_each_key_once() -> None:
    assert get_hardware(str(EXAMPLE_HW)).name == "dell-r720"
