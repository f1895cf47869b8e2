"""The objects a client walks: pool, host and its metrics and CPUs, templates, SR/PBD/VDI, network/PIF,
metrics and guest metrics, consoles, with the generic messages and setters of each (issue 10)."""

from __future__ import annotations

from typing import Any

from evtchn.store import Store
from evtchn.toolstack.host import Host
from evtchn.toolstack.spec import VmSpec
from tests.api.sdk import GIB, fails, pv_vm, template

NULL = "OpaqueRef:NULL"


def test_pool_host_and_hardware_objects(x: Any, store: Store[Host]) -> None:
    (pool,) = x.pool.get_all()
    (host,) = x.host.get_all()
    assert x.pool.get_master(pool) == host
    hrec = x.host.get_record(host)
    hw = store.read().hardware
    assert len(hrec["host_CPUs"]) == hw.host_pcpus
    assert sorted(int(x.host_cpu.get_number(c)) for c in hrec["host_CPUs"]) == list(range(hw.host_pcpus))
    metrics = x.host_metrics.get_record(hrec["metrics"])
    assert int(metrics["memory_total"]) == hw.host_memory_mib * 1024**2
    free = int(x.host.compute_free_memory(host))
    assert free == int(metrics["memory_free"]) == (hw.host_memory_mib - hw.dom0_memory_mib) * 1024**2
    assert len(x.host.get_servertime(host)) == len("20260101T00:00:00Z")
    # the SDK's API_version walk: pool -> master -> API_version_major/minor
    assert x.host.get_API_version_major(x.pool.get_master(pool)) == "2"
    assert fails(x.host.compute_free_memory, "OpaqueRef:bad") == ["HANDLE_INVALID", "host", "OpaqueRef:bad"]


def test_network_pif_and_storage(x: Any) -> None:
    pifs = x.PIF.get_all_records()
    devices = sorted(p["device"] for p in pifs.values())
    assert devices == ["eth0", "eth1"]
    for ref, pif in pifs.items():
        net = x.PIF.get_network(ref)
        assert x.network.get_bridge(net) == "xenbr" + pif["device"][3:]
        assert x.network.get_PIFs(net) == [ref]
    (pool,) = x.pool.get_all()
    sr = x.pool.get_default_SR(pool)
    rec = x.SR.get_record(sr)
    assert rec["name_label"] == "Local storage" and rec["physical_utilisation"] == "0"
    (pbd,) = rec["PBDs"]
    assert x.PBD.get_SR(pbd) == sr and x.PBD.get_currently_attached(pbd)
    size = int(rec["physical_size"])
    vdi = x.VDI.create({"SR": sr, "name_label": "data disk", "virtual_size": str(10 * GIB), "type": "user",
                        "sharable": False, "read_only": False, "other_config": {}})  # fmt: skip
    assert x.VDI.get_virtual_size(vdi) == str(10 * GIB)
    assert x.SR.get_physical_utilisation(sr) == str(10 * GIB) and x.SR.get_VDIs(sr) == [vdi]
    assert x.VDI.get_by_name_label("data disk") == [vdi]
    free = size - 10 * GIB
    too_big = {"SR": sr, "virtual_size": str(free + 1)}
    assert fails(x.VDI.create, too_big) == ["SR_FULL", str(free + 1), str(free)]
    x.VDI.destroy(vdi)
    assert x.SR.get_physical_utilisation(sr) == "0" and x.VDI.get_all() == []
    assert fails(x.VDI.destroy, vdi) == ["HANDLE_INVALID", "VDI", vdi]


def test_templates_clone_provision_and_guest_metrics(x: Any, store: Store[Host]) -> None:
    recs = x.VM.get_all_records()
    names = {v["name_label"] for v in recs.values() if v["is_a_template"]}
    assert {"Other install media", "Debian Bullseye 11", "Windows Server 2019 (64-bit)"} <= names
    debian = template(x, "Debian")
    windows = template(x, "Windows")
    assert recs[windows]["domain_type"] == "hvm" and recs[windows]["platform"]["viridian"] == "true"
    assert "<provision>" in recs[debian]["other_config"]["disks"]
    assert fails(x.VM.start, debian, False, False) == ["VM_IS_TEMPLATE", debian, "start"]
    assert fails(x.VM.destroy, debian) == ["VM_IS_TEMPLATE", debian, "destroy"]
    # install.py's sequence: clone, VIF on the lowest PIF's network, PV args, provision onto the default SR
    vm = x.VM.clone(debian, "new")
    assert x.VM.get_is_a_template(vm) is False and x.VM.get_name_label(vm) == "new"
    net = x.PIF.get_network(sorted(x.PIF.get_all_records().items(), key=lambda kv: kv[1]["device"])[0][0])
    x.VIF.create({"device": "0", "network": net, "VM": vm, "MAC": "", "MTU": "1500",
                  "qos_algorithm_type": "", "qos_algorithm_params": {}, "other_config": {}})  # fmt: skip
    x.VM.set_PV_args(vm, "noninteractive")
    assert x.VM.get_PV_args(vm) == "noninteractive"
    disks = x.VM.get_other_config(vm)["disks"]
    x.VM.remove_from_other_config(vm, "disks")
    x.VM.add_to_other_config(vm, "disks", disks)
    assert fails(x.VM.add_to_other_config, vm, "disks", "x")[0] == "MAP_DUPLICATE_KEY"
    x.VM.provision(vm)
    (vbd,) = x.VM.get_VBDs(vm)
    vdi = x.VBD.get_VDI(vbd)
    assert x.VDI.get_virtual_size(vdi) == str(8 * GIB) and "disks" not in x.VM.get_other_config(vm)
    assert x.VM.get_guest_metrics(vm) == NULL
    x.VM.start(vm, False, True)
    gm = x.VM.get_guest_metrics(vm)
    assert x.VM_guest_metrics.get_os_version(gm)["name"].startswith("Debian")
    assert x.VM_guest_metrics.get_networks(gm)["0/ip"].startswith("10.0.")
    (console,) = x.VM.get_consoles(vm)
    assert x.console.get_protocol(console) == "vt100" and x.console.get_VM(console) == vm
    metrics = x.VM.get_metrics(vm)
    assert x.VM_metrics.get_memory_actual(metrics) == str(512 * 1024**2)
    # the toolstack holds it, with its dom0 ports
    host = store.read()
    (mine,) = [v for v in host.vms.values() if v.uuid == x.VM.get_uuid(vm)]
    assert mine.power_state == "Running" and host.vm_dom0_ports(mine.name)["vbd"]
    # a running VM's VDI cannot go; a halted one's can, and the VBD is left empty
    assert fails(x.VDI.destroy, vdi) == ["VDI_IN_USE", vdi, "destroy"]
    x.VM.hard_shutdown(vm)
    x.VDI.destroy(vdi)
    assert x.VBD.get_VDI(vbd) == NULL


