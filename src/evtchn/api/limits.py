"""The endpoint's limits, one place, each with where its value comes from (docs/server-limits.md).

Limits()                          # the defaults `evtchn serve` runs with
Limits(max_connections=8)         # a test that wants to reach the cap quickly
"""

from __future__ import annotations

from dataclasses import dataclass

KIB = 1024


@dataclass(frozen=True, slots=True)
class Limits:
    # xapi reads at most 300 KiB of an RPC body (xen-api: ocaml/xapi/xapi_globs.ml http_limit_max_rpc_size)
    max_body: int = 300 * KIB
    # request line + headers; http.server's own line limit is 64 KiB
    max_header: int = 64 * KIB
    # arrays/structs (XML-RPC) or arrays/objects (JSON-RPC) inside one call; XenAPI's deepest type is a
    # map of sets of records, about 5 levels
    max_depth: int = 64
    # a body larger than this is pre-scanned for its method and session before it is parsed
    prescan_above: int = 16 * KIB
    # connections held at once; one more is answered 503 (the process keeps well under its fd limit)
    max_connections: int = 4096
    # seconds a keep-alive connection may sit between requests
    idle_timeout: float = 60.0
    # seconds from a request's first byte to its last
    request_timeout: float = 30.0
    # seconds a client has to take its answer
    write_timeout: float = 30.0
    # threads that run complete requests (store writes serialise anyway)
    workers: int = 16
    # listen() backlog
    backlog: int = 512
