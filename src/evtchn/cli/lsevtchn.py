"""The `lsevtchn` console script: the real tool's argv, run against the current simulated host.

    lsevtchn 0 | wc -l                 # dom0's ports on the default host
    lsevtchn --host lab.db 36          # another host file (or EVTCHN_HOST=lab.db lsevtchn 36)

Apart from `--host FILE` (or `--host=FILE`), arguments mean what they mean to tools/xcutils/lsevtchn.c
(reference §9.1): the first is the domid read by strtol (not a number → 0), the rest are ignored. The tool's
version is the simulated hypervisor's unless EVTCHN_LSEVTCHN_VERSION=X.Y says otherwise.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from evtchn.inspect.cparse import domid_arg

if TYPE_CHECKING:
    from evtchn.xen.hypervisor import Hypervisor

VERSION_ENV = "EVTCHN_LSEVTCHN_VERSION"


class HostUnavailable(Exception):
    """The simulated host cannot be opened (no file, not a host file, store missing)."""


def _load_hypervisor(path: str | None, domids: list[int] | None = None) -> Hypervisor:
    """The current host's hypervisor, read-only: `path`, else $EVTCHN_HOST, else the store's default.

    Only `domids` (None: every domain) are read, from their rows: the toolstack is never imported."""
    from evtchn.store import StoreError
    from evtchn.store.reads import any_hypervisor, open_lazy

    try:
        return any_hypervisor(open_lazy(path), domids)
    except StoreError as e:
        raise HostUnavailable(str(e)) from None


def split_host_option(args: list[str]) -> tuple[str | None, list[str]]:
    """Take `--host FILE` / `--host=FILE` out of argv[1:]; the rest keeps its order. ValueError if bare."""
    host: str | None = None
    rest: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--host":
            if i + 1 >= len(args):
                raise ValueError("--host needs a host file")
            host = args[i + 1]
            i += 2
            continue
        if a.startswith("--host="):
            host = a.split("=", 1)[1]
            if not host:
                raise ValueError("--host needs a host file")
        else:
            rest.append(a)
        i += 1
    return host, rest


def tool_version(default: tuple[int, int]) -> tuple[int, int]:
    """EVTCHN_LSEVTCHN_VERSION=X.Y, else `default`. ValueError naming the variable if malformed."""
    text = os.environ.get(VERSION_ENV)
    if not text:
        return default
    parts = text.strip().split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{VERSION_ENV}={text!r}: expected a Xen version like 4.20")
    return int(parts[0]), int(parts[1])


def run(argv: list[str]) -> tuple[str, str, int]:
    """(stdout, stderr, exit code) for a full argv (argv[0] is the program name)."""
    from evtchn.inspect.lsevtchn import format_lsevtchn

    try:
        host, rest = split_host_option(argv[1:])
    except ValueError as e:
        return "", f"lsevtchn: {e}\n", 2
    domid = domid_arg([argv[0], *rest])
    try:
        hv = _load_hypervisor(host, [0, domid])  # the caller (dom0) and the domain it lists
        version = tool_version(hv.settings.xen_version)
    except (HostUnavailable, ValueError) as e:
        return "", f"lsevtchn: {e}\n", 1
    return format_lsevtchn(hv, domid, tool_version=version)


def main(argv: list[str] | None = None) -> int:
    out, err, code = run(list(sys.argv if argv is None else argv))
    try:
        sys.stdout.write(out)
        sys.stdout.flush()
    except BrokenPipeError:  # `lsevtchn 0 | head`: the reader went away, as with the C tool
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.stderr.write(err)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
