"""What each older Linux guest kernel prints when a per-vCPU bind fails at boot: file, line, function.

    XS6_GUEST_BUG.template.format(line=XS6_GUEST_BUG.lines["bind_virq_to_irq"], function=...)

A guest whose own event-channel table has no port left for a VIRQ or IPI dies in the binder: the
hypercall's error reaches a BUG in drivers/xen/events.c (drivers/xen/events/events_base.c from 3.14 on),
whose trap lib/bug.c report_bug() prints as "kernel BUG at <file>:<line>!". The callers (arch/x86/xen/
time.c xen_setup_timer for the timer VIRQ, smp.c xen_smp_intr_init for the resched / callfunc /
callfuncsingle / irq_work IPIs and VIRQ_DEBUG, spinlock.c xen_init_lock_cpu for the spinlock IPI) all go
through bind_virq_to_irqhandler / bind_ipi_to_irqhandler, so the BUG is always the binder's own. Read at:

- Linux v2.6.32 (commit 22763c5cf369, "Linux 2.6.32"), drivers/xen/events.c: bind_ipi_to_irq
  `if (HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, ...) != 0) BUG();` at line 397, bind_virq_to_irq
  the same for EVTCHNOP_bind_virq at line 427. lib/bug.c:173 prints "kernel BUG at %s:%u!".
- Linux 3.10.17 (the earliest 3.10 tree read; 3.10.65 and 3.10.99 have the same file, byte for byte),
  drivers/xen/events.c: bind_ipi_to_irq BUG() at line 907; bind_virq_to_irq keeps the error (ret), looks
  for an existing port only on -EEXIST (find_virq, for kexec), then BUG_ON(ret < 0) at line 986: a full
  table's -ENOSPC lands there.

The function a real oops names in its RIP line depends on inlining (bind_ipi_to_irq is static, so a
compiler may fold it into bind_ipi_to_irqhandler) [UNCERTAIN]; the file and line are the BUG's own.
Distribution kernels of those eras (RHEL 6's 2.6.32-xxx, RHEL 7's 3.10.0-xxx) patch the file, so their
line numbers differ [UNCERTAIN: not read].
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KernelBug:
    """One kernel version's BUG text: `template` (KernelFlavour.bug_line), the line of each binder's BUG
    (KernelFlavour.bug_lines), and where they were read."""

    template: str
    lines: dict[str, int]
    source: str


LINUX_2632_BUG = KernelBug(
    template="kernel BUG at drivers/xen/events.c:{line}! RIP: {function}",
    lines={"bind_ipi_to_irq": 397, "bind_virq_to_irq": 427},
    source="linux v2.6.32 (22763c5cf369) drivers/xen/events.c:397 bind_ipi_to_irq BUG(), :427 "
    "bind_virq_to_irq BUG(); lib/bug.c:173 'kernel BUG at %s:%u!'",
)
LINUX_310_BUG = KernelBug(
    template="kernel BUG at drivers/xen/events.c:{line}! RIP: {function}",
    lines={"bind_ipi_to_irq": 907, "bind_virq_to_irq": 986},
    source="linux 3.10.17 (= 3.10.65 = 3.10.99) drivers/xen/events.c:907 bind_ipi_to_irq BUG(), :986 "
    "bind_virq_to_irq BUG_ON(ret < 0) (-ENOSPC is not -EEXIST)",
)
