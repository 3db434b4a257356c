"""What is anomalous now: the latest scores of every series, followed on the ``scores`` topic.

The sink writes a score bucket to DynamoDB when it closes (hours later), so "now" cannot
come from the table. The API process follows ``scores`` itself, with no consumer group (it
commits nothing and takes nothing from the workers or the sink), from ``lookback_seconds``
ago, and keeps in memory each series' labels and last ``points`` points, for at most
``max_series`` series (the least recently scored go first).

Examples
--------
>>> from aidevops.pb import scores_pb2
>>> board = LiveBoard(points=3)
>>> batch = scores_pb2.ScoreBatch(tenant="acme", series_id=7, points=[
...     scores_pb2.ScoredPoint(timestamp=t, value=t, score=t / 10) for t in range(5)])
>>> _ = batch.labels.add(name="job", value="node")
>>> board.add(batch)
>>> [p.timestamp for p in board.get("acme", 7).points], board.get("acme", 7).score
([2, 3, 4], 0.4)
>>> [s.series_id for s in board.top("acme", (), 0.3)], board.top("other", (), 0.0)
([7], [])
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from google.protobuf.message import DecodeError

from aidevops.kafka.security import client_security
from aidevops.pb import scores_pb2
from aidevops.settings import KafkaSettings
from stream.storage.codec import ScorePoint
from stream.storage.matchers import LabelMatcher, matches_all

__all__ = ["LiveBoard", "LiveSeries", "follow_scores", "group_by_target"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class LiveSeries:
    """One series as last seen on ``scores``."""

    tenant: str
    series_id: int
    labels: dict[str, str]
    points: deque[ScorePoint]
    stale: bool = False
    raw: deque[dict[str, object]] = field(default_factory=lambda: deque(maxlen=20))

    @property
    def latest(self) -> ScorePoint | None:
        return self.points[-1] if self.points else None

    @property
    def score(self) -> float:
        """The latest finite score (0 when none)."""
        for point in reversed(self.points):
            if math.isfinite(point.score):
                return point.score
        return 0.0

    @property
    def target(self) -> str:
        """job/instance, what the Now page groups by."""
        return f"{self.labels.get('job', '')}/{self.labels.get('instance', '')}"


class LiveBoard:
    """The latest points of every series followed, bounded in series and points."""

    def __init__(self, *, max_series: int = 50_000, points: int = 720) -> None:
        self._max_series = max_series
        self._points = points
        self._series: OrderedDict[tuple[str, int], LiveSeries] = OrderedDict()
        self.connected = False
        self.error = ""

    def __repr__(self) -> str:
        return f"LiveBoard({len(self._series)} series)"

    def add(self, batch: scores_pb2.ScoreBatch) -> None:
        key = (batch.tenant, batch.series_id)
        series = self._series.pop(key, None)
        if series is None:
            series = LiveSeries(
                batch.tenant,
                batch.series_id,
                {lb.name: lb.value for lb in batch.labels},
                deque(maxlen=self._points),
            )
        self._series[key] = series
        series.stale = batch.stale
        for p in batch.points:
            series.points.append(ScorePoint(p.timestamp, p.value, p.score, p.flags))
            series.raw.append(
                {
                    "timestamp": p.timestamp,
                    "value": _finite(p.value),
                    "feature": _finite(p.feature),
                    "score": _finite(p.score),
                    "raw_score": _finite(p.raw_score),
                    "flags": p.flags,
                }
            )
        while len(self._series) > self._max_series:
            self._series.popitem(last=False)

    def get(self, tenant: str, series_id: int) -> LiveSeries | None:
        return self._series.get((tenant, series_id))

    def tenants(self) -> list[str]:
        return sorted({tenant for tenant, _ in self._series})

    def top(
        self,
        tenant: str | None,
        matchers: Iterable[LabelMatcher],
        min_score: float,
        limit: int = 200,
    ) -> list[LiveSeries]:
        """Series of ``tenant`` (every tenant with None) matching, most anomalous first."""
        wanted = tuple(matchers)
        found = [
            s
            for (owner, _), s in self._series.items()
            if (tenant is None or owner == tenant)
            and not s.stale
            and s.score >= min_score
            and matches_all(wanted, s.labels)
        ]
        found.sort(key=lambda s: (-s.score, s.tenant, s.series_id))
        return found[:limit]


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def group_by_target(series: Iterable[LiveSeries]) -> list[tuple[str, list[LiveSeries]]]:
    """Series grouped by tenant and job/instance, the worst group first.

    >>> a = LiveSeries("t", 1, {"job": "j", "instance": "i"}, deque())
    >>> [(name, len(members)) for name, members in group_by_target([a])]
    [('t j/i', 1)]
    """
    groups: dict[str, list[LiveSeries]] = {}
    for s in series:
        groups.setdefault(f"{s.tenant} {s.target}", []).append(s)
    return sorted(groups.items(), key=lambda g: (-max(s.score for s in g[1]), g[0]))


async def follow_scores(
    board: LiveBoard,
    settings: KafkaSettings,
    stop: asyncio.Event,
    *,
    lookback_seconds: float = 3600.0,
    retry_seconds: float = 2.0,
) -> None:
    """Feed ``board`` from the scores topic until ``stop``; reconnects when the broker fails."""
    while not stop.is_set():
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            **client_security(settings),
        )
        try:
            await consumer.start()
            partitions = await _partitions(consumer, settings.scores_topic, stop, retry_seconds)
            if partitions:
                consumer.assign(partitions)
                await _seek(consumer, partitions, lookback_seconds)
                board.connected, board.error = True, ""
                while not stop.is_set():
                    batches = await consumer.getmany(timeout_ms=500)
                    for records in batches.values():
                        for record in records:
                            _take(board, record.value)
        except KafkaError as exc:
            board.connected, board.error = False, f"{type(exc).__name__}: {exc}"
            log.warning("following %s: %s", settings.scores_topic, board.error)
        finally:
            await consumer.stop()
        if not stop.is_set():
            await _wait(stop, retry_seconds)
    board.connected = False


def _take(board: LiveBoard, value: bytes | None) -> None:
    try:
        board.add(scores_pb2.ScoreBatch.FromString(value or b""))
    except DecodeError:
        log.warning("skipping an undecodable scores message")


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


async def _partitions(
    consumer: AIOKafkaConsumer, topic: str, stop: asyncio.Event, retry_seconds: float
) -> list[TopicPartition]:
    while not stop.is_set():
        await consumer.topics()  # refreshes the metadata
        found = consumer.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, p) for p in sorted(found)]
        await _wait(stop, retry_seconds)
    return []


async def _seek(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], lookback_seconds: float
) -> None:
    since = int((time.time() - lookback_seconds) * 1000)
    try:
        offsets: Mapping[TopicPartition, object] = await consumer.offsets_for_times(
            {tp: since for tp in partitions}
        )
    except KafkaError:
        offsets = {}
    for tp in partitions:
        found = offsets.get(tp)
        offset = getattr(found, "offset", None)
        if offset is not None:
            consumer.seek(tp, offset)
        elif tp in offsets:
            await consumer.seek_to_end(tp)  # nothing since then
        else:
            await consumer.seek_to_beginning(tp)  # the broker cannot tell: read it all
