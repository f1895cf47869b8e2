"""Profiles and hardware are data with sources; users add their own in a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from evtchn.toolstack import (
    BUILTIN_PROFILES,
    Host,
    ProfileError,
    SpecError,
    dom0_baseline,
    get_hardware,
    get_profile,
    seed_vm_spec,
    vm_cost,
)
from evtchn.toolstack.costs import kernel_binds

# The settings that decide a port count or a failure text must each say where they come from.
PLUMBING = [
    "dom0_kernel",
    "pv_guest_kernel",
    "hvm_guest_kernel",
    "console_hvm",
    "vbd_backend",
    "netback_split",
    "dm_ports_per_vcpu",
    "dm_bufioreq",
    "ioreq_at_domain_create",
    "store_failure",
    "console_failure",
    "dm_failure",
    "guest_alloc_failure",
    "vbd_error",
    "vif_error",
    "guest_max_evtchn_port",
    "xen_version",
]


@pytest.mark.parametrize("name", sorted(BUILTIN_PROFILES))
def test_every_plumbing_value_has_a_source(name: str) -> None:
    p = get_profile(name)
    missing = [f for f in PLUMBING if not p.sources.get(f)]
    assert missing == []
    assert all(k in type(p).model_fields for k in p.sources), "a source for a field that does not exist"


def test_the_profiles_say_what_the_issue_says() -> None:
    names = ("xenserver-6.1", "xenserver-6.2", "xenserver-6.5", "xenserver-8", "xen-xl")
    p61, p62, p65, p8, xl = (get_profile(n) for n in names)
    assert (p61.dom0_width, p61.dom0_abi_limit, p61.console_hvm) == (32, 1024, False)
    assert (p62.dom0_width, p62.dom0_abi_limit) == (32, 4096)
    assert (p65.dom0_width, p65.dom0_abi_limit) == (64, 4096)
    assert p8.dom0_abi_limit == 131072 and p8.dom0_kernel.fifo
    assert xl.guest_max_evtchn_port == 1023 and xl.console_hvm and xl.netback_split
    assert xl.blkback_max_queues is None and xl.netback_max_queues is None  # multi-queue: dom0 CPUs
    hw = get_hardware(None)
    seed = seed_vm_spec()
    assert vm_cost(p61, hw, seed).by_kind["device_model"] == 1
    assert vm_cost(p62, hw, seed).by_kind["device_model"] == 2  # per-vCPU + buffered ioreq (§13.1)
    two = seed.model_copy(update={"vcpus": 2})
    assert vm_cost(p62, hw, two).by_kind["device_model"] == 3  # documented reading, not 2 × vCPUs
    assert vm_cost(xl, hw, seed).by_kind["console"] == 1


def test_seed_guest_kernel_binds_like_the_sample() -> None:
    # VIRQ 0, IPI, IPI, VIRQ 1, IPI on vCPU 0 (reference §10)
    binds = kernel_binds(get_profile("xenserver-6.2").pv_guest_kernel, 1)
    assert [b.split(":")[0] + ("" if b.startswith("ipi") else b[4:]) for _, b in binds] == [
        "virq:0",
        "ipi",
        "ipi",
        "virq:1",
        "ipi",
    ]


def test_default_hardware_baseline_in_the_blogs_range() -> None:
    hw = get_hardware(None)
    for name in BUILTIN_PROFILES:
        b = dom0_baseline(get_profile(name), hw)
        assert 50 <= sum(b.values()) <= 100, name
        assert Host.create(name).dom0_ports_used() == sum(b.values())


def test_user_profile_file_inherits_and_overrides(tmp_path: Path) -> None:
    p = tmp_path / "my.yaml"
    p.write_text(
        "base: xenserver-6.2\nname: my-host\ndm_bufioreq: false\n"
        "dom0_kernel:\n  per_vcpu: ['virq:0', 'ipi:resched']\n"
        "sources:\n  dm_bufioreq: our lab notes\n"
    )
    prof = get_profile(str(p))
    assert prof.name == "my-host" and not prof.dm_bufioreq
    assert prof.dom0_kernel.per_vcpu == ["virq:0", "ipi:resched"]
    assert prof.dom0_kernel.global_virqs == get_profile("xenserver-6.2").dom0_kernel.global_virqs
    assert prof.sources["dm_bufioreq"] == "our lab notes"
    assert prof.sources["dom0_kernel"] == str(p)
    assert prof.sources["vbd_error"] == get_profile("xenserver-6.2").sources["vbd_error"]
    host = Host.create(prof)
    host.define_vm(seed_vm_spec("a"))
    before = host.dom0_ports_used()
    host.start_vm("a")
    assert host.dom0_ports_used() - before == 6


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("base: xenserver-9\n", "field base: unknown built-in profile 'xenserver-9'"),
        ("base: xen-xl\ndm_bufioreq: maybe\n", "field dm_bufioreq: "),
        ("base: xen-xl\nwarp_drive: 1\n", "field warp_drive: unknown field"),
        ("base: xen-xl\ndom0_kernel:\n  per_vcpu: ['timer']\n", "field dom0_kernel.per_vcpu: "),
        ("base: xen-xl\ndom0_max_evtchns: 2000\n", "dom0_max_evtchns must be 1024 or 4096"),
        ("name: bare\n", "field description: field required"),
        ("base: xen-xl\nstart_order: [VBD_plug]\n", "start_order must order exactly"),
        ("base: xen-xl\nstart_order: [a, b, c, d, e]\n", "field start_order.0: "),
        ("base: [xen-xl]\n", "field base: expected the name of a built-in profile"),
        # Failure templates are checked when the file loads, not when dom0 first runs out.
        ("base: xen-xl\ndm_failure: {message: 'qemu {oops}'}\n", "unknown placeholder {oops}"),
        (
            "base: xen-xl\nstore_failure: {message: m, xenapi_params: ['{0}']}\n",
            "field store_failure.xenapi_params",
        ),
        ("base: xen-xl\nvbd_error: '{errno} ring {ring}'\n", "field vbd_error: "),
        ("base: xen-xl\nvif_error: '{errno} {tx_ref'\n", "field vif_error: "),
        ("base: xen-xl\nvif_ctrl_error: '{errno} {tx}'\n", "field vif_ctrl_error: "),
        ("base: xen-xl\ndevice_error_display: 'error {errno}'\n", "field device_error_display: "),
        ("base: xen-xl\nfrontend_alloc_error: '{port}'\n", "field frontend_alloc_error: "),
        ("base: xen-xl\npv_guest_kernel: {bug_line: 'BUG {where}'}\n", "field pv_guest_kernel.bug_line: "),
        ("base: xen-xl\ndom0_kernel: {per_vcpu: ['virq:24']}\n", "field dom0_kernel.per_vcpu: "),
        # 0 queues is not "dom0's vCPUs" (that is null); it is refused, not read as the default.
        ("base: xen-xl\nblkback_max_queues: 0\n", "field blkback_max_queues: "),
        ("base: xen-xl\nnetback_max_queues: 0\n", "field netback_max_queues: "),
    ],
)
def test_bad_profile_files(tmp_path: Path, text: str, expected: str) -> None:
    p = tmp_path / "p.yaml"
    p.write_text(text)
    with pytest.raises(SpecError) as info:
        get_profile(str(p))
    assert info.value.message.startswith(str(p))
    assert expected in info.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('base = "xen-xl"\ndm_bufioreq = \n', "p.toml:2: not valid TOML: "),
        ('base = "xen-xl"\nstart_order = [\n', "p.toml:2: not valid TOML: "),  # error at end of file
    ],
)
def test_bad_toml_profile_names_the_line(tmp_path: Path, text: str, expected: str) -> None:
    p = tmp_path / "p.toml"
    p.write_text(text)
    with pytest.raises(SpecError) as info:
        get_profile(str(p))
    assert info.value.message.startswith(str(tmp_path / expected))


def test_unknown_profile_name() -> None:
    with pytest.raises(ProfileError, match="xenserver-7: no such profile file or built-in profile"):
        get_profile("xenserver-7")


def test_user_hardware_file(tmp_path: Path) -> None:
    p = tmp_path / "box.toml"
    p.write_text(
        "host_pcpus = 8\nhost_memory_mib = 65536\ndom0_vcpus = 2\ndom0_memory_mib = 2048\n"
        '[[irq_sources]]\nname = "nic"\nkind = "msi"\ncount = 3\n'
        '[[irq_sources]]\nname = "acpi"\nkind = "gsi"\ngsi = 9\n'
    )
    hw = get_hardware(str(p))
    # Bound in the file's order; MSI PIRQs from the top of dom0's PIRQ space down (xen arch/x86/irq.c
    # get_free_pirq): 48 + min(fls(8), 2) x 208 = 464 PIRQs (arch_hwdom_irqs), so 463, 462, 461.
    assert hw.name == "box" and hw.pirqs == 4 and hw.pirq_numbers == [463, 462, 461, 9]
    b = dom0_baseline(get_profile("xenserver-6.1"), hw)
    assert b == {"virq": 2 * 2 + 1 + 1, "ipi": 2 * 4, "pirq": 4, "xenbus": 2}
    host = Host.create("xenserver-6.1", hw)
    assert host.dom0_ports_used() == sum(b.values())
    p.write_text("host_pcpus = 8\n")
    with pytest.raises(SpecError, match=r"box\.toml: field host_memory_mib: field required"):
        get_hardware(str(p))
    p2 = tmp_path / "dup.yaml"
    p2.write_text(
        "name: d\nhost_pcpus: 1\nhost_memory_mib: 1024\ndom0_vcpus: 1\ndom0_memory_mib: 512\n"
        "irq_sources: [{name: a, kind: gsi, gsi: 4}, {name: b, kind: gsi, gsi: 4}]\n"
    )
    with pytest.raises(SpecError, match="share a GSI"):
        get_hardware(str(p2))


def test_xenconsoled_logging_the_hypervisor_binds_con_ring(tmp_path: Path) -> None:
    p = tmp_path / "log.yaml"
    p.write_text("base: xen-xl\nname: xl-log-hv\nxenconsoled_log_hv: true\n")
    prof = get_profile(str(p))
    plain = Host.create("xen-xl")
    host = Host.create(prof)
    assert host.dom0_ports_used() == plain.dom0_ports_used() + 1
    port = host.xenconsoled.held["virq"][0]
    st = host.hv.status(0, 0, port)
    assert (int(st.status), st.virq) == (4, 8)  # EVTCHNSTAT_virq, VIRQ_CON_RING (reference §6)


def test_ca140252_workaround_keeps_legacy_port_numbers() -> None:
    """With the workaround, vcpus unbound ports come first and cost dom0 nothing (reference §8.1, §8.4)."""
    prof = get_profile("xenserver-8").model_copy(update={"ca140252_workaround": True})
    host = Host.create(prof)
    spec = seed_vm_spec("w").model_copy(update={"vcpus": 2})
    host.define_vm(spec)
    before = host.dom0_ports_used()
    vm = host.start_vm("w")
    assert host.dom0_ports_used() - before == vm_cost(prof, host.hardware, spec).total
    d = vm.domid or 0
    assert host.xenstore.read(f"/local/domain/{d}/store/port") == "3"
    for port in (1, 2):
        st = host.hv.status(0, d, port)
        assert (int(st.status), st.dom) == (1, 0)  # unbound, remote domain 0: "Waiting connection"
    host.check_invariants()


def test_pvh_guests_take_the_hvm_smp_path_on_xl() -> None:
    prof = get_profile("xen-xl")
    pv = kernel_binds(prof.guest_kernel("pv"), 2)
    pvh = kernel_binds(prof.guest_kernel("pvh"), 2)
    assert ("ipi:irqwork" in {b for _, b in pv}) and ("ipi:irqwork" not in {b for _, b in pvh})
    assert get_profile("xenserver-8").guest_kernel("pvh") is get_profile("xenserver-8").pv_guest_kernel


def test_xl_spawns_the_device_model_before_plugging_devices() -> None:
    """On xl a qemu failure happens before any backend directory is written (libxl_create.c)."""
    from evtchn.toolstack import StartError
    from tests.toolstack.helpers import hardware_leaving, small_dom0

    seen = {}
    for name in ("xen-xl", "xenserver-6.2"):
        prof = small_dom0(get_profile(name))
        host = Host.create(prof, hardware_leaving(prof, 1 + int(prof.console_hvm)))  # store (+console) fit
        host.define_vm(seed_vm_spec("w"))
        writes = host.xenstore.writes
        with pytest.raises(StartError) as info:
            host.start_vm("w")
        assert info.value.op == "VM_create_device_model"
        seen[name] = host.xenstore.writes - writes
    # xenopsd plugged 3 VBDs and a VIF (dozens of keys) before qemu; libxl had not.
    assert seen["xenserver-6.2"] - seen["xen-xl"] > 30


def test_hardware_must_be_consistent(tmp_path: Path) -> None:
    p = tmp_path / "hw.yaml"
    p.write_text("host_pcpus: 2\nhost_memory_mib: 4096\ndom0_vcpus: 4\ndom0_memory_mib: 1024\n")
    with pytest.raises(
        SpecError, match=r"hw\.yaml: field \(top level\): .*dom0_vcpus 4 exceeds host_pcpus 2"
    ):
        get_hardware(str(p))


def test_vif_control_ring_costs_one_more_port() -> None:
    """netback's optional ctrl ring: +1 dom0 port per VIF when the frontend uses it (reference §7.2)."""
    xl = get_profile("xen-xl")
    assert xl.netback_ctrl_ring and not xl.pv_guest_kernel.netfront_ctrl_ring  # Linux netfront: no ctrl
    kernel = xl.pv_guest_kernel.model_copy(update={"netfront_ctrl_ring": True})
    prof = xl.model_copy(update={"pv_guest_kernel": kernel})
    spec = seed_vm_spec("c").model_copy(update={"type": "pv"})
    hw = get_hardware(None)
    assert vm_cost(prof, hw, spec).by_kind["vif"] == vm_cost(xl, hw, spec).by_kind["vif"] + 1
    host = Host.create(prof)
    host.define_vm(spec)
    vm = host.start_vm("c")
    front = f"/local/domain/{vm.domid}/device/vif/0"
    ctrl = int(host.xenstore.read(f"{front}/event-channel-ctrl"))
    vif = vm.devices[-1]
    assert vif.connected and vif.guest_ports[-1] == ctrl and len(vif.dom0_ports) == 3
    host.check_invariants()


def test_the_other_reading_of_two_per_vcpu(tmp_path: Path) -> None:
    p = tmp_path / "two.yaml"
    p.write_text("base: xenserver-6.2\nname: two-per-vcpu\ndm_ports_per_vcpu: 2\ndm_bufioreq: false\n")
    prof, ours = get_profile(str(p)), get_profile("xenserver-6.2")
    hw = get_hardware(None)
    one, four = seed_vm_spec(), seed_vm_spec().model_copy(update={"vcpus": 4})
    assert vm_cost(prof, hw, one).total == vm_cost(ours, hw, one).total == 7  # the blog's example agrees
    assert (
        vm_cost(prof, hw, four).by_kind["device_model"],
        vm_cost(ours, hw, four).by_kind["device_model"],
    ) == (
        8,
        5,
    )
    host = Host.create(prof)
    host.define_vm(four)
    before = host.dom0_ports_used()
    host.start_vm(four.name)
    assert host.dom0_ports_used() - before == vm_cost(prof, hw, four).total
    host.check_invariants()
