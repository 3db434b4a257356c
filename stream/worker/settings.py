"""Settings of the stream worker (``aidevops worker``): scoring, alert policy, /metrics.

Every field maps to one environment variable with the prefix ``AIDEVOPS_``:
``alert_fire_threshold`` is ``AIDEVOPS_ALERT_FIRE_THRESHOLD``. Defaults of the detector and the
alert policy are written once, in :class:`~stream.detection.DetectorConfig` and
:class:`~stream.alerting.policy.PolicyConfig`; these fields only expose them. The worker never
sees a notification secret: delivery is the notifier's (``stream.notifier.settings``). Its
web port asks for the operator's credentials (:class:`~aidevops.settings.AuthSettings`). It
reads the controls of the alert-configs table when DynamoDB is configured
(:attr:`WorkerSettings.controls_enabled`).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from aidevops.settings import AuthSettings, KafkaSettings
from stream.alerting.policy import PolicyConfig
from stream.detection import DetectorConfig
from stream.storage.settings import DynamoSettings
from stream.worker.history import MAX_RHYTHM_SECONDS

__all__ = ["WorkerSettings"]

_POLICY = PolicyConfig()


class WorkerSettings(KafkaSettings, AuthSettings, DynamoSettings):
    """The stream worker (``aidevops worker``): scoring, alert policy, /metrics."""

    checkpoint_topic: str = Field(
        "aidevops-detector-checkpoints",
        description="Compacted topic of detector checkpoints, co-partitioned with samples.",
    )
    worker_group: str = Field(
        "aidevops-worker", description="Faust app id and Kafka consumer group of the workers."
    )
    worker_host: str = Field(
        "127.0.0.1",
        description="Address of the worker's web port (loopback unless set: it serves data).",
    )
    worker_port: int = Field(
        6066, ge=1, le=65535, description="Web port serving /metrics (Prometheus scrapes it)."
    )
    topic_replication_factor: int = Field(
        1, ge=1, description="Replication of topics the worker creates."
    )
    batch_size: int = Field(2000, ge=1, description="Most samples messages scored at once.")
    checkpoint_interval_seconds: float = Field(
        60.0,
        gt=0,
        description="How often changed detector states are checkpointed (and offsets "
        "committed): a crash replays at most this much; shorter costs CPU per sample.",
    )
    max_live_series: int = Field(
        100_000, ge=1, description="Detectors kept in memory per worker (least recent retire)."
    )
    idle_series_seconds: float = Field(
        3600.0, gt=0, description="A series not seen this long is retired to its checkpoint."
    )
    metadata_wait_seconds: float = Field(
        150.0,
        ge=0,
        description="How long a series first seen without metadata waits for its type "
        "(receiver time); make it 2.5x Prometheus' metadata_config.send_interval.",
    )
    state_retention_seconds: float = Field(
        7 * 86400.0, gt=0, description="Retired checkpoints older than this are deleted."
    )
    detector_warmup: int = Field(
        DetectorConfig().warmup,
        description="Points a series' detector learns before its scores are alert-grade.",
    )
    snapshot_url: str | None = Field(
        None,
        description="Where detector snapshots go (s3://bucket/prefix, file:///dir or a path); "
        "read when the checkpoint topic has nothing for a partition. Off when unset.",
    )
    snapshot_interval_seconds: float = Field(
        300.0, gt=0, description="How often each owned partition's detectors are snapshotted."
    )
    prometheus_url: str | None = Field(
        None,
        description="Prometheus HTTP API whose history warms new series up (query_range); "
        "off when unset.",
    )
    history_seconds: float = Field(
        6 * 3600.0, gt=0, le=7 * 86400, description="How far back a new series' history goes."
    )
    history_step_seconds: float = Field(
        15.0, gt=0, description="Resolution of the history (query_range step)."
    )
    history_rhythm_seconds: float = Field(
        28 * 86400.0,
        ge=0,
        le=MAX_RHYTHM_SECONDS,
        description="How far back before that history a second query goes, at a 5 min step, "
        "for the daily and weekly profiles alone; 0: none.",
    )
    history_queries_per_second: float = Field(
        10.0, gt=0, description="Most history queries sent to Prometheus per second."
    )
    history_tenants: Annotated[tuple[str, ...], NoDecode] = Field(
        ("default",),
        description="Tenants whose series that Prometheus holds (comma list or JSON).",
    )
    controls_refresh_seconds: float = Field(
        30.0,
        ge=0,
        description="How often the worker re-reads the controls (thresholds, exclusions) from "
        "the alert-configs table; 0: no controls. Read only when DynamoDB is configured "
        "(a DynamoDB variable is set: the endpoint locally, the region on AWS).",
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
    scores_schema_version: int = Field(
        2,
        ge=1,
        le=2,
        description="1: a scores record per scored series batch, keyed by its series id; "
        "2: a ScoresBatch per partition per scoring step (no key).",
    )
    outputs_compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = Field(
        "none",
        description="Compression of the record batches the worker produces (scores, alerts, "
        "checkpoints).",
    )

    # -- policy (stream.alerting.policy) ------------------------------------------------------
    alert_fire_threshold: float = Field(
        _POLICY.fire_threshold,
        gt=0,
        lt=1,
        description="Calibrated score above which a point counts as anomalous.",
    )
    alert_fire_points: int = Field(
        _POLICY.fire_points,
        ge=1,
        description="Consecutive anomalous points before an alert fires (`for`).",
    )
    alert_resolve_threshold: float = Field(
        _POLICY.resolve_threshold,
        ge=0,
        lt=1,
        description="Score below which a point counts towards resolving.",
    )
    alert_resolve_points: int = Field(
        _POLICY.resolve_points,
        ge=1,
        description="Consecutive points below the resolve threshold to resolve.",
    )
    alert_accept_new_normal_seconds: float = Field(
        _POLICY.accept_new_normal_seconds,
        ge=0,
        description="A lasting shift keeps its alert firing this long, then is accepted as the "
        "new normal (0: resolve as soon as scores calm down).",
    )
    alert_resume_grace_seconds: float = Field(
        _POLICY.resume_grace_seconds,
        ge=0,
        description="After a series comes back from staleness or its counter resets (a "
        "restart), anomalies starting within this time are held until it ends, and fire only "
        "if still going or the value is still out of its old range.",
    )
    alert_baseline_alpha: float = Field(
        _POLICY.baseline_alpha,
        gt=0,
        le=1,
        description="Weight of a new value in the baseline (≈ 1/window).",
    )
    alert_baseline_k: float = Field(
        _POLICY.baseline_k,
        gt=0,
        description="Expected range is baseline mean ± k standard deviations.",
    )
    alert_baseline_min_points: int = Field(
        _POLICY.baseline_min_points,
        ge=1,
        description="Values learned before an expected range is reported.",
    )
    alert_group_labels: Annotated[tuple[str, ...], NoDecode] = Field(
        _POLICY.group_labels,
        description='Labels naming a target: a comma list (job,instance) or JSON (["job"]).',
    )

    @field_validator("alert_group_labels", "history_tenants", mode="before")
    @classmethod
    def _comma_or_json_list(cls, value: Any) -> Any:
        """``job,instance`` (the README's form) as well as ``["job","instance"]``."""
        if not isinstance(value, str):
            return value
        if value.lstrip().startswith("["):
            return json.loads(value)
        return [label.strip() for label in value.split(",") if label.strip()]

    @field_validator("detector_warmup")
    @classmethod
    def _warmup_fits_the_detector(cls, value: int) -> int:
        DetectorConfig(warmup=value)  # the detector states its own lower bound
        return value

    @property
    def controls_enabled(self) -> bool:
        """Whether the worker reads controls: DynamoDB configured and a refresh interval.

        DynamoDB counts as configured when any ``AIDEVOPS_DYNAMODB_`` variable is set (the
        endpoint locally, the region on AWS); a worker without it has no controls.
        """
        dynamodb = set(DynamoSettings.model_fields)
        return self.controls_refresh_seconds > 0 and bool(self.model_fields_set & dynamodb)

    def detector_config(self) -> DetectorConfig:
        """The :class:`DetectorConfig` these settings describe."""
        return DetectorConfig(warmup=self.detector_warmup)

    def policy_config(self) -> PolicyConfig:
        """The :class:`PolicyConfig` these settings describe (validated)."""
        return PolicyConfig(
            fire_threshold=self.alert_fire_threshold,
            fire_points=self.alert_fire_points,
            resolve_threshold=self.alert_resolve_threshold,
            resolve_points=self.alert_resolve_points,
            accept_new_normal_seconds=self.alert_accept_new_normal_seconds,
            resume_grace_seconds=self.alert_resume_grace_seconds,
            baseline_alpha=self.alert_baseline_alpha,
            baseline_k=self.alert_baseline_k,
            baseline_min_points=self.alert_baseline_min_points,
            group_labels=tuple(self.alert_group_labels),
        )
