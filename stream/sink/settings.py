"""Settings of the DynamoDB sink (``aidevops sink``), prefix ``AIDEVOPS_``."""

from __future__ import annotations

from pydantic import Field

from aidevops.settings import KafkaSettings
from stream.storage.settings import StorageSettings

__all__ = ["SinkSettings"]


class SinkSettings(KafkaSettings, StorageSettings):
    """How the sink consumes, buffers and commits; the tables come from StorageSettings."""

    sink_group_id: str = Field("aidevops-storage", description="Kafka consumer group.")
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
        5.0, ge=0, description="How often flushed progress is committed to Kafka."
    )
    sink_retry_max_seconds: float = Field(
        30.0, gt=0, description="Longest back-off between attempts while DynamoDB is down."
    )
