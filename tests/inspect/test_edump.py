"""The 'e' debug key's dump of a simulated hypervisor, per Xen layout (reference §9.2)."""

from __future__ import annotations

import pytest

from evtchn.inspect import format_edump
from evtchn.inspect.edump import bitmap_list, layout_for_version
from evtchn.xen import DOMID_SELF, Hypervisor, HypervisorSettings
from tests.inspect.hosts import dom0_host


def _small_host() -> Hypervisor:
    hv = Hypervisor(HypervisorSettings(xen_version=(4, 22)))
    hv.create_domain(0, privileged=True, max_vcpus=2, nr_pirqs=32)
    hv.bind_virq(0, 0, 0)  # 1
    hv.bind_ipi(0, 1)  # 2
    hv.bind_pirq(0, 16)  # 3
    hv.create_domain(7)
    p = hv.alloc_unbound(7, DOMID_SELF, 0)  # d7:1
    hv.bind_interdomain(0, 7, p)  # 4
    hv.alloc_unbound(0, 0, 7)  # 5, waiting for d7
    return hv


def test_44_layout_byte_exact() -> None:
    """Port 4's bind left it pending, so vCPU 0's selector bit for word 0 shows on its ports (§4)."""
    hv = _small_host()
    hv.mask(0, 2)
    assert format_edump(hv) == (
        "'e' pressed -> dumping event-channel info\n"
        "Event channel information for domain 0:\n"
        "Polling vCPUs: {}\n"
        "    port [p/m/s]\n"
        "       1 [0/0/1]: s=5 n=0 x=0 v=0\n"
        "       2 [0/1/0]: s=6 n=1 x=0\n"
        "       3 [0/0/1]: s=4 n=0 x=0 p=16 i=16\n"
        "       4 [1/0/1]: s=3 n=0 x=0 d=7 p=1\n"
        "       5 [0/0/1]: s=2 n=0 x=0 d=7\n"
        "Event channel information for domain 7:\n"
        "Polling vCPUs: {}\n"
        "    port [p/m/s]\n"
        "       1 [0/0/0]: s=3 n=0 x=0 d=0 p=4\n"
    )


def test_41_layout_puts_x_last_and_has_no_irq_or_abi_field() -> None:
    hv = _small_host()
    lines = format_edump(hv, layout="4.1").splitlines()
    assert lines[3] == "    port [p/m]"
    assert lines[4:9] == [
        "       1 [0/0]: s=5 n=0 v=0 x=0",
        "       2 [0/0]: s=6 n=1 x=0",
        "       3 [0/0]: s=4 n=0 p=16 x=0",
        "       4 [1/0]: s=3 n=0 d=7 p=1 x=0",
        "       5 [0/0]: s=2 n=0 d=7 x=0",
    ]


def test_42_layout_has_irq_but_no_abi_field() -> None:
    lines = format_edump(_small_host(), layout="4.2").splitlines()
    assert lines[3] == "    port [p/m]"
    assert lines[6] == "       3 [0/0]: s=4 n=0 x=0 p=16 i=16"


def test_prefix_on_every_line() -> None:
    text = format_edump(_small_host(), prefix=True)
    assert all(line.startswith("(XEN) ") for line in text.splitlines())
    assert text.replace("(XEN) ", "") == format_edump(_small_host())


def test_xen_consumer_ports_show_x() -> None:
    hv = dom0_host(baseline=2)
    hv.create_domain(3, is_hvm=True)
    port = hv.alloc_unbound_xen(3, 0, 0)
    assert format_edump(hv).splitlines()[-1] == f"    {port:4d} [0/0/0]: s=2 n=0 x=1 d=0"
    assert format_edump(hv, layout="4.1").splitlines()[-1] == f"    {port:4d} [0/0]: s=2 n=0 d=0 x=1"


def test_fifo_abi_field_matches_the_real_sample() -> None:
    """After init_control + expand_array a FIFO guest prints `[0/0/  -   ]` (QubesOS sample, §9.2)."""
    hv = dom0_host(baseline=2)
    hv.create_domain(7, max_vcpus=1)
    hv.init_control(7, 100, 0, 0)
    hv.expand_array(7, 101)
    for port in (hv.bind_virq(7, 0, 0), hv.bind_ipi(7, 0)):
        hv.unmask(7, port)
    text = format_edump(hv, prefix=True)
    assert "(XEN)        1 [0/0/  -   ]: s=5 n=0 x=0 v=0\n" in text
    assert "(XEN)        2 [0/0/  -   ]: s=6 n=0 x=0\n" in text


def test_wide_ports_widen_the_field() -> None:
    hv = dom0_host(baseline=2)
    hv.create_domain(7, max_vcpus=1)
    hv.init_control(7, 100, 0, 0)
    for gfn in range(101, 112):
        hv.expand_array(7, gfn)
    for _ in range(10001):
        port = hv.bind_ipi(7, 0)
    hv.unmask(7, port)
    assert format_edump(hv).splitlines()[-1] == "    10001 [0/0/  -   ]: s=6 n=0 x=0"


def test_polling_vcpus_bitmap_list() -> None:
    assert bitmap_list(set()) == ""
    assert bitmap_list({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8"
    hv = dom0_host(baseline=1, vcpus=4)
    hv.domain(0).polling.update({1, 2})
    assert "Polling vCPUs: {1-2}\n" in format_edump(hv)


@pytest.mark.parametrize(
    ("version", "layout"), [((4, 1), "4.1"), ((4, 3), "4.2"), ((4, 4), "4.4"), ((4, 22), "4.4")]
)
def test_layout_for_version(version: tuple[int, int], layout: str) -> None:
    assert layout_for_version(version) == layout


def test_bad_layout_is_rejected() -> None:
    with pytest.raises(ValueError, match="layout must be one of"):
        format_edump(_small_host(), layout="4.3")  # type: ignore[arg-type]
