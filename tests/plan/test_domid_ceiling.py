"""The planner meets Xen's domid ceiling: at most 32 751 guests, whatever else would fit (reference §1)."""

from __future__ import annotations

from evtchn.plan.density import plan_mix
from evtchn.plan.mix import Mix, Shape
from evtchn.toolstack.bounds import GUEST_DOMIDS
from evtchn.toolstack.hardware import get_hardware
from evtchn.toolstack.profiles import get_profile
from evtchn.toolstack.spec import VmSpec


def test_a_tiny_hvm_vm_without_pv_drivers_stops_at_the_domid_ceiling() -> None:
    tiny = VmSpec(name="tiny", type="hvm", memory_mib=16, pv_drivers=False)
    big = get_hardware(None).model_copy(update={"host_memory_mib": 16 * 1024 * 1024})
    plan = plan_mix(get_profile("xenserver-8"), big, Mix((Shape("tiny", tiny, 1),)))
    assert plan.max_vms == 32751 == GUEST_DOMIDS.value
    assert plan.binding == ("domids",)
    assert "DOMID_FIRST_RESERVED" in plan.limit("domids").source
