"""The readers added for issue 11: /proc/interrupts in every kernel layout and from a guest, xenstore-ls,
the error messages admins have, pasted text, and refusals that say what a file looks like (§7.4, §8.3,
§9.3, §12). Every input is written here in the real format, from the format's source, and where a
public post shows the same format the test says which."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from evtchn.cli import main as evtchn_main
from evtchn.inspect import Kind, ParseError, analyze, format_lsevtchn, parse_file, parse_text
from evtchn.inspect.findings import Cause
from evtchn.inspect.model import Source
from tests.inspect.hosts import dom0_host, pv_guest

# ---------------------------------------------------------------- /proc/interrupts, three layouts

# One dom0's Xen IRQs, as (chip, handler, action). Rendered by each kernel's kernel/irq/proc.c:
# older kernels print " %8s" chip then "-%-8s" handler with nothing between (joined names); later ones
# print the chip, a blank hwirq column and "-handler"; GENERIC_IRQ_SHOW_LEVEL kernels add " %-8s"
# Edge/Level before the handler.
_DOM0_IRQS = [
    ("xen-pirq", "ioapic-edge", "i8042"),
    ("xen-percpu", "virq", "timer0"),
    ("xen-percpu", "ipi", "resched0"),
    ("xen-percpu", "virq", "debug0"),
    ("xen-dyn", "event", "xenbus"),
    ("xen-dyn", "event", "hvc_console"),
    ("xen-dyn", "event", "evtchn:xenstored"),
    ("xen-dyn", "event", "blkif-backend"),
    ("xen-dyn", "event", "vif7.0-q0-tx"),
    ("xen-dyn", "event", "vif7.0-q0-rx"),
]


def _render(rows: list[tuple[str, str, str]], layout: str) -> str:
    out = ["           CPU0       CPU1       "]
    for irq, (chip, handler, action) in enumerate(rows, start=24):
        counts = f"{irq * 7:10d} {0:10d}"
        if layout == "joined":
            mid = f" {chip + '-' + handler:>8}"
        elif layout == "separate":
            mid = f" {chip:>8}     -{handler:<8}"
        else:
            level = "Level" if handler.endswith("level") else "Edge"
            mid = f" {chip:>8}     {level:<8}-{handler:<8}"
        out.append(f"{irq:4d}: {counts}{mid}  {action}")
    out.append(" NMI:          0          0   Non-maskable interrupts")
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("layout", ["joined", "separate", "level"])
def test_proc_interrupts_every_kernel_layout_reads_the_same(layout: str) -> None:
    dump = parse_text(_render(_DOM0_IRQS, layout))
    (t,) = dump.tables
    assert dump.bad == [] and t.source is Source.INTERRUPTS and t.domid == 0 and not t.guest
    kinds = [Kind(k) for k in t.kind.tolist()]
    assert kinds == [Kind.PIRQ, Kind.VIRQ, Kind.IPI, Kind.VIRQ] + [
        Kind.VIRQ if n == "hvc_console" else Kind.INTERDOMAIN
        for n in ("xenbus", "hvc_console", "x", "y", "z", "w")
    ]
    # hvc_console in dom0 is VIRQ_CONSOLE (2), whatever the layout: the Edge column is not part of a name.
    assert t.number.tolist()[5] == 2 and t.names is not None and t.names[5] == "hvc_console"
    assert t.remote_dom.tolist()[-2:] == [7, 7]
    assert ("joined" in t.layout) == (layout == "joined") and ("Edge/Level" in t.layout) == (
        layout == "level"
    )
    a = analyze(dump, vm_cost=6)
    assert a.dom0_total == 10 and a.abi_candidates == ["2l-32", "2l-64"]  # debug0: 2-level (§12)


def test_guest_proc_interrupts_is_the_guests_own_table() -> None:
    """A guest's file, in the joined layout of an Ubuntu 14.04 guest on XenServer as posted in
    https://github.com/mikaku/Monitorix/issues/77 (per-CPU timer/spinlock/resched/callfunc/debug/
    callfuncsingle/irqwork, then xenbus, hvc_console, blkif and the NIC's queues), rewritten here."""
    rows = [
        ("xen-percpu", h, f"{a}{cpu}")
        for cpu in (0, 1)
        for h, a in (
            ("virq", "timer"),
            ("ipi", "spinlock"),
            ("ipi", "resched"),
            ("ipi", "callfunc"),
            ("virq", "debug"),
            ("ipi", "callfuncsingle"),
            ("ipi", "irqwork"),
        )
    ]
    rows += [
        ("xen-dyn", "event", n) for n in ("xenbus", "hvc_console", "blkif", "blkif", "eth0-tx", "eth0-rx")
    ]
    dump = parse_text(_render(rows, "joined"), name="guest-interrupts.txt")
    (t,) = dump.tables
    assert t.guest and t.domid is None
    counts = t.kind_counts()
    assert counts == {Kind.INTERDOMAIN: 6, Kind.VIRQ: 4, Kind.IPI: 10}
    # In a guest, hvc_console is the PV console channel to dom0, not VIRQ_CONSOLE.
    assert t.remote_dom.tolist()[-6:] == [0] * 6
    a = analyze(dump)
    assert a.dom0_total is None and a.by_abi == {} and a.worst_headroom() is None
    assert any("guest's own table" in n for n in a.notes)
    (g,) = a.guests
    assert (g.ports, g.to_dom0) == (20, 6)
    res = CliRunner().invoke(evtchn_main, ["analyze", "-"], input=_render(rows, "joined"))
    assert "a guest's" in res.stdout and "guest /proc/interrupts" in res.stdout
    doc = json.loads(
        CliRunner().invoke(evtchn_main, ["analyze", "-", "--json"], input=_render(rows, "joined")).stdout
    )
    (tj,) = doc["tables"]
    assert tj["guest_file"] is True and tj["domain"] is None and tj["actions"]["blkif"] == 2
    assert doc["limit"] is None and doc["headroom_by_abi"] == {}


