"""Random hypercall sequences shared by the property tests.

    ops = st.lists(op_strategy(), max_size=60)
    outcome = apply_op(hv, ("alloc_unbound", 1, DOMID_SELF, 0))   # port, None, list or "-ENOSPC"

An op is a plain tuple (name, *args); apply_op() turns XenError into "-ERRNO" so results compare directly.
Domids come from a small pool so that ops often hit real domains, and sometimes missing ones (ESRCH).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from evtchn.xen import DOMID_SELF, Hypervisor, XenError

Op = tuple[Any, ...]

DOMIDS = (0, 1, 2, 3)
dom_args = st.sampled_from((*DOMIDS, DOMID_SELF))
ports = st.one_of(st.integers(0, 70), st.sampled_from((-1, 1023, 1024, 4095, 4096, 2**32, 2**64)))
vcpus = st.one_of(st.integers(0, 3), st.sampled_from((-1, 2**40)))

create = st.tuples(
    st.just("create_domain"),
    st.sampled_from(DOMIDS[1:]),
    st.integers(1, 3),  # vCPUs
    st.sampled_from((32, 64)),
    st.sampled_from((-1, 5, 12, 70, 1023)),  # max_evtchn_port: small caps reach ENOSPC
)


def op_strategy() -> st.SearchStrategy[Op]:
    """Every EVTCHNOP plus domain lifecycle, guest mask and drain, with good and bad arguments."""
    caller = st.sampled_from(DOMIDS)
    return st.one_of(
        create,
        st.tuples(st.just("destroy_domain"), st.sampled_from(DOMIDS[1:])),
        st.tuples(st.just("alloc_unbound"), caller, dom_args, dom_args),
        st.tuples(st.just("bind_interdomain"), caller, dom_args, ports),
        st.tuples(st.just("bind_virq"), caller, st.sampled_from((0, 1, 2, 3, 11, 16, 23, 24, -1)), vcpus),
        st.tuples(st.just("bind_ipi"), caller, vcpus),
        st.tuples(st.just("bind_pirq"), caller, st.integers(-1, 5)),
        st.tuples(st.just("close"), caller, ports),
        st.tuples(st.just("send"), caller, ports),
        st.tuples(st.just("status"), caller, dom_args, ports),
        st.tuples(st.just("bind_vcpu"), caller, ports, vcpus),
        st.tuples(st.just("unmask"), caller, ports),
        st.tuples(st.just("mask"), caller, ports),
        st.tuples(st.just("reset"), caller, dom_args),
        st.tuples(
            st.just("init_control"), caller, st.integers(0, 40), st.sampled_from((0, 8, 4024, 4028, 4)), vcpus
        ),
        st.tuples(st.just("expand_array"), caller, st.integers(0, 40)),
        st.tuples(st.just("set_priority"), caller, ports, st.sampled_from((0, 3, 7, 15, 16, -1))),
        st.tuples(st.just("drain"), caller, vcpus),
        st.tuples(st.just("raise_virq"), caller, st.sampled_from((0, 2, 3, 11)), vcpus),
    )


def apply_op(hv: Hypervisor, op: Op) -> Any:
    """Run one op; XenError becomes "-ENAME", a refused domain create/destroy becomes "refused"."""
    name, *args = op
    try:
        if name == "create_domain":
            domid, nv, width, cap = args
            if domid in hv.domains:
                return "refused"
            hv.create_domain(domid, max_vcpus=nv, guest_width=width, max_evtchn_port=cap, nr_pirqs=4)
            return None
        if name == "destroy_domain":
            if args[0] not in hv.domains:
                return "refused"
            hv.destroy_domain(args[0])
            return None
        if name == "raise_virq":
            caller, virq, vcpu = args
            if caller not in hv.domains or not isinstance(vcpu, int) or not 0 <= vcpu < 4:
                return "refused"
            return hv.raise_virq(caller, virq, vcpu)
        if name == "status":
            s = hv.status(*args)
            return (int(s.status), s.vcpu, s.dom, s.port, s.pirq, s.virq)
        result = getattr(hv, name)(*args)
        return result
    except XenError as e:
        return f"-{e.name}"


def new_host() -> Hypervisor:
    """dom0 (privileged, 4 vCPUs, 4 PIRQs) and one 32-bit guest capped at port 12."""
    hv = Hypervisor()
    hv.create_domain(0, privileged=True, max_vcpus=4, nr_pirqs=4)
    hv.create_domain(1, max_vcpus=2, guest_width=32, max_evtchn_port=12, nr_pirqs=4)
    return hv