def test_free_text_names_duplicates_and_setters(x: Any, store: Store[Host]) -> None:
    a = x.VM.create({"name_label": "Windows Server 2019 (1)"})
    b = x.VM.create({"name_label": "Windows Server 2019 (1)"})
    assert sorted(x.VM.get_by_name_label("Windows Server 2019 (1)")) == sorted([a, b])
    x.VM.set_name_label(a, "Ünïcode ☃")
    assert x.VM.get_name_label(a) == "Ünïcode ☃" and x.VM.get_by_name_label("Ünïcode ☃") == [a]
    x.VM.set_name_description(a, "two words")
    x.VM.add_tags(a, "web")
    x.VM.add_tags(a, "web")
    assert x.VM.get_tags(a) == ["web"]
    x.VM.remove_tags(a, "web")
    assert x.VM.get_tags(a) == []
    x.VM.set_VCPUs_max(a, "4")
    x.VM.set_VCPUs_at_startup(a, "3")
    x.VM.set_memory_limits(a, str(GIB), str(2 * GIB), str(2 * GIB), str(2 * GIB))
    rec = x.VM.get_record(a)
    assert (rec["VCPUs_max"], rec["VCPUs_at_startup"], rec["memory_static_max"]) == ("4", "3", str(2 * GIB))
    assert fails(x.VM.set_VCPUs_at_startup, a, "5") == ["INVALID_VALUE", "VCPUs_at_startup", "5"]
    assert fails(x.VM.set_memory_limits, a, "2", "1", "1", "1") == ["MEMORY_CONSTRAINT_VIOLATION_ORDER"]
    # the toolstack's spec follows, under a toolstack name made from the label
    specs = {v.uuid: v.spec for v in store.read().vms.values()}
    spec: VmSpec = specs[x.VM.get_uuid(a)]
    assert (spec.vcpus, spec.maxvcpus, spec.memory_mib) == (3, 4, 2048)
    x.VM.start(b, False, False)
    assert fails(x.VM.set_VCPUs_max, b, "2") == ["VM_BAD_POWER_STATE", b, "halted", "running"]


def test_get_all_records_where(x: Any) -> None:
    pv_vm(x, "w1")
    vm2 = pv_vm(x, "w2")
    x.VM.start(vm2, False, False)
    running = x.VM.get_all_records_where(
        'field "power_state" = "Running" and field "is_control_domain" = "false"'
    )
    assert list(running) == [vm2]
    templates = x.VM.get_all_records_where('field "is_a_template"="true"')
    assert len(templates) == 3 and all(v["is_a_template"] for v in templates.values())
    named = x.VM.get_all_records_where('field "name__label" = "w1" or field "name__label" = "w2"')
    assert sorted(v["name_label"] for v in named.values()) == ["w1", "w2"]
    nothing = x.VM.get_all_records_where('not (true) and field "uuid" = "x"')
    assert nothing == {}
    assert fails(x.VM.get_all_records_where, 'field "power_state" =')[0:2] == ["INVALID_VALUE", "expr"]


def test_host_resident_vms_and_evacuation(x: Any) -> None:
    (host,) = x.host.get_all()
    vm = pv_vm(x, "ev")
    x.VM.start(vm, False, False)
    assert vm in x.host.get_resident_VMs(host)
    assert x.host.get_vms_which_prevent_evacuation(host) == {vm: ["NO_HOSTS_AVAILABLE"]}
    assert fails(x.host.evacuate, host) == ["NO_HOSTS_AVAILABLE"]
    x.VM.clean_shutdown(vm)
    assert vm not in x.host.get_resident_VMs(host)
    assert x.host.get_vms_which_prevent_evacuation(host) == {}
    x.host.evacuate(host)
