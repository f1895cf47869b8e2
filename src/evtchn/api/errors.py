"""XenAPI failures: a code and its string parameters, in XenAPI's order (reference §11).

raise ApiFailure("HANDLE_INVALID", "VM", ref)   # -> ["HANDLE_INVALID", "VM", "OpaqueRef:…"]
"""

from __future__ import annotations


class ApiFailure(Exception):
    def __init__(self, code: str, *params: object) -> None:
        self.code = code
        self.params = [str(p) for p in params]
        super().__init__(code, *self.params)

    @property
    def description(self) -> list[str]:
        """The ErrorDescription list: code first, every element a string."""
        return [self.code, *self.params]


class MalformedRequest(Exception):
    """The body is not a well-formed XML-RPC / JSON-RPC call: answered with an HTTP error, not an envelope."""
