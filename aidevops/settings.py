"""Typed settings, read once per process from the environment (prefix ``AIDEVOPS_``).

Every field maps to one environment variable: ``receiver_port`` is ``AIDEVOPS_RECEIVER_PORT``.
Secrets are :class:`~pydantic.SecretStr`, so they never show in a log line or a repr.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ENV_PREFIX", "KafkaSettings", "WorkerSettings"]

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
