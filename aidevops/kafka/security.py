"""How every Kafka client of the platform authenticates: one place, from :class:`KafkaSettings`.

:func:`client_security` returns the keyword arguments aiokafka's producer, consumer and
admin client take (``security_protocol``, ``ssl_context``, ``sasl_*``);
:func:`faust_credentials` the same as Faust's ``broker_credentials``. Supported:

- TLS (``SSL``) with the system CAs or a CA file, optionally a client certificate (mutual TLS);
- SASL ``PLAIN``, ``SCRAM-SHA-256``, ``SCRAM-SHA-512`` over TLS or plaintext;
- SASL ``OAUTHBEARER`` with AWS MSK IAM tokens (``aws-msk-iam-sasl-signer-python``, signed
  with the default AWS credential chain, e.g. an ECS task role).

Clients whose callers hand them only a bootstrap string (the receiver's and the workers'
producers, topic creation, checkpoint recovery, ``aidevops tail``) read the same settings
from the environment when they are created: :func:`client_security` with no argument.

>>> client_security(KafkaSettings(kafka_bootstrap_servers="k:9092"))
{'security_protocol': 'PLAINTEXT'}
>>> kwargs = client_security(
...     KafkaSettings(
...         kafka_security_protocol="SASL_SSL",
...         kafka_sasl_mechanism="SCRAM-SHA-512",
...         kafka_sasl_username="svc",
...         kafka_sasl_password="s3cret",
...     )
... )
>>> kwargs["sasl_mechanism"], kwargs["sasl_plain_username"], type(kwargs["ssl_context"]).__name__
('SCRAM-SHA-512', 'svc', 'SSLContext')
"""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import TYPE_CHECKING, Any

from aiokafka.abc import AbstractTokenProvider
from aiokafka.helpers import create_ssl_context

from aidevops.settings import KafkaSettings

if TYPE_CHECKING:
    import faust

__all__ = ["MskIamTokenProvider", "client_security", "faust_credentials", "ssl_context"]

# A token is renewed this long before it expires (MSK IAM tokens live 15 minutes).
_RENEW_BEFORE_SECONDS = 60.0


class MskIamTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    """SASL/OAUTHBEARER tokens for Amazon MSK IAM access control, reused until near expiry.

    Signing reads the default AWS credential chain (environment, ECS task role, instance
    profile), which may do network I/O: it runs in a thread, not on the event loop.
    """

    def __init__(self, region: str) -> None:
        self.region = region
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        async with self._lock:
            if self._token is None or time.time() >= self._renew_at:
                from aws_msk_iam_sasl_signer import (  # type: ignore[import-untyped]
                    MSKAuthTokenProvider,
                )

                token, expiry_ms = await asyncio.to_thread(
                    MSKAuthTokenProvider.generate_auth_token, self.region
                )
                self._token = token
                self._renew_at = expiry_ms / 1000 - _RENEW_BEFORE_SECONDS
            return self._token

    def __repr__(self) -> str:
        return f"MskIamTokenProvider(region={self.region!r})"


def ssl_context(settings: KafkaSettings) -> ssl.SSLContext | None:
    """The TLS context of ``SSL``/``SASL_SSL`` (hostname checked), None without TLS."""
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    password = settings.kafka_ssl_key_password
    context: ssl.SSLContext = create_ssl_context(
        cafile=settings.kafka_ssl_ca_file,
        certfile=settings.kafka_ssl_cert_file,
        keyfile=settings.kafka_ssl_key_file,
        password=password.get_secret_value() if password is not None else None,
    )
    return context


def client_security(settings: KafkaSettings | None = None) -> dict[str, Any]:
    """aiokafka keyword arguments for ``settings`` (read from the environment when None)."""
    if settings is None:
        settings = KafkaSettings()
    kwargs: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    context = ssl_context(settings)
    if context is not None:
        kwargs["ssl_context"] = context
    mechanism = settings.kafka_sasl_mechanism
    if mechanism is None:
        return kwargs
    kwargs["sasl_mechanism"] = mechanism
    if mechanism == "OAUTHBEARER":
        assert settings.kafka_sasl_aws_region is not None  # checked by KafkaSettings
        kwargs["sasl_oauth_token_provider"] = MskIamTokenProvider(settings.kafka_sasl_aws_region)
    else:
        assert settings.kafka_sasl_password is not None  # checked by KafkaSettings
        kwargs["sasl_plain_username"] = settings.kafka_sasl_username
        kwargs["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return kwargs


def faust_credentials(settings: KafkaSettings) -> faust.auth.Credentials | None:
    """Faust's ``broker_credentials`` for ``settings``: the same as :func:`client_security`.

    Faust is imported here, not above: the receiver uses this module and never runs Faust.

    >>> faust_credentials(KafkaSettings()) is None
    True
    """
    import faust.auth

    kwargs = client_security(settings)
    context = kwargs.get("ssl_context")
    mechanism = kwargs.get("sasl_mechanism")
    if mechanism == "OAUTHBEARER":
        return faust.auth.OAuthCredentials(
            oauth_cb=kwargs["sasl_oauth_token_provider"], ssl_context=context
        )
    if mechanism is not None:
        return faust.auth.SASLCredentials(
            username=kwargs["sasl_plain_username"],
            password=kwargs["sasl_plain_password"],
            ssl_context=context,
            mechanism=mechanism,
        )
    if context is not None:
        return faust.auth.SSLCredentials(context)
    return None