def test_netfront_queue_names_in_a_guest_are_frontends() -> None:
    """Multi-queue netfront in a guest whose NIC is called vif0, as in
    https://github.com/Irqbalance/irqbalance/pull/81 ("xen-dyn    -event     vif0-q0-tx"): no dot, so not
    a dom0 backend vif<domid>.<handle>."""
    rows = [("xen-dyn", "event", f"vif0-q{q}-{d}") for q in range(4) for d in ("tx", "rx")]
    rows.insert(0, ("xen-percpu", "virq", "timer0"))
    (t,) = parse_text(_render(rows, "separate")).tables
    assert t.guest and t.kind_counts()[Kind.INTERDOMAIN] == 8


# ---------------------------------------------------------------- xenstore-ls

_XS_TREE = """\
local = ""
 domain = ""
  0 = ""
   name = "Domain-0"
   backend = ""
    vbd = ""
     5 = ""
      51712 = ""
       frontend = "/local/domain/5/device/vbd/51712"
       state = "4"
      51728 = ""
       state = "5"
    vif = ""
     5 = ""
      0 = ""
       state = "4"
   error = ""
    backend = ""
     vbd = ""
      5 = ""
       51728 = ""
        error = "28 mapping ring-ref port 9"
  5 = ""
   name = "web01"
   store = ""
    port = "1"
   console = ""
    port = "2"
   device = ""
    vbd = ""
     51712 = ""
      backend-id = "0"
      state = "4"
      event-channel = "8"
     51728 = ""
      backend-id = "0"
      state = "3"
      event-channel = "9"
    vif = ""
     0 = ""
      backend-id = "0"
      state = "4"
      multi-queue-num-queues = "2"
      queue-0 = ""
       event-channel-tx = "10"
       event-channel-rx = "11"
      queue-1 = ""
       event-channel-tx = "12"
       event-channel-rx = "13"
"""


