"""Settings of the remote-write receiver (``aidevops receiver``), prefix ``AIDEVOPS_``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from aidevops.settings import AuthSettings, KafkaSettings

__all__ = ["ReceiverSettings"]


class ReceiverSettings(KafkaSettings, AuthSettings):
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
    samples_schema_version: int = Field(
        2,
        ge=1,
        le=2,
        description="1: a record per series, keyed by its id; 2: a SamplesBatch per partition.",
    )
    samples_index: bool = Field(
        True,
        description="Write the index of each samples record (schema 2): about 0.5 us more of "
        "the receiver's CPU a sample, 2 us less of a worker's.",
    )
    # snappy: half zstd's CPU to compress (0.10 against 0.22 ms per 500-series request) and
    # faster for the workers to read, for about twice zstd's bytes on the broker.
    samples_compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = Field(
        "snappy",
        description="Compression of the record batches published to the samples topic.",
    )
    publish_timeout_seconds: float = Field(
        5.0, gt=0, description="Longest wait for the broker's ack before answering 503."
    )
    # Kafka 4.0's producer default (KIP-1030). Concurrent requests' series of a partition
    # then share a record: measured with benchmarks/worker.py's 8 senders, 1,016 records for
    # 480 requests against 1,240-1,432 without, so a worker pays its per-record costs less
    # often; a request's answer waits up to that much longer.
    publish_linger_ms: int = Field(
        5,
        ge=0,
        le=1000,
        description="Longest wait of a partition's record batch for more requests' series.",
    )
    publish_backlog_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1,
        description="Record bytes awaiting the broker's ack beyond which requests get 503 at once.",
    )
    retry_after_seconds: int = Field(
        5, ge=1, description="Retry-After sent with 503 when the broker is unavailable."
    )
    series_cache_bytes: int = Field(
        128 * 1024 * 1024,
        ge=0,
        description="Bytes of validated label sets remembered, all tenants (older half forgotten).",
    )
    metadata_cache_bytes: int = Field(
        16 * 1024 * 1024,
        ge=0,
        description="Bytes of metric metadata (type, unit, help) remembered, all tenants.",
    )
    metadata_help_length_limit: int = Field(
        1024, ge=0, description="Longest metadata help text in bytes (400 beyond)."
    )
    metadata_unit_length_limit: int = Field(
        128, ge=0, description="Longest metadata unit in bytes (400 beyond)."
    )
    body_read_timeout_seconds: float = Field(
        15.0, gt=0, description="Longest time to receive a request body (408 beyond)."
    )
    shutdown_timeout_seconds: float = Field(
        8.0, gt=0, description="Time in-flight requests get to finish on SIGTERM."
    )
