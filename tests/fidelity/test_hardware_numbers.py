"""Hardware files describe a machine interrupt by interrupt: GSI, dom0's PIRQ and Xen's IRQ, the order dom0
binds them and the vCPU each goes to, and `lsevtchn` / the 'e' dump show those numbers.

What was read (Xen, for facts only):
- xen arch/x86/irq.c get_free_pirq(): for MAP_PIRQ_TYPE_GSI the lowest free PIRQ from 16 below
  nr_irqs_gsi; otherwise (MSI) `for ( i = d->nr_pirqs - 1; i >= nr_irqs_gsi; i-- )`: the highest free one.
  Linux's PV dom0 maps MSIs with pirq = -1 (Xen chooses), so MSI PIRQs come from the top down.
- xen arch/x86/irq.c create_irq(): `for (irq = nr_irqs_gsi; irq < nr_irqs; irq++)`, the lowest free
  dynamic IRQ, so Xen IRQs for MSIs count up from nr_irqs_gsi (after the ones Xen took for itself).
- xen arch/x86/io_apic.c arch_hwdom_irqs(): dom0's nr_pirqs = nr_irqs_gsi + min(fls(present CPUs),
  dom0 vCPUs) x NR_DYNAMIC_VECTORS, capped by nr_irqs and PAGE_SIZE*8; ioapic_init(): nr_irqs =
  max(16 + CPUs x NR_DYNAMIC_VECTORS, 8 x nr_irqs_gsi); irq-vectors.h: NR_DYNAMIC_VECTORS = 0xef-0x20+1.
- xen common/event_channel.c dump: PIRQ ports print ` p=<pirq> i=<irq>` (reference §9.2).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evtchn.inspect.lsevtchn import format_lsevtchn
from evtchn.toolstack import Host, get_hardware
from evtchn.toolstack.errors import SpecError
from evtchn.toolstack.hardware import Hardware, xen_default_nr_pirqs

ROOT = Path(__file__).resolve().parents[2]
R720 = ROOT / "examples" / "hardware" / "dell-r720.yaml"
PIRQ_LINE = re.compile(r"^\s*(\d+): VCPU (\d+): Physical IRQ (\d+)$", re.M)


def _pirq_ports(host: Host) -> list[tuple[int, int, int]]:
    """(port, vCPU, PIRQ) from `lsevtchn 0`, in port order."""
    out = format_lsevtchn(host.hv, 0).stdout
    return [(int(a), int(b), int(c)) for a, b, c in PIRQ_LINE.findall(out)]


def test_default_nr_pirqs_follows_arch_hwdom_irqs() -> None:
    # 16 CPUs: fls(16) = 5, capped by 4 dom0 vCPUs: 48 + 4 x 208 = 880.
    assert xen_default_nr_pirqs(16, 4, 48) == 880
    # 32 CPUs, 8 dom0 vCPUs: fls(32) = 6: 48 + 6 x 208 = 1296.
    assert xen_default_nr_pirqs(32, 8, 48) == 1296
    # 1 CPU: nr_irqs = max(16 + 208, 8 x 48) = 384 caps nothing here: 48 + 1 x 208 = 256.
    assert xen_default_nr_pirqs(1, 1, 48) == 256
    # A huge box is capped by the PIRQ EOI bitmap page (4096 bytes x 8 bits).
    assert xen_default_nr_pirqs(4096, 512, 48) == min(48 + 13 * 208, 32768)
    assert get_hardware(None).nr_pirqs == 880


def test_msi_pirqs_come_from_the_top_and_xen_irqs_from_nr_irqs_gsi_up() -> None:
    host = Host.create("xen-4.17")  # default hardware: 7 GSIs, then 55 MSI vectors
    ports = _pirq_ports(host)
    assert [p for _, _, p in ports[:7]] == [1, 4, 9, 12, 16, 19, 23]  # GSIs: PIRQ = GSI, in file order
    assert [p for _, _, p in ports[7:]] == list(range(879, 879 - 55, -1))  # get_free_pirq, top down
    dump = {d.port: (d.pirq, d.irq) for d in host.hv.dump_domain(0) if d.pirq}
    first_msi, last_msi = ports[7][0], ports[-1][0]
    assert dump[ports[0][0]] == (1, 1)  # the keyboard: GSI 1 = PIRQ 1 = Xen IRQ 1
    assert dump[first_msi] == (879, 48)  # create_irq: the first dynamic IRQ is nr_irqs_gsi
    assert dump[last_msi] == (825, 102)


def test_r720_example_carries_the_numbers_xen_gives() -> None:
    hw = get_hardware(str(R720))
    stated = [(n.pirq, n.irq) for n in hw.irq_map]
    # The same file without its per-source numbers: Xen's allocation order gives exactly the stated ones.
    bare = Hardware.model_validate(
        {
            **hw.model_dump(),
            "irq_sources": [{**s.model_dump(), "pirq": None, "irq": None} for s in hw.irq_sources],
        }
    )
    assert [(n.pirq, n.irq) for n in bare.irq_map] == stated
    assert stated[6] == (1295, 50)  # ahci: top of 1296 PIRQs; Xen IRQs 48, 49 are the VT-d units'
    assert stated[-1] == (1249, 96)  # the last ixgbe vector
    host = Host.create("xen-4.17", hw)
    lines = format_lsevtchn(host.hv, 0).stdout
    assert "  58: VCPU 2: Physical IRQ 1295\n" in lines
    assert " 104: VCPU 0: Physical IRQ 1249\n" in lines


def test_explicit_numbers_and_vcpus_are_what_the_host_shows(tmp_path: Path) -> None:
    p = tmp_path / "box.yaml"
    p.write_text(
        "host_pcpus: 8\nhost_memory_mib: 65536\ndom0_vcpus: 2\ndom0_memory_mib: 2048\n"
        "dom0_nr_pirqs: 300\nirq_sources:\n"
        "  - {name: sci, kind: gsi, gsi: 9}\n"
        "  - {name: nic, kind: msi, count: 2, pirq: 250, irq: 70, vcpus: [1, 1]}\n"
        "  - {name: disk, kind: msi, count: 2}\n"
    )
    hw = get_hardware(str(p))
    # The nic's own numbers (down from 250, up from 70); the disk takes the top of 300 and Xen's first IRQs.
    assert [(n.source, n.pirq, n.irq, n.vcpu) for n in hw.irq_map] == [
        ("sci", 9, 9, None),
        ("nic", 250, 70, 1),
        ("nic", 249, 71, 1),
        ("disk", 299, 48, None),
        ("disk", 298, 49, None),
    ]
    # Under a 2.6.32 dom0 everything else stays on vCPU 0; the nic is pinned to vCPU 1.
    host = Host.create("xenserver-6.2", hw)
    assert [(v, pirq) for _, v, pirq in _pirq_ports(host)] == [(0, 9), (1, 250), (1, 249), (0, 299), (0, 298)]
    assert {(d.pirq, d.irq) for d in host.hv.dump_domain(0) if d.pirq} == {
        (9, 9),
        (250, 70),
        (249, 71),
        (299, 48),
        (298, 49),
    }


@pytest.mark.parametrize(
    ("source", "line", "field", "message"),
    [
        ("{name: nic, kind: msi, count: 2, pirq: 48}", 7, "irq_sources.0.pirq", "MSI PIRQs 48..47 leave"),
        ("{name: nic, kind: msi, count: 2, pirq: 400}", 7, "irq_sources.0.pirq", "leave 48..299"),
        ("{name: nic, kind: msi, count: 2, irq: 20}", 7, "irq_sources.0.irq", "dynamic, from 48 up"),
        ("{name: nic, kind: msi, count: 2, vcpus: [0]}", 7, "irq_sources.0.vcpus", "lists 1 vCPUs for 2"),
        ("{name: nic, kind: msi, count: 2, vcpus: [0, 2]}", 7, "irq_sources.0.vcpus", "vCPUs 0..1"),
        (
            "{name: nic, kind: msi, count: 2, pirq: 299}\n  - {name: b, kind: msi, pirq: 298}",
            8,
            "irq_sources.1.pirq",
            "PIRQ 298 is 'nic''s already",
        ),
    ],
)
def test_bad_numbers_name_file_line_and_field(
    tmp_path: Path, source: str, line: int, field: str, message: str
) -> None:
    p = tmp_path / "hw.yaml"
    p.write_text(
        "host_pcpus: 8\nhost_memory_mib: 4096\ndom0_vcpus: 2\ndom0_memory_mib: 1024\n"
        f"dom0_nr_pirqs: 300\nirq_sources:\n  - {source}\n"
    )
    with pytest.raises(SpecError) as info:
        get_hardware(str(p))
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"{p}:{line}: field {field}: "), text
    assert message in text


def test_too_small_a_pirq_space_names_its_field(tmp_path: Path) -> None:
    p = tmp_path / "hw.yaml"
    p.write_text(
        "host_pcpus: 8\nhost_memory_mib: 4096\ndom0_vcpus: 2\ndom0_memory_mib: 1024\n"
        "dom0_nr_pirqs: 50\nirq_sources:\n  - {name: nic, kind: msi, count: 3}\n"
    )
    with pytest.raises(SpecError, match=r"hw\.yaml:5: field dom0_nr_pirqs: .*room for 2 MSI PIRQs.*need 3"):
        get_hardware(str(p))


def test_old_files_load_unchanged() -> None:
    # A file without the new fields: Xen's default PIRQ space, numbers in Xen's order, no pins.
    hw = Hardware.model_validate(
        {
            "name": "old",
            "host_pcpus": 16,
            "host_memory_mib": 65536,
            "dom0_vcpus": 4,
            "dom0_memory_mib": 752,
            "irq_sources": [
                {"name": "acpi", "kind": "gsi", "gsi": 9},
                {"name": "nic", "kind": "msi", "count": 3},
            ],
        }
    )
    assert hw.pirq_numbers == [9, 879, 878, 877]
    assert all(n.vcpu is None for n in hw.irq_map)
