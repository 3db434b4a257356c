"""Typed settings, read once per process from the environment (prefix ``AIDEVOPS_``).

Every field maps to one environment variable: ``receiver_port`` is ``AIDEVOPS_RECEIVER_PORT``.
Secrets are :class:`~pydantic.SecretStr`, so they never show in a log line or a repr.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from aidevops.errors import ConfigurationError

__all__ = ["ENV_PREFIX", "KafkaSettings", "ReceiverSettings", "WorkerSettings"]

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


class ReceiverSettings(KafkaSettings):
    """The remote-write receiver (``aidevops receiver``)."""

    receiver_host: str = Field("0.0.0.0", description="Address the receiver listens on.")
    receiver_port: int = Field(9201, ge=1, le=65535, description="Port for /api/v1/write.")
    max_body_bytes: int = Field(
        16 * 1024 * 1024, ge=1, description="Largest compressed request body accepted (413)."
    )
    max_decoded_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1,
        description="Largest decompressed size a snappy header may declare (413).",
    )
    label_limit: int = Field(64, ge=1, description="Most labels per series (400 beyond).")
    label_name_length_limit: int = Field(
        256, ge=1, description="Longest label name in bytes (400 beyond)."
    )
    label_value_length_limit: int = Field(
        2048, ge=1, description="Longest label value in bytes (400 beyond)."
    )
    tenant_header: str = Field("X-Scope-OrgID", description="Request header naming the tenant.")
    default_tenant: str = Field("default", description="Tenant when the header is absent.")
    auth_bearer_token: SecretStr | None = Field(
        None, description="Require `Authorization: Bearer <token>` (Prometheus `authorization`)."
    )
    auth_basic_username: str | None = Field(
        None, description="Require HTTP basic auth with this user (Prometheus `basic_auth`)."
    )
    auth_basic_password: SecretStr | None = Field(None, description="Password for basic auth.")
    publish_timeout_seconds: float = Field(
        5.0, gt=0, description="Longest wait for the broker's ack before answering 503."
    )
    retry_after_seconds: int = Field(
        5, ge=1, description="Retry-After sent with 503 when the broker is unavailable."
    )
    series_cache_size: int = Field(
        500_000, ge=0, description="Validated label sets remembered to skip re-decoding."
    )
    shutdown_timeout_seconds: float = Field(
        8.0, gt=0, description="Time in-flight requests get to finish on SIGTERM."
    )

    @model_validator(mode="after")
    def _basic_auth_complete(self) -> ReceiverSettings:
        if (self.auth_basic_username is None) != (self.auth_basic_password is None):
            raise ConfigurationError(
                "set both AIDEVOPS_AUTH_BASIC_USERNAME and AIDEVOPS_AUTH_BASIC_PASSWORD, or neither"
            )
        return self


class WorkerSettings(KafkaSettings):
    """The stream worker (``aidevops worker``): scoring, alert policy, /metrics."""

    scores_topic: str = Field("scores", description="Topic of scored samples.")
    alerts_topic: str = Field("alerts", description="Topic of alert state changes.")
    checkpoint_topic: str = Field(
        "aidevops-detector-checkpoints",
        description="Compacted topic of detector checkpoints, co-partitioned with samples.",
    )
    worker_group: str = Field(
        "aidevops-worker", description="Faust app id and Kafka consumer group of the workers."
    )
    worker_host: str = Field("0.0.0.0", description="Address of the worker's web port.")
    worker_port: int = Field(
        6066, ge=1, le=65535, description="Web port serving /metrics (Prometheus scrapes it)."
    )
    topic_replication_factor: int = Field(
        1, ge=1, description="Replication of topics the worker creates."
    )
    batch_size: int = Field(2000, ge=1, description="Most samples messages scored at once.")
    batch_wait_seconds: float = Field(
        0.05, gt=0, description="Longest wait to fill a batch before scoring it."
    )
    checkpoint_interval_seconds: float = Field(
        10.0, gt=0, description="How often changed detector states are checkpointed."
    )
    max_live_series: int = Field(
        100_000, ge=1, description="Detectors kept in memory per worker (least recent retire)."
    )
    idle_series_seconds: float = Field(
        3600.0, gt=0, description="A series not seen this long is retired to its checkpoint."
    )
    state_retention_seconds: float = Field(
        7 * 86400.0, gt=0, description="Retired checkpoints older than this are deleted."
    )
    detector_warmup: int = Field(
        400,
        ge=130,
        description="Points a series' detector learns before its scores are alert-grade.",
    )
    metrics_series_limit: int = Field(
        10_000, ge=0, description="Most series exported as anomaly_score on /metrics."
    )
    broker_session_timeout_seconds: float = Field(
        30.0, gt=0, description="Consumer group session timeout."
    )
    broker_rebalance_timeout_seconds: float = Field(
        30.0, gt=0, description="Consumer group rebalance timeout."
    )
    publish_timeout_seconds: float = Field(
        10.0, gt=0, description="Longest wait for the broker to acknowledge outputs."
    )
