"""The in-memory xenstore tree: writes create parents, reads of missing nodes are ENOENT, rm is recursive."""

from __future__ import annotations

import pytest

from evtchn.xenstore import XenStore, XenStoreError


def test_write_read_ls_rm() -> None:
    xs = XenStore()
    xs.write("/local/domain/5/store/port", 1)
    assert xs.read("/local/domain/5/store/port") == "1"
    assert xs.read("/local/domain/5") == ""  # parents created empty, as xenstored does
    assert xs.ls("/local/domain/5") == ["store"]
    xs.write_many("/local/domain/5/console", {"port": 2, "ring-ref": "77"})
    assert xs.ls("/local/domain/5") == ["store", "console"]
    assert xs.rm("/local/domain/5")
    assert not xs.exists("/local/domain/5/store/port")
    assert xs.ls("/local/domain") == []
    assert not xs.rm("/local/domain/5")


def test_errors() -> None:
    xs = XenStore()
    with pytest.raises(XenStoreError) as info:
        xs.read("/nope")
    assert str(info.value) == "ENOENT: /nope"
    with pytest.raises(XenStoreError, match="EINVAL"):
        xs.write("relative/path", "x")
    with pytest.raises(XenStoreError, match="ENOENT"):
        xs.ls("/missing")
    assert xs.get("/missing", "dflt") == "dflt"


def test_dump_and_state_round_trip() -> None:
    xs = XenStore()
    xs.write("/a/b", "1")
    xs.write("/a/c/d", "x")
    xs.mkdir("/e")
    assert xs.dump() == '/a = ""\n/a/b = "1"\n/a/c = ""\n/a/c/d = "x"\n/e = ""\n'
    assert xs.dump("/a/c") == '/a/c = ""\n/a/c/d = "x"\n'
    again = XenStore.from_state(xs.to_state())
    assert again.dump() == xs.dump()
    assert len(again) == 5


def test_state_is_the_tree_and_is_checked() -> None:
    xs = XenStore()
    xs.write("/local/domain/1/name", "vm")
    state = xs.to_state()
    assert state == ["", {"local": ["", {"domain": ["", {"1": ["", {"name": "vm"}]}]}]}]
    state[1]["local"][1]["domain"][1]["1"][1]["name"] = "changed"
    assert xs.read("/local/domain/1/name") == "vm"  # a copy, not the live tree
    with pytest.raises(ValueError, match="neither a value nor a directory"):
        XenStore.from_state(["", {"a": 5}])
    with pytest.raises(ValueError):
        XenStore.from_state({"a": "b"})
