"""Console sessions: who is logged in, and the token that guards their forms.

A browser cannot send the API's ``Authorization`` header by itself, so the login form takes
the same credentials (the operator's bearer token or basic user and password, or a tenant's
token), checks them with the API's :class:`~aidevops.auth.Authenticator` and opens a session:
a random id in an ``HttpOnly``, ``SameSite=Strict`` (and ``Secure``) cookie, kept in this
process's memory with what it may do (:class:`~aidevops.auth.Access`) and a CSRF token
(synchronizer token pattern). No credential is kept: only who it proved to be.

Examples
--------
>>> store = SessionStore(ttl_seconds=60, clock=lambda: 0.0)
>>> s = store.open(Access("team-a"))
>>> store.get(s.sid) is s, store.get("nope"), s.csrf_ok(s.csrf), s.csrf_ok("x")
(True, None, True, False)
>>> store.close(s.sid); store.get(s.sid)
"""

from __future__ import annotations

import base64
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from aidevops.auth import Access, Authenticator

__all__ = ["COOKIE", "Session", "SessionStore", "login"]

COOKIE = "aidevops_console"


@dataclass(frozen=True, slots=True)
class Session:
    """One logged-in browser: who it acts as and its form token."""

    sid: str
    access: Access
    csrf: str
    expires_at: float

    def csrf_ok(self, presented: str | None) -> bool:
        """Whether a form carried this session's token (compared in constant time)."""
        return bool(presented) and hmac.compare_digest(
            (presented or "").encode(), self.csrf.encode()
        )


class SessionStore:
    """Sessions in memory, each for ``ttl_seconds``; the oldest go beyond ``max_sessions``.

    In memory on purpose: nothing to configure or leak, at the price that a restart of the
    API (or a second replica) asks to log in again.
    """

    def __init__(
        self,
        *,
        ttl_seconds: float = 8 * 3600.0,
        max_sessions: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self._max = max_sessions
        self._clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def __repr__(self) -> str:
        return f"SessionStore({len(self._sessions)} sessions)"

    def open(self, access: Access) -> Session:
        session = Session(
            secrets.token_urlsafe(32),
            access,
            secrets.token_urlsafe(32),
            self._clock() + self.ttl_seconds,
        )
        self._sessions[session.sid] = session
        while len(self._sessions) > self._max:
            self._sessions.popitem(last=False)
        return session

    def get(self, sid: str | None) -> Session | None:
        """The live session with id ``sid``; an expired one is forgotten."""
        if not sid:
            return None
        session = self._sessions.get(sid)
        if session is None:
            return None
        if session.expires_at <= self._clock():
            del self._sessions[sid]
            return None
        return session

    def close(self, sid: str | None) -> None:
        if sid:
            self._sessions.pop(sid, None)


def login(auth: Authenticator, username: str, password: str, token: str) -> Access | None:
    """Who the login form's credentials prove to be, or ``None``.

    A token is checked as a bearer token (the operator's or a tenant's); a user name and
    password as HTTP basic credentials. With no credential configured at all, anyone is the
    operator, as on the API.

    >>> from pydantic import SecretStr
    >>> auth = Authenticator(SecretStr("op"), "admin", SecretStr("pw"),
    ...                      tenant_tokens={"team-a": SecretStr("ta")})
    >>> login(auth, "", "", "ta"), login(auth, "admin", "pw", ""), login(auth, "admin", "x", "")
    (Access(tenant='team-a'), Access(tenant=None), None)
    >>> login(auth, "", "", "")
    """
    if token.strip():
        return auth.access(f"Bearer {token.strip()}")
    if username and password:
        basic = base64.b64encode(f"{username}:{password}".encode()).decode()
        return auth.access(f"Basic {basic}")
    return auth.access(None) if not auth.enabled else None
