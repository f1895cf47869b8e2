"""The exit codes every evtchn command uses (documented in docs/cli.md).

    0  done / yes
    1  a "no" answer: `can-start` says it would not fit, `plan --simulate` disagrees, an abort
    2  usage or input error: a typo, a bad file, an unknown or ambiguous VM, a busy or foreign host file,
       an operation the VM's power state does not allow
    3  the host refused a VM start (dom0 out of event channels, memory, ...): the request was well formed
       and the VM is Halted again with nothing it took left held (as `xl create` exits non-zero on failure)
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_NO = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
