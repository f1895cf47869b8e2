# The compiled line scanner (_cscan.c); evtchn.inspect.cscan is its typed front.
from typing_extensions import Buffer

def split(data: Buffer, n: int, /) -> tuple[bytearray, bytearray]: ...
def edump_ports(
    data: Buffer,
    starts: Buffer,
    ends: Buffer,
    ok: Buffer,
    x_first: Buffer,
    port: Buffer,
    kind: Buffer,
    vcpu: Buffer,
    rdom: Buffer,
    rport: Buffer,
    num: Buffer,
    xen: Buffer,
    abi: Buffer,
    body: Buffer,
    /,
) -> int: ...
def ls_ports(
    data: Buffer,
    starts: Buffer,
    ends: Buffer,
    cand: Buffer,
    ok: Buffer,
    port: Buffer,
    kind: Buffer,
    vcpu: Buffer,
    rdom: Buffer,
    rport: Buffer,
    num: Buffer,
    /,
) -> int: ...
def quiet(
    data: Buffer, starts: Buffer, ends: Buffer, idx: Buffer, words: tuple[bytes, ...], out: Buffer, /
) -> int: ...
