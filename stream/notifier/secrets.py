"""Secrets of alert routes, by reference: never stored in the table, never logged.

A route names its credential (a Slack bot token or webhook URL, a PagerDuty routing key, a
webhook's bearer token) by reference only:

* ``env:NAME`` — the environment variable ``NAME`` of the notifier process;
* ``arn:aws:secretsmanager:<region>:<account>:secret:<name>`` — an AWS Secrets Manager
  secret (its ``SecretString``), read with the notifier's AWS credentials.

The value is resolved when a message is sent, cached for ``cache_seconds``, wrapped in
:class:`~pydantic.SecretStr` and registered with :mod:`stream.notifier.redaction` so the
HTTP libraries' log records never show it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]
from pydantic import SecretStr

from stream.notifier.errors import DeliveryFailed, SecretUnavailable
from stream.notifier.redaction import install_log_redaction
from stream.storage.alert_configs import check_secret_ref, secret_region

__all__ = ["SecretResolver", "SecretsManagerClient"]

_TRANSIENT = frozenset(
    {"ThrottlingException", "InternalServiceError", "ServiceUnavailable", "RequestTimeout"}
)


class SecretsManagerClient(Protocol):
    """The one call of boto3's ``secretsmanager`` client used here."""

    def get_secret_value(self, *, SecretId: str) -> Mapping[str, Any]: ...  # noqa: N803


class SecretResolver:
    """Resolves secret references (see the module docstring).

    Parameters
    ----------
    environ
        The process environment (``os.environ``, passed in by the entry point).
    secrets_manager
        Builds a Secrets Manager client for a region (boto3's ``client("secretsmanager")``).
    cache_seconds
        How long a resolved value is reused (a rotated secret is picked up after that).
    clock
        Monotonic seconds.

    Examples
    --------
    >>> resolver = SecretResolver({"PD_KEY": "R0UTING"})
    >>> asyncio.run(resolver.resolve("env:PD_KEY"))
    SecretStr('**********')
    >>> asyncio.run(resolver.resolve("env:MISSING"))
    Traceback (most recent call last):
    ...
    stream.notifier.errors.SecretUnavailable: environment variable MISSING is not set
    """

    def __init__(
        self,
        environ: Mapping[str, str],
        *,
        secrets_manager: Callable[[str], SecretsManagerClient] | None = None,
        cache_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._environ = environ
        self._secrets_manager = secrets_manager
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, SecretStr]] = {}
        self._registered: set[str] = set()

    def __repr__(self) -> str:
        return f"SecretResolver({len(self._cache)} cached)"

    async def resolve(self, ref: str) -> SecretStr:
        """The secret ``ref`` names; :class:`SecretUnavailable` or :class:`DeliveryFailed`."""
        check_secret_ref(ref)
        now = self._clock()
        cached = self._cache.get(ref)
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        if ref.startswith("env:"):
            name = ref[4:]
            value = self._environ.get(name)
            if not value:
                raise SecretUnavailable(f"environment variable {name} is not set")
        else:
            value = await asyncio.to_thread(self._from_secrets_manager, ref)
        if value not in self._registered:
            install_log_redaction(value)
            self._registered.add(value)
        secret = SecretStr(value)
        self._cache[ref] = (now, secret)
        return secret

    def _from_secrets_manager(self, arn: str) -> str:
        region = secret_region(arn)
        if self._secrets_manager is None or region is None:
            raise SecretUnavailable(f"secret {arn}: no Secrets Manager client configured")
        try:
            answer = self._secrets_manager(region).get_secret_value(SecretId=arn)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _TRANSIENT:
                raise DeliveryFailed(f"secret {arn}: Secrets Manager {code}") from None
            raise SecretUnavailable(f"secret {arn}: Secrets Manager answered {code}") from None
        except BotoCoreError as exc:
            raise DeliveryFailed(f"secret {arn}: {type(exc).__name__}") from None
        value = answer.get("SecretString")
        if not isinstance(value, str) or not value:
            raise SecretUnavailable(f"secret {arn} has no SecretString")
        return value.strip()
