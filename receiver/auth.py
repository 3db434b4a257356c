"""Checking the credentials Prometheus sends with ``authorization`` or ``basic_auth``."""

from __future__ import annotations

import base64
import binascii
import hmac

from pydantic import SecretStr

__all__ = ["Authenticator"]


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
    ):
        self._token = bearer_token.get_secret_value().encode() if bearer_token else None
        self._basic = (
            (username.encode(), password.get_secret_value().encode())
            if username is not None and password is not None
            else None
        )

    @property
    def enabled(self) -> bool:
        return self._token is not None or self._basic is not None

    @property
    def challenge(self) -> str:
        """The ``WWW-Authenticate`` value sent with 401."""
        return 'Basic realm="aidevops"' if self._basic else 'Bearer realm="aidevops"'

    def check(self, authorization: str | None) -> bool:
        if not self.enabled:
            return True
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