def _xs_check(text: str) -> None:
    dump = parse_text(text)
    assert dump.bad == [] and dump.tables == [] and dump.xenstore is not None
    xs = dump.xenstore
    assert xs.domains[5].name == "web01" and (xs.domains[5].store_port, xs.domains[5].console_port) == (1, 2)
    disk, failed, nic = (
        xs.devices[5, "vbd", "51712"],
        xs.devices[5, "vbd", "51728"],
        xs.devices[5, "vif", "0"],
    )
    assert disk.connected and disk.ports == {"event-channel": 8} and disk.backend_domid == 0
    assert not failed.connected and failed.backend_state == 5 and failed.error == "28 mapping ring-ref port 9"
    assert nic.split and nic.queues == 2 and sorted(nic.ports.values()) == [10, 11, 12, 13]
    a = analyze(dump)
    assert [(s.domid, "vbd 51728" in s.why) for s in a.short] == [(5, True)]


def test_xenstore_ls_tree() -> None:
    _xs_check(_XS_TREE)


def test_xenstore_ls_full_paths_and_subtrees() -> None:
    """`xenstore-ls -f` prints full paths; `xenstore-ls /local/domain` starts at the domids."""
    stack: list[str] = []
    full = []
    for line in _XS_TREE.splitlines():
        depth = len(line) - len(line.lstrip(" "))
        key, value = line.strip().split(" = ", 1)
        del stack[depth:]
        stack.append(key)
        full.append("/" + "/".join(stack) + " = " + value)
    _xs_check("\n".join(full) + "\n")
    sub = "\n".join(line[2:] for line in _XS_TREE.splitlines()[2:]) + "\n"
    _xs_check(sub)


def test_xenstore_json_attributes_devices() -> None:
    res = CliRunner().invoke(evtchn_main, ["analyze", "-", "--json"], input=_XS_TREE)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["inputs"]["kinds"] == ["xenstore-ls"]
    devs = {(d["domid"], d["kind"], d["devid"]): d for d in doc["xenstore"]["devices"]}
    assert devs[5, "vif", "0"]["split"] is True and devs[5, "vif", "0"]["queues"] == 2
    assert devs[5, "vbd", "51728"]["error"] == "28 mapping ring-ref port 9"


# ---------------------------------------------------------------- error messages

_MESSAGES = [
    # blkback's xenbus_dev_fatal through a kernel log (§8.3a).
    ("[ 8123.456789] vbd vbd-12-51744: 28 mapping ring-ref port 7", Cause.DOM0_OUT, 12, 28),
    # The older blkback text with the ring-ref number (§8.3).
    ("vbd vbd-3-768: 28 mapping ring-ref 8 port 5", Cause.DOM0_OUT, 3, 28),
    ("[  99.1] vif vif-12-0: 28 mapping shared-frames 2304/2305 port tx 9 rx 10", Cause.DOM0_OUT, 12, 28),
    ("[    4.2] vif vif-0: 28 allocating event channel", Cause.GUEST_OUT, None, 28),
    # Xen 4.4.3, release build, as quoted in reference §2 from https://github.com/QubesOS/qubes-issues/issues/1491
    ("(XEN) event_channel.c:271:d0 EVTCHNOP failure: domain 9, error -22", Cause.BAD_ARGUMENT, 9, 22),
    ("(XEN) common/event_channel.c:380:d0v3 EVTCHNOP failure: error -28", Cause.DOM0_OUT, None, 28),
    # mini-os's message with its rc, as posted in https://github.com/mirage/mirage-platform/pull/153
    ("ERROR: bind_interdomain failed with rc=-22", Cause.BAD_ARGUMENT, None, 22),
    ('Dec  6 18:00:01 xs oxenstored: Failure "evtchn bind_interdomain failed"', Cause.DOM0_OUT, None, None),
    (
        'xenopsd internal error: Device.Ioemu_failed("domid 14", "QMP failure at ...")',
        Cause.DEVICE_MODEL,
        14,
        None,
    ),
    (
        "libxl: error: libxl_create.c:1845:console_xswait_callback: domain 31 console tty: timed out",
        Cause.DOM0_OUT,
        31,
        None,
    ),
]


