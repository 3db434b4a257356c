"""Typed settings, read once per process from the environment (prefix ``AIDEVOPS_``).

Every field maps to one environment variable: ``receiver_port`` is ``AIDEVOPS_RECEIVER_PORT``.
Secrets are :class:`~pydantic.SecretStr`, so they never show in a log line or a repr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

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
    # Security of every Kafka client (see aidevops.kafka.security).
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL (TLS), SASL_PLAINTEXT or SASL_SSL (MSK: SASL_SSL)."
    )
    kafka_ssl_ca_file: Path | None = Field(
        None, description="PEM CA bundle that signs the brokers' certificates; None: system CAs."
    )
    kafka_ssl_cert_file: Path | None = Field(
        None, description="PEM client certificate (mutual TLS), with kafka_ssl_key_file."
    )
    kafka_ssl_key_file: Path | None = Field(None, description="PEM private key of the client.")
    kafka_ssl_key_password: SecretStr | None = Field(
        None, description="Password of kafka_ssl_key_file, if encrypted."
    )
    kafka_sasl_mechanism: (
        Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] | None
    ) = Field(None, description="SASL mechanism; OAUTHBEARER is AWS MSK IAM.")
    kafka_sasl_username: str | None = Field(None, description="SASL PLAIN/SCRAM user name.")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL PLAIN/SCRAM password.")
    kafka_sasl_aws_region: str | None = Field(
        None, description="AWS region of the MSK cluster (OAUTHBEARER, IAM credentials chain)."
    )

    @model_validator(mode="after")
    def _kafka_security_consistent(self) -> KafkaSettings:
        protocol, mechanism = self.kafka_security_protocol, self.kafka_sasl_mechanism
        prefix = ENV_PREFIX + "KAFKA_"
        if protocol.startswith("SASL_") != (mechanism is not None):
            raise ConfigurationError(
                f"{prefix}SASL_MECHANISM goes with {prefix}SECURITY_PROTOCOL=SASL_SSL or "
                "SASL_PLAINTEXT, and those need a mechanism"
            )
        if mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512") and (
            self.kafka_sasl_username is None or self.kafka_sasl_password is None
        ):
            raise ConfigurationError(
                f"SASL {mechanism} needs {prefix}SASL_USERNAME and {prefix}SASL_PASSWORD"
            )
        if mechanism == "OAUTHBEARER" and not self.kafka_sasl_aws_region:
            raise ConfigurationError(f"SASL OAUTHBEARER (MSK IAM) needs {prefix}SASL_AWS_REGION")
        if (self.kafka_ssl_cert_file is None) != (self.kafka_ssl_key_file is None):
            raise ConfigurationError(
                f"set both {prefix}SSL_CERT_FILE and {prefix}SSL_KEY_FILE, or neither"
            )
        tls_files = (self.kafka_ssl_ca_file, self.kafka_ssl_cert_file)
        if not protocol.endswith("SSL") and any(f is not None for f in tls_files):
            raise ConfigurationError(
                f"TLS files are set but {prefix}SECURITY_PROTOCOL={protocol} does not use TLS"
            )
        return self


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
