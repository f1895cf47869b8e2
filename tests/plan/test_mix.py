"""The mix's start order and the --vm SPEC[:COUNT] parser."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evtchn.plan.mix import Mix, MixError, Shape, parse_mix, parse_vm_arg
from evtchn.toolstack.errors import SpecError
from evtchn.toolstack.spec import seed_vm_spec

SEED = seed_vm_spec()


def _mix(counts: list[int]) -> Mix:
    return Mix(tuple(Shape(f"s{i}", SEED, c) for i, c in enumerate(counts)))


def test_rounds_start_each_shape_count_times_in_order() -> None:
    mix = _mix([2, 1, 3])
    assert [mix.shape_at(i) for i in range(12)] == [0, 0, 1, 2, 2, 2, 0, 0, 1, 2, 2, 2]


@given(st.lists(st.integers(1, 5), min_size=1, max_size=6), st.integers(0, 60))
def test_prefix_counts_agree_with_the_order(counts: list[int], n: int) -> None:
    mix = _mix(counts)
    order = mix.order()
    seen = [0] * len(counts)
    for i in range(n):
        k = next(order)
        assert k == mix.shape_at(i)
        seen[k] += 1
    assert mix.counts_in_prefix(n) == tuple(seen)


def test_empty_mix_and_zero_count_are_refused() -> None:
    with pytest.raises(MixError):
        Mix(())
    with pytest.raises(MixError):
        Mix((Shape("s", SEED, 0),))


def test_seed_is_a_builtin_shape_with_a_count() -> None:
    s = parse_vm_arg("seed:10")
    assert (s.label, s.count, s.spec) == ("seed", 10, SEED)


def test_spec_file_with_count(tmp_path: Path) -> None:
    f = tmp_path / "web.yaml"
    f.write_text("name: web\ntype: pv\ndisks: [{userdevice: 0}]\nnics: [{devid: 0}]\n")
    s = parse_vm_arg(f"{f}:3")
    assert (s.label, s.count, s.spec.type, len(s.spec.disks)) == ("web", 3, "pv", 1)
    assert parse_vm_arg(str(f)).count == 1


@pytest.mark.parametrize("count", ["0", "x", "", "-2", "1.5"])
def test_bad_count_names_the_argument(count: str) -> None:
    with pytest.raises(MixError, match=r"COUNT after ':' must be a whole number"):
        parse_vm_arg(f"seed:{count}")


def test_missing_file_is_one_line() -> None:
    with pytest.raises(MixError, match=r"no such spec file 'nope\.yaml'"):
        parse_vm_arg("nope.yaml:2")


def test_invalid_spec_names_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("name: bad\nvcpus: lots\n")
    with pytest.raises(SpecError, match=r"bad.yaml:2: field vcpus"):
        parse_vm_arg(str(f))


def test_duplicate_labels_are_made_unique() -> None:
    mix = parse_mix(["seed", "seed:2"])
    assert [s.label for s in mix.shapes] == ["seed", "seed#2"]
    assert mix.counts == (1, 2)