@pytest.mark.parametrize(("text", "cause", "domid", "errno"), _MESSAGES)
def test_error_messages_are_explained_and_tied_to_a_cause(
    text: str, cause: Cause, domid: int | None, errno: int | None
) -> None:
    dump = parse_text(text + "\n", name="log.txt")
    assert dump.bad == []
    (m,) = dump.messages
    assert (m.cause, m.domid, m.errno, m.lineno, m.file) == (cause, domid, errno, 1, "log.txt")
    assert m.explanation and m.what


def test_messages_in_a_log_with_other_lines() -> None:
    log = "".join(t + "\n" for t, *_ in _MESSAGES) + "[    0.000000] Linux version 6.1.0\n"
    res = CliRunner().invoke(evtchn_main, ["analyze", "-", "--json"], input=log)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert [m["cause"] for m in doc["messages"]] == [c.value for _t, c, *_ in _MESSAGES]
    assert doc["unrecognised"] == [] and "error messages" in doc["inputs"]["kinds"]
    text = CliRunner().invoke(evtchn_main, ["analyze", "-"], input=log).stdout
    assert "message: <stdin>:1: blkback could not connect a disk [dom0-out-of-channels]" in text


# ---------------------------------------------------------------- pasted text


def test_pasted_text_is_unwrapped_and_the_output_says_so() -> None:
    hv = dom0_host(baseline=20)
    pv_guest(hv, 3)
    plain = format_lsevtchn(hv, 0).stdout
    want = analyze(parse_text(plain))
    quoted = "".join(
        f">     {line}   \r\n" for line in plain.splitlines()
    )  # mail quote, indent, spaces, CRLF
    dump = parse_text(quoted)
    assert dump.bad == [] and dump.ports == want.dom0_total
    assert any("quoting" in u for u in dump.unwrapped) and any("trailing spaces" in u for u in dump.unwrapped)
    res = CliRunner().invoke(evtchn_main, ["analyze", "-"], input=quoted)
    assert "unwrapped: removed '> ' mail quoting" in res.stdout


def test_indented_dump_is_dedented() -> None:
    """An 'e' dump without "(XEN) " pasted into a forum post as a 4-space code block."""
    from evtchn.inspect import format_edump

    hv = dom0_host(baseline=10)
    pv_guest(hv, 2)
    text = "".join(f"    {line}\n" for line in format_edump(hv).splitlines())
    dump = parse_text(text)
    assert dump.bad == [] and {t.domid for t in dump.tables} == {0, 2}
    assert dump.unwrapped == ["removed an indentation of 4 characters from every line"]


def test_host_timestamps_before_xen_prefix_are_removed() -> None:
    """A serial console logged by the host: "2026-12-06T18:00:01 host (XEN) ..." lines."""
    from evtchn.inspect import format_edump

    hv = dom0_host(baseline=10)
    pv_guest(hv, 2)
    text = "".join(
        f"2026-12-06T18:00:{i % 60:02d} xs01 {line}\n"
        for i, line in enumerate(format_edump(hv, prefix=True).splitlines())
    )
    dump = parse_text(text)
    assert dump.bad == [] and {t.domid for t in dump.tables} == {0, 2}
    assert any("before '(XEN)'" in u for u in dump.unwrapped)


def test_clean_input_is_never_rewritten() -> None:
    dump = parse_text(format_lsevtchn(dom0_host(baseline=5), 0).stdout)
    assert dump.unwrapped == []


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("content", "looks"),
    [
        ('{"vms": []}\n', "JSON"),
        (
            "Name      ID   Mem VCPUs      State   Time(s)\nDomain-0 0 4096 4 r----- 10.0\n",
            "`xl list` output",
        ),
        ("", "an empty file"),
        ("\0\1\2binary\n", "a binary file"),
    ],
)
def test_refusal_names_what_the_file_looks_like(tmp_path: Path, content: str, looks: str) -> None:
    p = tmp_path / "input.txt"
    p.write_text(content)
    with pytest.raises(ParseError, match=f"it looks like {looks}".replace("(", r"\(").replace(")", r"\)")):
        parse_file(p)
    res = CliRunner().invoke(evtchn_main, ["analyze", str(p)])
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and looks in res.stderr


