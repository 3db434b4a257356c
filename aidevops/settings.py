"""Typed settings, read once per process from the environment (prefix ``AIDEVOPS_``).

Every field maps to one environment variable: ``receiver_port`` is ``AIDEVOPS_RECEIVER_PORT``.
Secrets are :class:`~pydantic.SecretStr`, so they never show in a log line or a repr.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from aidevops.errors import ConfigurationError

__all__ = ["ENV_PREFIX", "AuthSettings", "KafkaSettings"]

ENV_PREFIX = "AIDEVOPS_"


class KafkaSettings(BaseSettings):
    """Where the Kafka-compatible broker is and what the topics are called."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Comma-separated host:port list of Kafka brokers."
    )
    samples_topic: str = Field("samples", description="Topic the receiver publishes to.")
    samples_partitions: int = Field(
        8, ge=1, description="Partitions when the receiver creates the samples topic."
    )
    scores_topic: str = Field("scores", description="Topic of scored samples.")
    alerts_topic: str = Field("alerts", description="Topic of alert state changes.")


class AuthSettings(BaseSettings):
    """Credentials asked on every port that takes or serves data (see :mod:`aidevops.auth`)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    auth_bearer_token: SecretStr | None = Field(
        None,
        description="Operator credential: require `Authorization: Bearer <token>` "
        "(Prometheus `authorization`); acts for any tenant.",
    )
    auth_basic_username: str | None = Field(
        None, description="Operator credential: HTTP basic auth user (Prometheus `basic_auth`)."
    )
    auth_basic_password: SecretStr | None = Field(None, description="Password for basic auth.")
    tenant_tokens: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='Per-tenant bearer tokens, JSON (e.g. {"team-a": "..."}); a tenant\'s '
        "token reads and writes that tenant's data only.",
    )

    @model_validator(mode="after")
    def _basic_auth_complete(self) -> AuthSettings:
        if (self.auth_basic_username is None) != (self.auth_basic_password is None):
            raise ConfigurationError(
                "set both AIDEVOPS_AUTH_BASIC_USERNAME and AIDEVOPS_AUTH_BASIC_PASSWORD, or neither"
            )
        return self
