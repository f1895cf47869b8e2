"""Nothing but XenError escapes a hypercall given bad arguments (issue: "Errors")."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evtchn.xen import DOMID_SELF, Errno, Hypervisor, XenError

from .conftest import xen_error

# name -> number of positional arguments after nothing (callers included)
OPS = {
    "alloc_unbound": 3,
    "bind_interdomain": 3,
    "bind_virq": 3,
    "bind_ipi": 2,
    "bind_pirq": 2,
    "close": 2,
    "send": 2,
    "status": 3,
    "bind_vcpu": 3,
    "unmask": 2,
    "reset": 2,
    "reset_cont": 2,
    "init_control": 4,
    "expand_array": 2,
    "set_priority": 3,
    "mask": 2,
    "drain": 2,
    "raise_virq": 3,
    "raise_pirq": 2,
    "notify_via_xen_port": 2,
    "is_pending": 2,
    "is_masked": 2,
    "dump_port": 2,
    "valid_evtchns": 1,
    "set_global_virq_handler": 2,
    "alloc_unbound_xen": 3,
    "domain": 1,
}

WEIRD = (None, "1", 1.0, [1], (0,), b"\x01", -1, -(2**63), 2**31, 2**32, 2**64, 2**200, DOMID_SELF, 0xFFFF)

values = st.one_of(
    st.integers(-3, 70),
    st.sampled_from(WEIRD),
    st.integers(),
    st.booleans(),
    st.floats(allow_nan=True),
    st.text(max_size=2),
)


def _host() -> Hypervisor:
    hv = Hypervisor()
    hv.create_domain(0, privileged=True, max_vcpus=2, nr_pirqs=8)
    hv.create_domain(1, max_vcpus=2, nr_pirqs=8)
    hv.init_control(1, 1, 0, 0)
    for _ in range(3):
        p = hv.alloc_unbound(1, DOMID_SELF, 0)
        hv.bind_interdomain(0, 1, p)
    hv.alloc_unbound_xen(1, 0, 0)
    return hv


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(OPS)), st.lists(values, min_size=4, max_size=4))
def test_only_xen_error_escapes(name: str, args: list[Any]) -> None:
    hv = _host()
    try:
        getattr(hv, name)(*args[: OPS[name]])
    except XenError as e:
        assert e.op and e.errno in Errno
    hv.check_invariants()


@pytest.mark.parametrize("bad", [None, "0", 0.0, [0]])
def test_non_integer_argument_is_efault_naming_it(hv: Hypervisor, bad: object) -> None:
    with pytest.raises(XenError, match="port must be an integer") as info:
        hv.close(1, bad)  # type: ignore[arg-type]
    assert info.value.errno is Errno.EFAULT
    with xen_error(Errno.EFAULT, "bind_virq"):
        hv.bind_virq(1, bad, 0)  # type: ignore[arg-type]


def test_unknown_or_odd_domids_are_esrch(hv: Hypervisor) -> None:
    for dom in (9, -1, 0x10000, 2**64, 0x7FF1):
        with xen_error(Errno.ESRCH):
            hv.status(0, dom, 0)
        with xen_error(Errno.ESRCH):
            hv.close(dom, 1)


def test_int_subclasses_are_accepted(hv: Hypervisor) -> None:
    assert hv.bind_ipi(True, False) == 1


def test_error_text_names_op_errno_and_number(hv: Hypervisor) -> None:
    hv.bind_ipi(1, 0)
    with pytest.raises(XenError) as info:
        hv.close(1, 40)
    assert str(info.value) == "EVTCHNOP_close: -EINVAL (22): port 40 is not open"
    assert (info.value.code, info.value.name, info.value.errno.strerror) == (22, "EINVAL", "Invalid argument")


def test_create_domain_rejects_bad_configuration_with_value_error(hv: Hypervisor) -> None:
    for kwargs, text in [
        ({"max_vcpus": 0}, "max_vcpus"),
        ({"max_vcpus": 70000}, "max_vcpus"),  # vCPU ids live in 16-bit columns
        ({"max_vcpus": "2"}, "max_vcpus"),
        ({"guest_width": 16}, "guest width"),
        ({"nr_pirqs": -1}, "nr_pirqs"),
        ({"max_evtchn_port": 1.5}, "max_evtchn_port"),
        ({"target": 70000}, "target"),
    ]:
        with pytest.raises(ValueError, match=text):
            hv.create_domain(8, **kwargs)  # type: ignore[arg-type]
    with xen_error(Errno.EEXIST, "XEN_DOMCTL_createdomain"):  # a domid in use: what domctl.c answers
        hv.create_domain(1)
    with pytest.raises(ValueError, match="reserved"):
        hv.create_domain(DOMID_SELF)
