"""What a worker serves on ``/metrics``: each owned series' anomaly score, and its own health.

``anomaly_score`` carries the scored series' own labels, with ``__name__`` as ``metric``, and
its ``tenant``, so a Grafana panel can put a score next to the series it scores and two
tenants' series with the same labels stay apart (a series' own ``tenant``, ``metric`` or
``reason`` label becomes ``exported_tenant`` and so on). ``anomaly_alert`` is 1, with
the same labels and a ``reason``, while an alert is firing for the series (like Prometheus'
own ``ALERTS``), so an alert timeline is a query. Scrape workers with
``honor_labels: true``, or Prometheus renames the series' ``job``/``instance`` labels to
``exported_job``/``exported_instance``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from aidevops.pb import scores_pb2

__all__ = ["AnomalyScores", "WorkerMetrics"]


class AnomalyScores(Collector):
    """The latest score of at most ``limit`` series; a stale series is removed at once.

    >>> scores = AnomalyScores(limit=1)
    >>> batch = scores_pb2.ScoreBatch(series_id=1)
    >>> _ = batch.labels.add(name="__name__", value="node_load1")
    >>> scores.update(batch, 0.25)
    >>> [(s.labels, s.value) for s in next(scores.collect()).samples]
    [({'tenant': '', 'metric': 'node_load1'}, 0.25)]
    >>> scores.update(scores_pb2.ScoreBatch(series_id=2), 0.5)  # over the limit
    >>> scores.dropped
    1
    >>> scores.update(batch, 0.9, episode=1)
    >>> [(s.name, s.labels, s.value) for s in list(scores.collect())[1].samples]
    [('anomaly_alert', {'tenant': '', 'metric': 'node_load1', 'reason': 'anomaly'}, 1.0)]
    """

    def __init__(self, limit: int):
        self.limit = limit
        self.dropped = 0
        self._series: dict[int, tuple[dict[str, str], float, int]] = {}

    def __len__(self) -> int:
        return len(self._series)

    def update_encoded(
        self, series_id: int, value: bytes, score: float, episode: int, ended: bool
    ) -> None:
        """:meth:`update` from a ScoreBatch's bytes, parsed only for a series to be added.

        >>> scores = AnomalyScores(limit=0)
        >>> scores.update_encoded(3, b"not parsed: over the limit", 0.5, 0, False)
        >>> scores.dropped, len(scores)
        (1, 0)
        """
        known = self._series.get(series_id)
        if known is not None and not ended:
            self._series[series_id] = (known[0], score, episode)
            return
        if known is None:  # nothing to remove, or no room to add: no labels needed
            if ended:
                return
            if len(self._series) >= self.limit:
                self.dropped += 1
                return
        self.update(scores_pb2.ScoreBatch.FromString(value), score, episode)

    def update(self, batch: scores_pb2.ScoreBatch, score: float, episode: int = 0) -> None:
        series_id = batch.series_id
        if batch.stale:
            self._series.pop(series_id, None)
            return
        known = self._series.get(series_id)
        if known is not None:
            self._series[series_id] = (known[0], score, episode)
            return
        if len(self._series) >= self.limit:
            self.dropped += 1
            return
        labels = {"tenant": batch.tenant}
        for label in batch.labels:
            name = label.name
            if name == "__name__":
                name = "metric"
            elif name in ("tenant", "metric", "reason"):
                name = "exported_" + name  # ours win, as Prometheus does on a scrape
            labels[name] = label.value
        self._series[series_id] = (labels, score, episode)

    def remove(self, series_ids: Iterable[int]) -> None:
        for series_id in series_ids:
            self._series.pop(series_id, None)

    def collect(self) -> Iterator[Metric]:
        scores = GaugeMetricFamily(
            "anomaly_score",
            "Calibrated anomaly score of each series this worker owns, in [0, 1]: "
            "min(1, -log10(p)/8), p how likely recent surprises this high are on its history.",
        )
        alerts = GaugeMetricFamily(
            "anomaly_alert", "1 while an alert fires for the series; reason: anomaly or outage."
        )
        for labels, score, episode in self._series.values():
            scores.add_sample("anomaly_score", labels, score)
            if episode:
                reason = _REASONS.get(episode, "anomaly")
                alerts.add_sample("anomaly_alert", {**labels, "reason": reason}, 1.0)
        yield scores
        yield alerts


_REASONS = {1: "anomaly", 2: "outage"}


class _Lag(Collector):
    def __init__(self, lag: Callable[[], Mapping[int, int]]):
        self._lag = lag

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "aidevops_worker_consumer_lag",
            "Messages of the samples topic not yet scored, per owned partition.",
            labels=["partition"],
        )
        for partition, lag in sorted(self._lag().items()):
            family.add_metric([str(partition)], lag)
        yield family


class WorkerMetrics:
    """The worker's registry: anomaly scores plus its own counters and gauges."""

    def __init__(
        self,
        series_limit: int,
        live_series: Callable[[], int],
        dormant_series: Callable[[], int],
        lag: Callable[[], Mapping[int, int]],
        partitions: Callable[[], int],
        warming_series: Callable[[], int],
    ):
        self.registry = r = CollectorRegistry()
        self.scores = AnomalyScores(series_limit)
        r.register(self.scores)
        r.register(_Lag(lag))
        self.samples = Counter(
            "aidevops_worker_samples_scored", "Samples scored (after replays).", registry=r
        )
        self.messages = Counter(
            "aidevops_worker_messages", "Samples messages consumed.", registry=r
        )
        self.malformed = Counter(
            "aidevops_worker_malformed_messages",
            "Samples messages that did not decode and were skipped.",
            registry=r,
        )
        self.alerts = Counter("aidevops_worker_alert_events", "Alert events emitted.", registry=r)
        self.checkpoints = Counter(
            "aidevops_worker_checkpoints_written", "Series checkpoints written.", registry=r
        )
        self.history = Counter(
            "aidevops_worker_history_fetches",
            "History fetches for new series, by result: found (learned) or none.",
            ["result"],
            registry=r,
        )
        self.snapshots = Counter(
            "aidevops_worker_snapshots_written",
            "Partition snapshots written to object storage.",
            registry=r,
        )
        self.receive_to_score = Histogram(
            "aidevops_worker_receive_to_score_seconds",
            "Per scoring step, the time from the receiver taking its oldest sample to the score.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
            registry=r,
        )
        self.scoring_seconds = Histogram(
            "aidevops_worker_scoring_seconds",
            "Time to score one batch of messages (detectors and alert policy).",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        live = Gauge("aidevops_worker_live_series", "Series with a detector in memory.", registry=r)
        live.set_function(live_series)
        dormant = Gauge(
            "aidevops_worker_dormant_series",
            "Retired series kept as checkpoints, restored if they return.",
            registry=r,
        )
        dormant.set_function(dormant_series)
        warming = Gauge(
            "aidevops_worker_history_learning_series",
            "New series whose detector is learning their history from Prometheus.",
            registry=r,
        )
        warming.set_function(warming_series)
        exported = Gauge(
            "aidevops_worker_exported_series",
            "Series exported as anomaly_score (bounded by the configured limit).",
            registry=r,
        )
        exported.set_function(lambda: len(self.scores))
        assigned = Gauge(
            "aidevops_worker_assigned_partitions",
            "Partitions of the samples topic this worker owns.",
            registry=r,
        )
        assigned.set_function(partitions)
