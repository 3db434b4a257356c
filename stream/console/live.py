"""What is anomalous now: the latest scores of every series, followed on the ``scores`` topic.

The sink writes a score bucket to DynamoDB when it closes (hours later), so "now" cannot
come from the table. The API process follows ``scores`` itself, with no consumer group (it
commits nothing and takes nothing from the workers or the sink), from ``lookback_seconds``
ago, and keeps in memory each series' labels and last ``points`` points (in typed arrays:
44 bytes a point; measured about 12 KB a series with its labels at the default 240), for
at most ``max_series`` series (the least recently scored go first).

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
from array import array
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from google.protobuf.message import DecodeError

from aidevops.batches import decode_scores
from aidevops.kafka.security import client_security
from aidevops.pb import scores_pb2
from aidevops.settings import KafkaSettings
from stream.storage.codec import ScorePoint
from stream.storage.matchers import LabelMatcher, matches_all

__all__ = ["LiveBoard", "LiveSeries", "PointRing", "follow_scores", "group_by_target"]

log = logging.getLogger(__name__)


class PointRing:
    """The last ``capacity`` scored points, every field of the message, in typed arrays.

    >>> ring = PointRing(2)
    >>> for t in range(3):
    ...     ring.append(t, float(t), 0.0, t / 10, 0.0, 0)
    >>> [p.timestamp for p in ring.points()], len(ring), ring.raw()[-1]["score"]
    ([1, 2], 2, 0.2)
    """

    __slots__ = ("_feature", "_flags", "_len", "_raw", "_score", "_start", "_ts", "_value")

    def __init__(self, capacity: int) -> None:
        self._ts = array("q", [0]) * capacity
        self._value = array("d", [0.0]) * capacity
        self._feature = array("d", [0.0]) * capacity
        self._score = array("d", [0.0]) * capacity
        self._raw = array("d", [0.0]) * capacity
        self._flags = array("I", [0]) * capacity
        self._start = 0
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def append(
        self, ts: int, value: float, feature: float, score: float, raw: float, flags: int
    ) -> None:
        capacity = len(self._ts)
        if self._len < capacity:
            at = (self._start + self._len) % capacity
            self._len += 1
        else:
            at = self._start
            self._start = (self._start + 1) % capacity
        self._ts[at], self._value[at], self._feature[at] = ts, value, feature
        self._score[at], self._raw[at], self._flags[at] = score, raw, flags

    def _order(self) -> list[int]:
        capacity = len(self._ts)
        return [(self._start + i) % capacity for i in range(self._len)]

    def points(self) -> list[ScorePoint]:
        """Oldest first, as the stored points are."""
        return [
            ScorePoint(self._ts[i], self._value[i], self._score[i], self._flags[i])
            for i in self._order()
        ]

    def last(self) -> ScorePoint | None:
        if not self._len:
            return None
        i = (self._start + self._len - 1) % len(self._ts)
        return ScorePoint(self._ts[i], self._value[i], self._score[i], self._flags[i])

    def latest_score(self) -> float:
        """The newest finite score (0 when none)."""
        for i in reversed(self._order()):
            if math.isfinite(self._score[i]):
                return self._score[i]
        return 0.0

    def raw(self, last: int = 20) -> list[dict[str, Any]]:
        """The newest ``last`` points as the message had them (NaN and infinities: null)."""
        return [
            {
                "timestamp": self._ts[i],
                "value": _finite(self._value[i]),
                "feature": _finite(self._feature[i]),
                "score": _finite(self._score[i]),
                "raw_score": _finite(self._raw[i]),
                "flags": self._flags[i],
            }
            for i in self._order()[-last:]
        ]


@dataclass(slots=True)
class LiveSeries:
    """One series as last seen on ``scores``."""

    tenant: str
    series_id: int
    labels: dict[str, str]
    ring: PointRing
    stale: bool = False

    @property
    def points(self) -> list[ScorePoint]:
        return self.ring.points()

    @property
    def latest(self) -> ScorePoint | None:
        return self.ring.last()

    @property
    def score(self) -> float:
        """The latest finite score (0 when none)."""
        return self.ring.latest_score()

    @property
    def target(self) -> str:
        """job/instance, what the Now page groups by."""
        return f"{self.labels.get('job', '')}/{self.labels.get('instance', '')}"


class LiveBoard:
    """The latest points of every series followed, bounded in series and points."""

    def __init__(self, *, max_series: int = 10_000, points: int = 240) -> None:
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
                PointRing(self._points),
            )
        self._series[key] = series
        series.stale = batch.stale
        for p in batch.points:
            series.ring.append(p.timestamp, p.value, p.feature, p.score, p.raw_score, p.flags)
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

    >>> a = LiveSeries("t", 1, {"job": "j", "instance": "i"}, PointRing(1))
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
        batches = decode_scores(value or b"")  # schema 2: the series of a step, in order
    except DecodeError:
        log.warning("skipping an undecodable scores message")
        return
    for batch in batches:
        board.add(batch)


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
