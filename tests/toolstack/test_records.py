"""VMs keyed by uuid with free-text, possibly repeated names (issue 10), and the dirty set the persisted
store reads (take_dirty_vms)."""

from __future__ import annotations

import json

import pytest

from evtchn.toolstack import Host, NoSuchVm, VmExists, seed_vm_spec
from evtchn.toolstack.errors import AmbiguousVm
from evtchn.toolstack.spec import parse_xl_cfg, to_xl_cfg
from tests.toolstack.helpers import hardware_leaving


def test_free_text_names_reach_xenstore_and_xl_cfg() -> None:
    host = Host.create("xen-xl")
    name = 'Windows Server 2019 (1) — "prod" é'
    vm = host.define_vm(seed_vm_spec(name))
    host.start_vm(name)
    assert host.xenstore.read(f"/local/domain/{vm.domid}/name") == name
    assert host.xenstore.read(f"/vm/{vm.uuid}/name") == name
    assert parse_xl_cfg(to_xl_cfg(vm.spec))[0].name == name
    host.check_invariants()


def test_duplicate_names_need_a_uuid() -> None:
    host = Host.create("xenserver-8")
    a = host.define_vm(seed_vm_spec("web"), unique_name=False)
    with pytest.raises(VmExists, match="'web' already exists"):  # the default keeps names unique
        host.define_vm(seed_vm_spec("web"))
    b = host.define_vm(seed_vm_spec("web"), unique_name=False)
    assert a.uuid != b.uuid and set(host.vms) == {a.uuid, b.uuid}
    with pytest.raises(AmbiguousVm) as info:
        host.start_vm("web")
    assert info.value.message == f"2 VMs are named 'web'; give a uuid: {a.uuid}, {b.uuid}"
    host.start_vm(b.uuid)
    assert (a.power_state, b.power_state) == ("Halted", "Running")
    host.start_vm(a.uuid)
    assert a.domid != b.domid
    with pytest.raises(NoSuchVm, match="no VM named 'nope'"):
        host.vm("nope")
    host.shutdown_vm(a.uuid)
    host.remove_vm(a.uuid)
    assert host.vm("web") is b  # unique again: the name works
    again = Host.from_state(json.loads(json.dumps(host.to_state())))
    assert again.vm(b.uuid).name == "web" and again.vm_by_domid(b.domid or 0) is again.vm(b.uuid)
    again.check_invariants()


def test_control_characters_are_refused_with_the_field() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="name"):
        seed_vm_spec("tab\there")


def test_every_mutating_path_marks_the_vm_dirty() -> None:
    host = Host.create("xen-xl")
    assert host.take_dirty_vms() == set()
    a = host.define_vm(seed_vm_spec("a"))
    b = host.define_vm(seed_vm_spec("b"))
    assert host.take_dirty_vms() == {a.uuid, b.uuid}
    assert host.take_dirty_vms() == set()  # taken: empty until something changes
    host.start_vm("a", paused=True)
    assert host.take_dirty_vms() == {a.uuid}
    host.unpause_vm("a")
    assert host.take_dirty_vms() == {a.uuid}
    host.reboot_vm("a")
    assert host.take_dirty_vms() == {a.uuid}
    host.shutdown_vm("a")
    assert host.take_dirty_vms() == {a.uuid}
    host.update_vm("b", seed_vm_spec("b2"))
    assert host.take_dirty_vms() == {b.uuid}
    host.start_vm("b2", boot=False)
    host.take_dirty_vms()
    host.boot_vm("b2")
    assert host.take_dirty_vms() == {b.uuid}
    host.destroy_vm("b2")
    host.remove_vm("b2")
    assert host.take_dirty_vms() == {b.uuid}  # removed
    # A refused operation changes nothing; a failed start changes the record (last_error, messages).
    with pytest.raises(Exception, match="halted"):
        host.shutdown_vm("a")
    assert host.take_dirty_vms() == set()
    profile = host.profile
    short = Host.create(profile, hardware_leaving(profile, 0))
    c = short.define_vm(seed_vm_spec("c"))
    short.take_dirty_vms()
    with pytest.raises(Exception, match="timed out"):
        short.start_vm("c")
    assert short.take_dirty_vms() == {c.uuid} and c.last_error
    # A restored host starts clean.
    assert Host.from_state(host.to_state()).take_dirty_vms() == set()


def test_errors_name_the_vm_whether_given_by_name_or_uuid() -> None:
    host = Host.create("xen-xl")
    vm = host.define_vm(seed_vm_spec("web1"))
    host.start_vm(vm.uuid, paused=True)
    with pytest.raises(Exception, match=r"^VM web1 is paused; this needs it halted$"):
        host.start_vm(vm.uuid)
    with pytest.raises(Exception, match=r"^VM web1 is paused; this needs it halted$"):
        host.remove_vm(vm.uuid)
