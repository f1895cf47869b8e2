"""Method table for the XenAPI endpoint: name → handler and arity, checked in xapi's order.

    d = Dispatcher(Sessions(Credentials.insecure()))
    d.add("VM.get_record", service.vm_get_record, ["vm"])        # session is implied and counted
    d.call("VM.get_record", [session_ref, vm_ref])

Unknown name → MESSAGE_METHOD_UNKNOWN [method]; wrong count → MESSAGE_PARAMETER_COUNT_MISMATCH
[method; expected; received], counts including the session (reference §11); then the session is checked.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from evtchn.api.errors import ApiFailure
from evtchn.api.sessions import Sessions

log = logging.getLogger("evtchn.api")

ANSWER_KEY_MAX = 256  # characters of arguments a cached answer may be keyed on
ANSWER_CACHE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Method:
    name: str
    fn: Callable[..., Any]
    params: tuple[str, ...]
    session: bool
    pure: bool = False  # a read: its answer depends only on the committed host and its arguments

    @property
    def arity(self) -> int:
        return len(self.params) + (1 if self.session else 0)


class Dispatcher:
    """`snapshot()`, if given, opens a consistent read of the host and yields its generation: pure calls
    run inside one, and their encoded answers are reused until the generation moves on."""

    def __init__(
        self, sessions: Sessions, snapshot: Callable[[], AbstractContextManager[int]] | None = None
    ) -> None:
        self.sessions = sessions
        self.snapshot = snapshot
        self.methods: dict[str, Method] = {}
        # Other HTTP pages served beside XenAPI, by path prefix (the dashboard mounts "/ui"): a handler gets
        # the request handler and the HTTP verb. Mounted from above (evtchn.ui), so api never imports it.
        self.mounts: dict[str, Callable[[Any, str], None]] = {}
        self._answers: dict[tuple[str, ...], bytes] = {}
        self._answers_bytes = 0  # bounded by entries and bytes; keys are short (ANSWER_KEY_MAX)
        self._answers_generation = -1
        self._answers_lock = threading.Lock()
        self.add("session.login_with_password", self._login, ["uname", "pwd", "version", "originator"], False)
        self.add("session.logout", self.sessions.logout, [], True, pass_session=True)
        self.add("system.listMethods", lambda: sorted(self.methods), [], False)

    def add(
        self,
        name: str,
        fn: Callable[..., Any],
        params: Sequence[str],
        session: bool = True,
        *,
        pass_session: bool = False,
        pure: bool = False,
    ) -> None:
        handler = fn if not session or pass_session else _drop_first(fn)
        self.methods[name] = Method(name, handler, tuple(params), session, pure)

    def respond(
        self, name: str, params: list[Any], encode: Callable[[Callable[[], Any]], bytes], kind: str
    ) -> bytes:
        """The encoded answer to one call. A pure call with a valid session and string arguments is answered
        from a consistent snapshot, and its bytes are kept for the same call until the host changes."""
        method = self.methods.get(name)
        cacheable = (
            self.snapshot is not None
            and method is not None
            and method.pure
            and len(params) == method.arity
            and all(isinstance(p, str) for p in params)
            and sum(len(p) for p in params[1:]) <= ANSWER_KEY_MAX  # a ref, not client-sized data
            and self.sessions.valid(params[0])
        )
        if not cacheable or self.snapshot is None:
            return encode(lambda: self.call(name, params))
        key = (kind, name, *params[1:])
        snap = self.snapshot()
        try:
            generation = snap.__enter__()
        except Exception:  # the host file cannot be read now: call() reports it as INTERNAL_ERROR
            return encode(lambda: self.call(name, params))
        try:
            with self._answers_lock:
                if generation != self._answers_generation:
                    self._answers.clear()
                    self._answers_bytes = 0
                    self._answers_generation = generation
                hit = self._answers.get(key)
            if hit is not None:
                return hit
            out = encode(lambda: self.call(name, params))
        finally:
            snap.__exit__(None, None, None)
        with self._answers_lock:
            fits = self._answers_bytes + len(out) <= ANSWER_CACHE_BYTES and len(self._answers) < 4096
            if generation == self._answers_generation and fits and key not in self._answers:
                self._answers[key] = out
                self._answers_bytes += len(out)
        return out

    def _login(self, uname: Any, pwd: Any, version: Any, originator: Any) -> str:
        return self.sessions.login(uname, pwd)

    def call(self, name: str, params: list[Any]) -> Any:
        method = self.methods.get(name)
        if method is None:
            raise ApiFailure("MESSAGE_METHOD_UNKNOWN", name)
        # login_with_password also exists with 2 and 3 parameters (API 1.1 / 1.2)
        if name == "session.login_with_password" and 2 <= len(params) <= 4:
            return self.sessions.login(params[0], params[1])
        if len(params) != method.arity:
            raise ApiFailure("MESSAGE_PARAMETER_COUNT_MISMATCH", name, method.arity, len(params))
        if method.session:
            self.sessions.check(params[0])
        try:
            return method.fn(*params)
        except ApiFailure:
            raise
        except Exception as e:  # a bug must not take the server down; xapi reports these the same way
            log.error("%s failed:\n%s", name, traceback.format_exc())
            raise ApiFailure("INTERNAL_ERROR", f"{type(e).__name__}: {e}") from e


def _drop_first(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(_session: Any, *args: Any) -> Any:
        return fn(*args)

    return call
