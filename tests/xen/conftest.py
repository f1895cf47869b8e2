"""A small host for the hypercall tests: dom0 (privileged), a 64-bit and a 32-bit guest.

def test_x(hv: Hypervisor) -> None: ...
with xen_error(Errno.EINVAL): hv.close(1, 0)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from evtchn.xen import Errno, Hypervisor, XenError


@pytest.fixture
def hv() -> Hypervisor:
    h = Hypervisor()
    h.create_domain(0, privileged=True, max_vcpus=4, nr_pirqs=64)
    h.create_domain(1, max_vcpus=2, guest_width=64, max_evtchn_port=1023, nr_pirqs=16)
    h.create_domain(2, max_vcpus=1, guest_width=32, nr_pirqs=16)
    return h


@contextmanager
def xen_error(errno: Errno, op: str | None = None) -> Iterator[None]:
    """Expect exactly this errno (and op name, if given) from the block."""
    with pytest.raises(XenError) as info:
        yield
    assert info.value.errno is errno, f"expected -{errno.name}, got {info.value}"
    if op is not None:
        assert info.value.op == op
