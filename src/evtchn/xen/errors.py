"""Xen's errno values and the one exception a hypercall raises.

    XenError(Errno.ENOSPC, "alloc_unbound", "domain 0 has no free port")

Errno numbers are identical in Xen and Linux (reference, preamble: xen/include/public/errno.h).
"""

from __future__ import annotations

import enum
import os


class Errno(enum.IntEnum):
    EPERM = 1
    ENOENT = 2
    ESRCH = 3
    EAGAIN = 11
    ENOMEM = 12
    EACCES = 13
    EFAULT = 14
    EBUSY = 16
    EEXIST = 17
    EINVAL = 22
    EFBIG = 27
    ENOSPC = 28
    ENOSYS = 38
    EOPNOTSUPP = 95
    EISCONN = 106
    ENOTCONN = 107

    @property
    def strerror(self) -> str:
        """The C library's text, e.g. "No space left on device" for ENOSPC."""
        return os.strerror(int(self))


class XenError(Exception):
    """A hypercall failed: `errno` is what the guest sees as -errno, `op` the EVTCHNOP name (or a full
    name such as XEN_DOMCTL_createdomain for another hypercall)."""

    def __init__(self, errno: Errno, op: str, detail: str = "") -> None:
        self.errno = errno
        self.op = op
        self.detail = detail
        text = f"{op if op.startswith('XEN_') else 'EVTCHNOP_' + op}: -{errno.name} ({int(errno)})"
        super().__init__(f"{text}: {detail}" if detail else text)

    @property
    def code(self) -> int:
        return int(self.errno)

    @property
    def name(self) -> str:
        return self.errno.name
