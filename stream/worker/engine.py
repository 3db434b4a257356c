"""The scoring engine: ``samples`` messages in, ``scores`` and ``alerts`` messages out.

Framework-free (no Faust, no Kafka client): the worker hands it raw message values with their
partitions and sends what it returns. It owns every per-series state of a worker:

* the detectors, in one :class:`~stream.detection.DetectorBank` (scored in numpy batches);
* the alert policy state of each series (:class:`~stream.alerting.series_state.SeriesState`);
* what a checkpoint needs to restore both after a restart or a partition move.

Live series are bounded (``max_live_series``) and idle ones are retired to a compact
checkpoint (about 1 KB instead of the detector's working set), from which they are restored
if they come back.

Native histograms are scored through two detectors: the rate of observations (their count
as a counter) and the mean observation between scrapes (``interval_mean``), a gauge. The
point's score is the larger of the two, its feature the mean.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from google.protobuf.message import DecodeError as ProtobufDecodeError

from aidevops.pb import alerts_pb2, checkpoint_pb2, samples_pb2, scores_pb2
from stream.alerting.policy import AlertPolicy
from stream.alerting.series_state import SeriesState
from stream.detection import (
    DetectorBank,
    DetectorConfig,
    MetricKind,
    interval_mean,
    resolve_kind,
)

__all__ = ["EngineOutput", "OutRecord", "ScoringEngine"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
OutRecord = tuple[int, bytes, bytes]
"""(partition, key, value) of a message to produce."""

_MEAN = 1  # sub-key of a native histogram's mean detector: (series id, _MEAN)
# What the workers export themselves: Prometheus scrapes it and remote-writes it back, and
# scoring it would feed the platform its own output.
OWN_METRICS = frozenset({"anomaly_score", "anomaly_alert"})


@dataclass(slots=True)
class _Series:
    partition: int
    kind: MetricKind
    last_seen: float
    policy: SeriesState | None = None
    histogram_count: float = math.nan
    histogram_sum: float = math.nan
    dirty: bool = True


@dataclass(slots=True)
class EngineOutput:
    """What one call of :meth:`ScoringEngine.process` produced."""

    scores: list[OutRecord] = field(default_factory=list)
    alerts: list[OutRecord] = field(default_factory=list)
    samples: int = 0
    malformed: int = 0
    # (batch, latest score, open alert episode: 0 none, 1 anomaly, 2 outage) for /metrics
    exported: list[tuple[scores_pb2.ScoreBatch, float, int]] = field(default_factory=list)


def _key(series_id: int) -> bytes:
    return series_id.to_bytes(8, "big")


class ScoringEngine:
    """Per-series detectors and alert policy for the partitions one worker owns.

    Parameters
    ----------
    policy
        Decides alerts from scores.
    detector_config
        Shared by every detector (their tree structure is shared too).
    max_live_series
        Detectors kept in memory; beyond it the least recently seen series is retired.
    idle_seconds
        A series not seen for this long is retired by :meth:`retire_idle`.
    clock
        Wall-clock seconds; injected so tests control time.
    """

    def __init__(
        self,
        policy: AlertPolicy,
        detector_config: DetectorConfig | None = None,
        max_live_series: int = 100_000,
        idle_seconds: float = 3600.0,
        clock: Callable[[], float] | None = None,
    ):
        import time

        self.policy = policy
        self.bank = DetectorBank(detector_config)
        self.max_live_series = max_live_series
        self.idle_seconds = idle_seconds
        self.clock = clock or time.time
        self._series: dict[int, _Series] = {}
        # Retired or restored-but-not-yet-seen series: their checkpoint bytes.
        self._dormant: dict[int, tuple[int, bytes]] = {}
        self._pending_retired: list[OutRecord] = []
        self._own: set[int] = set()  # series ids of OWN_METRICS, skipped

    # -- state ---------------------------------------------------------------------------------

    @property
    def live_series(self) -> int:
        return len(self._series)

    @property
    def dormant_series(self) -> int:
        return len(self._dormant)

    def restore(self, partition: int, series_id: int, checkpoint: bytes) -> None:
        """Remember a checkpoint read back from Kafka; the detector is rebuilt on first use.

        An empty ``checkpoint`` is a tombstone and forgets the series.
        """
        if series_id in self._series:
            return  # live state is newer than anything in the checkpoint topic
        if checkpoint:
            self._dormant[series_id] = (partition, checkpoint)
        else:
            self._dormant.pop(series_id, None)

    def checkpoint(self, series_id: int) -> bytes:
        """Serialize one live series (detector, policy, histogram memory)."""
        series = self._series[series_id]
        message = checkpoint_pb2.SeriesCheckpoint(
            schema_version=SCHEMA_VERSION,
            series_id=series_id,
            kind=int(series.kind),
            detector=self.bank.state_bytes(series_id) if series_id in self.bank else b"",
            policy=series.policy.to_bytes() if series.policy is not None else b"",
            histogram_count=series.histogram_count,
            histogram_sum=series.histogram_sum,
            last_seen=int(series.last_seen * 1000),
        )
        if (series_id, _MEAN) in self.bank:
            message.mean_detector = self.bank.state_bytes((series_id, _MEAN))
        return message.SerializeToString()

    def collect_dirty(self) -> list[OutRecord]:
        """Checkpoints of every series changed since the last call, as records to produce."""
        out = []
        for series_id, series in self._series.items():
            if series.dirty:
                out.append((series.partition, _key(series_id), self.checkpoint(series_id)))
                series.dirty = False
        return out

    def retire(self, series_id: int) -> OutRecord:
        """Drop a live series to its checkpoint (kept dormant); returns the record to produce."""
        series = self._series[series_id]
        record = (series.partition, _key(series_id), self.checkpoint(series_id))
        self._dormant[series_id] = (series.partition, record[2])
        self._drop(series_id)
        return record

    def retire_idle(self, now: float | None = None) -> list[OutRecord]:
        """Retire series not seen for ``idle_seconds``."""
        now = self.clock() if now is None else now
        idle = [sid for sid, s in self._series.items() if now - s.last_seen > self.idle_seconds]
        return [self.retire(sid) for sid in idle]

    def forget_dormant(self, older_than: float) -> list[OutRecord]:
        """Drop dormant checkpoints last seen before ``older_than``; returns tombstones."""
        out = []
        for series_id, (partition, data) in list(self._dormant.items()):
            last_seen = checkpoint_pb2.SeriesCheckpoint.FromString(data).last_seen / 1000
            if last_seen < older_than:
                del self._dormant[series_id]
                out.append((partition, _key(series_id), b""))
        return out

    def drop_partitions(self, partitions: Iterable[int]) -> list[int]:
        """Forget everything of partitions this worker no longer owns (no checkpoint).

        Returns the live series dropped.
        """
        gone = set(partitions)
        live = [sid for sid, s in self._series.items() if s.partition in gone]
        for series_id in live:
            self._drop(series_id)
        for series_id, (partition, _) in list(self._dormant.items()):
            if partition in gone:
                del self._dormant[series_id]
        return live

    def _drop(self, series_id: int) -> None:
        del self._series[series_id]
        for key in (series_id, (series_id, _MEAN)):
            if key in self.bank:
                self.bank.evict(key)

    def _admit(self, series_id: int, batch: samples_pb2.SeriesBatch, partition: int) -> _Series:
        name = next((lb.value for lb in batch.labels if lb.name == "__name__"), "")
        quantile = any(lb.name == "quantile" for lb in batch.labels)
        kind = resolve_kind(name, int(batch.metric_type), quantile=quantile)
        series = _Series(partition=partition, kind=kind, last_seen=self.clock())
        dormant = self._dormant.pop(series_id, None)
        if dormant is not None:
            saved = checkpoint_pb2.SeriesCheckpoint.FromString(dormant[1])
            series.kind = MetricKind(saved.kind)
            if saved.detector:
                self.bank.load_state(series_id, saved.detector)
            if saved.mean_detector:
                self.bank.load_state((series_id, _MEAN), saved.mean_detector)
            if saved.policy:
                series.policy = SeriesState.from_bytes(saved.policy)
            series.histogram_count = saved.histogram_count
            series.histogram_sum = saved.histogram_sum
        if len(self._series) >= self.max_live_series:
            oldest = min(self._series, key=lambda sid: self._series[sid].last_seen)
            self._pending_retired.append(self.retire(oldest))
        self._series[series_id] = series
        return series

    # -- scoring -------------------------------------------------------------------------------

    def process(self, messages: Sequence[tuple[int, bytes]]) -> EngineOutput:
        """Score a batch of ``samples`` messages (partition, value); score first, then learn.

        Messages that do not decode are counted in ``malformed`` and skipped: one bad record
        must not stop a partition.
        """
        out = EngineOutput()
        now = self.clock()
        batches: list[tuple[samples_pb2.SeriesBatch, _Series]] = []
        keys: list[object] = []
        stamps: list[int] = []
        values: list[float] = []
        kinds: list[MetricKind] = []
        owner: list[int] = []  # index into batches, per sample
        for partition, raw in messages:
            try:
                batch = samples_pb2.SeriesBatch.FromString(raw)
            except ProtobufDecodeError:
                out.malformed += 1
                continue
            series_id = batch.series_id
            series = self._series.get(series_id)
            if series is None:
                if series_id in self._own or _is_own(batch):
                    self._own.add(series_id)
                    continue
                series = self._admit(series_id, batch, partition)
            series.last_seen = now
            series.partition = partition
            index = len(batches)
            batches.append((batch, series))
            for sample in batch.samples:
                keys.append(series_id)
                stamps.append(sample.timestamp)
                values.append(sample.value)
                kinds.append(series.kind)
                owner.append(index)
            for histogram in batch.histograms:
                count = (
                    histogram.count_float
                    if histogram.HasField("count_float")
                    else float(histogram.count_int)
                )
                mean = interval_mean(
                    series.histogram_count, series.histogram_sum, count, histogram.sum
                )
                series.histogram_count, series.histogram_sum = count, histogram.sum
                keys.extend((series_id, (series_id, _MEAN)))
                stamps.extend((histogram.timestamp, histogram.timestamp))
                values.extend((count, mean))
                kinds.extend((MetricKind.COUNTER, MetricKind.GAUGE))
                owner.extend((index, index))
        out.samples = len(keys)
        scored = self.bank.process(keys, np.asarray(stamps), np.asarray(values), kinds)
        points: list[list[scores_pb2.ScoredPoint]] = [[] for _ in batches]
        stale = [False] * len(batches)
        last_histogram_point: dict[int, scores_pb2.ScoredPoint] = {}
        score, raw_score, feature = scored.score, scored.raw_score, scored.feature
        flags, emitted, is_stale = scored.flags, scored.emitted, scored.stale
        for i, index in enumerate(owner):
            if is_stale[i]:
                stale[index] = True
                continue
            if not emitted[i]:
                continue
            key = keys[i]
            if isinstance(key, tuple):  # a histogram's mean: merge into its count's point
                point = last_histogram_point.get(index)
                if point is not None:
                    point.feature = float(feature[i])
                    point.score = max(point.score, float(score[i]))
                    point.flags |= int(flags[i])
                continue
            point = scores_pb2.ScoredPoint(
                timestamp=stamps[i],
                value=values[i],
                feature=float(feature[i]),
                score=float(score[i]),
                raw_score=float(raw_score[i]),
                flags=int(flags[i]),
            )
            points[index].append(point)
            if batches[index][0].histograms:
                last_histogram_point[index] = point
        for index, (batch, series) in enumerate(batches):
            if not points[index] and not stale[index]:
                continue  # replays: nothing new was learned or scored
            score_batch = scores_pb2.ScoreBatch(
                schema_version=SCHEMA_VERSION,
                tenant=batch.tenant,
                series_id=batch.series_id,
                labels=batch.labels,
                metric_type=batch.metric_type,
                points=points[index],
                stale=stale[index],
            )
            key = _key(batch.series_id)
            out.scores.append((series.partition, key, score_batch.SerializeToString()))
            result = self.policy.step(series.policy, score_batch)
            series.policy = result.state
            series.dirty = True
            for event in result.events:
                out.alerts.append((series.partition, event.dedup_key.encode(), _encode(event)))
            # Stale batches too: the exporter drops a series that ended.
            last = points[index][-1].score if points[index] else 0.0
            episode = int(series.policy.episode) if series.policy is not None else 0
            out.exported.append((score_batch, last, episode))
        return out

    def take_retired(self) -> list[OutRecord]:
        """Checkpoints of series retired by the live-series cap during the last batch."""
        retired, self._pending_retired = self._pending_retired, []
        return retired


def _is_own(batch: samples_pb2.SeriesBatch) -> bool:
    return any(lb.name == "__name__" and lb.value in OWN_METRICS for lb in batch.labels)


def _encode(event: alerts_pb2.AlertEvent) -> bytes:
    return event.SerializeToString()
