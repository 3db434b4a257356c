"""Credentials on every port that serves or takes data: receiver, read API, worker /metrics.

Two kinds of credential, both from the environment (:class:`~aidevops.settings.AuthSettings`):

* the operator's: a bearer token and/or HTTP basic credentials (what Prometheus sends with
  ``authorization`` or ``basic_auth``); it may act for any tenant, named by the tenant
  header;
* a tenant's: ``AIDEVOPS_TENANT_TOKENS`` maps each tenant to its own bearer token; that
  token acts for its tenant only, whatever a header says.

When neither is configured every request is accepted, as the operator.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import SecretStr

if TYPE_CHECKING:
    from aidevops.settings import AuthSettings

__all__ = ["Access", "Authenticator"]


@dataclass(frozen=True, slots=True)
class Access:
    """Who a request acts as: the operator (any tenant) or one tenant."""

    tenant: str | None  # None: the operator, who may name any tenant

    def resolve(self, requested: str | None, default: str) -> str | None:
        """The tenant the request may act for, or ``None`` if it asks for another one.

        >>> Access(None).resolve("team-a", "default"), Access(None).resolve(None, "default")
        ('team-a', 'default')
        >>> Access("team-a").resolve(None, "default"), Access("team-a").resolve("team-b", "x")
        ('team-a', None)
        """
        if self.tenant is None:
            return requested or default
        if requested and requested != self.tenant:
            return None
        return self.tenant


class Authenticator:
    """Accepts a bearer token, HTTP basic credentials, or either when both are configured.

    Secrets are compared with :func:`hmac.compare_digest`, in time independent of where
    they differ.

    >>> auth = Authenticator(bearer_token=SecretStr("s3cret"))
    >>> auth.enabled, auth.check("Bearer s3cret"), auth.check("Bearer nope"), auth.check(None)
    (True, True, False, False)
    >>> basic = Authenticator(username="prom", password=SecretStr("pw"))
    >>> basic.check("Basic " + base64.b64encode(b"prom:pw").decode())
    True
    >>> Authenticator().check(None)
    True
    """

    def __init__(
        self,
        bearer_token: SecretStr | None = None,
        username: str | None = None,
        password: SecretStr | None = None,
        tenant_tokens: Mapping[str, SecretStr] | None = None,
    ):
        self._tenants = [
            (tenant, token.get_secret_value().encode())
            for tenant, token in (tenant_tokens or {}).items()
        ]
        self._token = bearer_token.get_secret_value().encode() if bearer_token else None
        self._basic = (
            (username.encode(), password.get_secret_value().encode())
            if username is not None and password is not None
            else None
        )

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> Authenticator:
        return cls(
            settings.auth_bearer_token,
            settings.auth_basic_username,
            settings.auth_basic_password,
            settings.tenant_tokens,
        )

    @property
    def enabled(self) -> bool:
        return self._token is not None or self._basic is not None or bool(self._tenants)

    def access(self, authorization: str | None) -> Access | None:
        """Who ``authorization`` (an ``Authorization`` header) acts as; ``None``: nobody.

        >>> auth = Authenticator(SecretStr("op"), tenant_tokens={"team-a": SecretStr("ta")})
        >>> auth.access("Bearer op"), auth.access("Bearer ta"), auth.access("Bearer x")
        (Access(tenant=None), Access(tenant='team-a'), None)
        """
        if not self.enabled:
            return Access(None)
        if self.check(authorization):
            return Access(None)
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not self._tenants:
            return None
        presented = credentials.strip().encode()
        found = None
        for tenant, token in self._tenants:  # compare with all: time says nothing of which
            if hmac.compare_digest(presented, token):
                found = tenant
        return Access(found) if found is not None else None

    @property
    def challenge(self) -> str:
        """The ``WWW-Authenticate`` value sent with 401."""
        return 'Basic realm="aidevops"' if self._basic else 'Bearer realm="aidevops"'

    def check(self, authorization: str | None) -> bool:
        """Whether ``authorization`` carries the operator's credentials."""
        if self._token is None and self._basic is None:
            return not self._tenants
        if not authorization:
            return False
        scheme, _, credentials = authorization.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer" and self._token is not None:
            return hmac.compare_digest(credentials.strip().encode(), self._token)
        if scheme == "basic" and self._basic is not None:
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True)
            except (binascii.Error, ValueError):
                return False
            user, sep, password = decoded.partition(b":")
            # Evaluate both comparisons so the time taken does not reveal which one failed.
            user_ok = hmac.compare_digest(user, self._basic[0])
            password_ok = hmac.compare_digest(password, self._basic[1])
            return bool(sep) and user_ok and password_ok
        return False
