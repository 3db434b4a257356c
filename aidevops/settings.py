"""Typed settings, read once per process from the environment (prefix ``AIDEVOPS_``).

Every field maps to one environment variable: ``receiver_port`` is ``AIDEVOPS_RECEIVER_PORT``.
Secrets are :class:`~pydantic.SecretStr`, so they never show in a log line or a repr.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ENV_PREFIX", "KafkaSettings"]

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
