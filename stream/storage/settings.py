"""Settings of the DynamoDB storage and its sink (prefix ``AIDEVOPS_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["StorageSettings"]


class StorageSettings(BaseSettings):
    """Where the tables are, how scores are packed, and how the sink buffers."""

    model_config = SettingsConfigDict(env_prefix="AIDEVOPS_", frozen=True, extra="ignore")

    dynamodb_table_prefix: str = Field(
        "ai-devops-platform",
        min_length=3,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Tables are <prefix>-scores, <prefix>-alerts, <prefix>-alert-configs.",
    )
    dynamodb_endpoint_url: str | None = Field(
        None, description="Endpoint override, e.g. DynamoDB Local; None means AWS."
    )
    dynamodb_region: str = Field("us-east-1", description="AWS region of the tables.")
    dynamodb_access_key_id: str | None = Field(
        None, description="Explicit access key; None uses the default AWS credential chain."
    )
    dynamodb_secret_access_key: SecretStr | None = Field(
        None, description="Secret for dynamodb_access_key_id."
    )
    dynamodb_create_tables: bool = Field(
        True, description="Create missing tables at start-up (on-demand billing)."
    )
    scores_retention_days: int = Field(
        30, ge=1, description="Score buckets expire (DynamoDB TTL) this long after they end."
    )
    alerts_retention_days: int = Field(
        365, ge=1, description="Alert items expire (DynamoDB TTL) this long after the event."
    )
    scores_bucket_seconds: int = Field(
        6 * 3600,
        ge=60,
        le=7 * 86400,
        description="Time window of one bucket item per series; larger is cheaper, staler.",
    )
    sink_group_id: str = Field("aidevops-storage", description="Kafka consumer group.")
    scores_topic: str = Field("scores", description="Topic of ScoreBatch messages.")
    alerts_topic: str = Field("alerts", description="Topic of AlertEvent messages.")
    sink_close_grace_seconds: int = Field(
        300,
        ge=0,
        description="A silent series' bucket closes once its partition's event time passes "
        "the bucket end by this much.",
    )
    sink_max_buffer_seconds: float = Field(
        12 * 3600.0,
        gt=0,
        description="Wall-clock bound on how long a bucket stays buffered (and thus how far a "
        "restart replays); reaching it flushes early, which costs extra writes.",
    )
    sink_max_buffered_points: int = Field(
        5_000_000,
        ge=1000,
        description="Memory bound: beyond it the largest buckets are flushed early.",
    )
    sink_commit_interval_seconds: float = Field(
        5.0, gt=0, description="How often flushed progress is committed to Kafka."
    )
    sink_retry_max_seconds: float = Field(
        30.0, gt=0, description="Longest back-off between attempts while DynamoDB is down."
    )
