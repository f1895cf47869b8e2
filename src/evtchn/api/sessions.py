"""Who may log in, and the sessions they hold (reference §11: session.login_with_password / logout).

    creds = Credentials(user="root", password="s3cret")     # or Credentials.insecure()
    sessions = Sessions(creds)
    ref = sessions.login("root", "s3cret")                  # ApiFailure SESSION_AUTHENTICATION_FAILED
    sessions.check(ref)                                     # ApiFailure SESSION_INVALID [ref]

With no password configured every login fails: nothing is accepted silently, except one case xapi makes
too: a client on the owner-only (0600) Unix socket that logs in as root is trusted without a password (the
socket's mode is the check; the server tells us through `CLIENT`). TCP always needs the password.

Failed logins are throttled per client (IP address, or the Unix peer's uid): after `free` failures each
further one doubles a wait (up to `max_delay` s) during which that client's logins are refused unchecked.
Sessions live in the server process (a restart logs everyone out, as restarting xapi does for non-pool
sessions); at most `max_sessions` are held, the oldest is destroyed first.
"""

from __future__ import annotations

import hmac
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from evtchn.api.errors import ApiFailure

ENV_PASSWORD = "EVTCHN_PASSWORD"


class CredentialsError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Credentials:
    user: str = "root"
    password: str | None = None
    allow_any: bool = False  # the explicit --insecure-no-auth switch

    @classmethod
    def insecure(cls) -> Credentials:
        return cls(allow_any=True)

    @classmethod
    def configure(
        cls,
        user: str,
        password_file: str | None,
        *,
        insecure: bool = False,
        env: dict[str, str] | None = None,
    ) -> Credentials:
        """From `--password-file FILE` (first line), else `$EVTCHN_PASSWORD`; `insecure` accepts anything."""
        environ = os.environ if env is None else env
        password: str | None = None
        if password_file is not None:
            p = Path(password_file)
            try:
                lines = p.read_text(encoding="utf-8").splitlines()
            except OSError as e:
                raise CredentialsError(f"{p}: cannot read password file: {e.strerror or e}") from None
            except UnicodeDecodeError:
                raise CredentialsError(f"{p}: password file is not UTF-8 text") from None
            if not lines or not lines[0]:
                raise CredentialsError(f"{p}:1: expected the password on the first line, found nothing")
            password = lines[0]
        elif environ.get(ENV_PASSWORD):
            password = environ[ENV_PASSWORD]
        return cls(user=user, password=password, allow_any=insecure)

    def accepts(self, user: str, password: str) -> bool:
        if self.allow_any:
            return True
        if self.password is None:
            return False
        ok_user = hmac.compare_digest(user.encode(), self.user.encode())
        ok_pw = hmac.compare_digest(password.encode(), self.password.encode())
        return ok_user and ok_pw


@dataclass(frozen=True, slots=True)
class Client:
    """Who is calling: a throttling key, and whether a root login is trusted (owner-only Unix socket)."""

    name: str
    trusted_root: bool = False


CLIENT: ContextVar[Client] = ContextVar("evtchn_api_client", default=Client("in-process"))  # noqa: B039 (frozen)

MAX_SESSIONS = 4096
MAX_TRACKED_CLIENTS = 4096


class Sessions:
    def __init__(
        self,
        credentials: Credentials,
        *,
        free: int = 5,
        max_delay: float = 30.0,
        max_sessions: int = MAX_SESSIONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.credentials = credentials
        self.free, self.max_delay, self.max_sessions, self.clock = free, max_delay, max_sessions, clock
        self._live: OrderedDict[str, str] = OrderedDict()  # ref -> user, oldest first
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()  # client -> (count, until)
        self._lock = threading.Lock()

    def login(self, user: object, password: object) -> str:
        client = CLIENT.get()
        now = self.clock()
        with self._lock:
            count, until = self._failures.get(client.name, (0, 0.0))
        if now < until:
            raise ApiFailure(
                "SESSION_AUTHENTICATION_FAILED",
                user if isinstance(user, str) else "",
                f"too many failed logins from {client.name}; try again in {until - now:.0f} s",
            )
        if not isinstance(user, str) or not isinstance(password, str):
            self._failed(client, count, now)
            raise ApiFailure("SESSION_AUTHENTICATION_FAILED")
        local_root = client.trusted_root and user == "root"
        if not local_root and not self.credentials.accepts(user, password):
            self._failed(client, count, now)
            raise ApiFailure("SESSION_AUTHENTICATION_FAILED")
        ref = f"OpaqueRef:{uuid.uuid4()}"
        with self._lock:
            self._failures.pop(client.name, None)
            self._live[ref] = user
            while len(self._live) > self.max_sessions:
                self._live.popitem(last=False)
        return ref

    def _failed(self, client: Client, count: int, now: float) -> None:
        count += 1
        over = count - self.free
        until = now + min(self.max_delay, 0.5 * 2.0 ** min(over, 16)) if over > 0 else 0.0
        with self._lock:
            self._failures[client.name] = (count, until)
            self._failures.move_to_end(client.name)
            while len(self._failures) > MAX_TRACKED_CLIENTS:
                self._failures.popitem(last=False)

    def check(self, ref: object) -> None:
        if not isinstance(ref, str) or ref not in self._live:
            raise ApiFailure("SESSION_INVALID", ref if isinstance(ref, str) else "")

    def valid(self, ref: object) -> bool:
        return isinstance(ref, str) and ref in self._live

    def logout(self, ref: object) -> None:
        self.check(ref)
        with self._lock:
            self._live.pop(str(ref), None)

    def __len__(self) -> int:
        return len(self._live)
