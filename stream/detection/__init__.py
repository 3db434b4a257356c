"""Framework-free anomaly detection for Prometheus series (no Faust, no Kafka here).

The worker holds one :class:`DetectorBank` and hands it batches of samples; each series gets
its own online detector (``features -> half-space trees -> calibration``) whose score in
``[0, 1]`` means the same on every series. Deciding what is an alert is not done here.
"""

from __future__ import annotations

from stream.detection.backtest import backtest
from stream.detection.bank import BatchScores, DetectorBank, DetectorStateError
from stream.detection.config import DEFAULT_THRESHOLD, DetectorConfig
from stream.detection.detector import ScoredPoint, SeriesDetector
from stream.detection.flags import ScoreFlag
from stream.detection.histogram import interval_mean
from stream.detection.hst import CompactHalfSpaceTrees
from stream.detection.metric_kind import MetricKind, resolve_kind
from stream.detection.staleness import STALE_NAN, is_stale_marker

__all__ = [
    "DEFAULT_THRESHOLD",
    "STALE_NAN",
    "BatchScores",
    "CompactHalfSpaceTrees",
    "DetectorBank",
    "DetectorConfig",
    "DetectorStateError",
    "MetricKind",
    "ScoreFlag",
    "ScoredPoint",
    "SeriesDetector",
    "backtest",
    "interval_mean",
    "is_stale_marker",
    "resolve_kind",
]
