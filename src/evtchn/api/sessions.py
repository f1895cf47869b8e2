"""Who may log in, and the sessions they hold (reference §11: session.login_with_password / logout).

    creds = Credentials(user="root", password="s3cret")     # or Credentials.insecure()
    sessions = Sessions(creds)
    ref = sessions.login("root", "s3cret")                  # ApiFailure SESSION_AUTHENTICATION_FAILED
    sessions.check(ref)                                     # ApiFailure SESSION_INVALID [ref]

With no password configured every login fails: nothing is accepted silently. Sessions live in the
server process (a restart logs everyone out, as restarting xapi does for non-pool sessions).
"""

from __future__ import annotations

import hmac
import os
import threading
import uuid
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


class Sessions:
    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials
        self._live: dict[str, str] = {}  # ref -> user
        self._lock = threading.Lock()

    def login(self, user: object, password: object) -> str:
        if not isinstance(user, str) or not isinstance(password, str):
            raise ApiFailure("SESSION_AUTHENTICATION_FAILED")
        if not self.credentials.accepts(user, password):
            raise ApiFailure("SESSION_AUTHENTICATION_FAILED")
        ref = f"OpaqueRef:{uuid.uuid4()}"
        with self._lock:
            self._live[ref] = user
        return ref

    def check(self, ref: object) -> None:
        if not isinstance(ref, str) or ref not in self._live:
            raise ApiFailure("SESSION_INVALID", ref if isinstance(ref, str) else "")

    def valid(self, ref: str) -> bool:
        return ref in self._live

    def logout(self, ref: object) -> None:
        self.check(ref)
        with self._lock:
            self._live.pop(str(ref), None)

    def __len__(self) -> int:
        return len(self._live)