# ---------------------------------------------------------------- serial console logs


def _serial_log() -> str:
    """Xen boot lines with console timestamps, the dom0 kernel's log, two 'e' dumps, a message."""
    from evtchn.inspect import format_edump

    hv = dom0_host(baseline=12)
    for d in (1, 2):
        pv_guest(hv, d)
    boot = [
        "(XEN) [    0.000100] Xen version 4.17.3 (mockbuild@) (gcc) debug=n",
        "(XEN) [    0.000200] Domain heap initialised",
        "(XEN) [    0.000300]  VGA is text mode 80x25, font 8x16",
        "(XEN) [    0.000400] Enabling APIC mode.  Using 2 I/O APICs",
        "(XEN) [    0.000500] Dom0 has maximum 856 PIRQs",
        "[    0.386745] xen:events: Using FIFO-based ABI",
        "[    1.000000] NET: Registered protocol family 2",
        "[   12.000000] vbd vbd-2-51712: 28 mapping ring-ref port 9",
    ]
    dump = [f"(XEN) [   20.{i:06d}] {line}" for i, line in enumerate(format_edump(hv).splitlines())]
    return "\n".join(boot + dump + ["[   21.000000] random: crng init done"] + dump) + "\n"


def test_serial_console_log_fast_and_line_paths_agree() -> None:
    text = _serial_log()
    fast, slow = parse_text(text), parse_text(text, fast=False)
    for d in (fast, slow):
        assert d.bad == [] and d.accounted() == text.count("\n")
    assert [(t.domid, t.port.tolist(), t.kind.tolist()) for t in fast.tables] == [
        (t.domid, t.port.tolist(), t.kind.tolist()) for t in slow.tables
    ]
    assert (fast.other, fast.recognised, fast.blank) == (slow.other, slow.recognised, slow.blank)
    assert [(m.lineno, m.cause) for m in fast.messages] == [(m.lineno, m.cause) for m in slow.messages]
    assert sorted((e.lineno, e.value) for e in fast.evidence) == [(1, "4.17"), (6, "fifo")]
    # This simulated dom0 is 2-level (its 'e' dump prints 2L's ABI field) while the pasted kernel line
    # says FIFO: contradicting evidence is reported, not silently resolved.
    a = analyze(fast)
    assert a.abi is None and a.abi_candidates == ["2l-32", "2l-64"]
    assert any("contradicts" in e for e in a.abi_evidence)


def test_files_that_only_look_close_are_refused(tmp_path: Path) -> None:
    """A non-Xen machine's /proc/interrupts (no Xen chip) is no dom0 table, and TOML's `key = "value"`
    lines are not xenstore-ls output: neither may yield a headroom."""
    irq = tmp_path / "interrupts"
    irq.write_text("           CPU0       CPU1\n  0:         13          0   IO-APIC    2-edge      timer\n")
    with pytest.raises(ParseError, match="not on Xen"):
        parse_file(irq)
    toml = tmp_path / "pyproject.toml"
    toml.write_text('[project]\nname = "evtchn"\nversion = "1.0"\n')
    with pytest.raises(ParseError, match="INI or TOML"):
        parse_file(toml)
    # Next to a real dump, the empty /proc/interrupts is left out with a note, not taken as dom0's.
    dump = parse_text(irq.read_text() + format_lsevtchn(dom0_host(baseline=5), 0).stdout)
    assert [t.source for t in dump.tables] == [Source.LSEVTCHN]
    assert any("no Xen event-channel IRQ" in n for n in dump.notes)
