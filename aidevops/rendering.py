"""Human-readable JSON for the messages on our topics (``aidevops tail``)."""

from __future__ import annotations

import math
from typing import Any

from aidevops.batches import decode_samples, decode_scores
from aidevops.pb import alerts_pb2, samples_pb2, scores_pb2
from aidevops.staleness import is_stale_marker

__all__ = ["MESSAGE_TYPES", "render", "render_record", "render_value"]


MESSAGE_TYPES: dict[str, type[Any]] = {
    "samples": samples_pb2.SeriesBatch,
    "scores": scores_pb2.ScoreBatch,
    "alerts": alerts_pb2.AlertEvent,
}


def render_value(value: float) -> float | str:
    """JSON has no NaN or infinities: spell them as Prometheus does.

    >>> render_value(1.5), render_value(float("inf")), render_value(float("nan"))
    (1.5, '+Inf', 'NaN')
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return value


def render_record(topic_kind: str, value: bytes) -> list[dict[str, Any]]:
    """One dict per series a record holds: a schema 2 ``samples`` or ``scores`` record many.

    >>> one = samples_pb2.SeriesBatch(series_id=1, tenant="t")
    >>> record = samples_pb2.SamplesBatch(schema_version=2, series=[one, one])
    >>> [doc["series_id"] for doc in render_record("samples", record.SerializeToString())]
    ['0000000000000001', '0000000000000001']
    >>> len(render_record("samples", one.SerializeToString()))
    1
    >>> scored = scores_pb2.ScoreBatch(schema_version=1, series_id=2, tenant="t")
    >>> record = scores_pb2.ScoresBatch(schema_version=2, series=[scored, scored])
    >>> [doc["series_id"] for doc in render_record("scores", record.SerializeToString())]
    ['0000000000000002', '0000000000000002']
    >>> [doc["schema_version"] for doc in render_record("scores", scored.SerializeToString())]
    [1]
    """
    decode = {"samples": decode_samples, "scores": decode_scores}.get(topic_kind)
    if decode is None:
        return [render(topic_kind, value)]
    return [render(topic_kind, member.SerializeToString()) for member in decode(value)]


def render(topic_kind: str, value: bytes) -> dict[str, Any]:
    """Decode a message of ``topic_kind`` (a key of :data:`MESSAGE_TYPES`) into a dict.

    >>> batch = samples_pb2.SeriesBatch(series_id=255, tenant="t")
    >>> _ = batch.samples.add(value=2.0, timestamp=1000)
    >>> render("samples", batch.SerializeToString())["samples"]
    [{'timestamp': 1000, 'value': 2.0, 'stale': False}]
    """
    message = MESSAGE_TYPES[topic_kind].FromString(value)
    out: dict[str, Any] = {}
    if topic_kind == "samples":
        out = {
            "schema_version": message.schema_version,
            "series_id": f"{message.series_id:016x}",
            "tenant": message.tenant,
            "labels": {label.name: label.value for label in message.labels},
            "metric_type": samples_pb2.MetricType.Name(message.metric_type),
            "samples": [
                {
                    "timestamp": s.timestamp,
                    "value": render_value(s.value),
                    "stale": is_stale_marker(s.value),
                }
                for s in message.samples
            ],
        }
        if message.histograms:
            out["histograms"] = len(message.histograms)
        if message.exemplars:
            out["exemplars"] = len(message.exemplars)
        for name in ("unit", "help", "created_timestamp", "stale_markers"):
            if getattr(message, name):
                out[name] = getattr(message, name)
        return out
    if topic_kind == "scores":
        return {
            "schema_version": message.schema_version,
            "series_id": f"{message.series_id:016x}",
            "tenant": message.tenant,
            "labels": {label.name: label.value for label in message.labels},
            "stale": message.stale,
            "points": [
                {
                    "timestamp": p.timestamp,
                    "value": render_value(p.value),
                    "feature": render_value(p.feature),
                    "score": render_value(p.score),
                    "flags": p.flags,
                }
                for p in message.points
            ],
        }
    return {
        "schema_version": message.schema_version,
        "dedup_key": message.dedup_key,
        "state": alerts_pb2.AlertState.Name(message.state),
        "reason": alerts_pb2.AlertReason.Name(message.reason),
        "series_id": f"{message.series_id:016x}",
        "tenant": message.tenant,
        "labels": {label.name: label.value for label in message.labels},
        "started_at": message.started_at,
        "event_at": message.event_at,
        "score": render_value(message.score),
        "value": render_value(message.value),
    }
