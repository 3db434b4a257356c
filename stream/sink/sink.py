"""The storage sink: consume ``scores`` and ``alerts``, write DynamoDB, commit offsets after.

Framework-free: the Kafka consumer and the stores are injected (aiokafka's
``AIOKafkaConsumer`` with ``enable_auto_commit=False`` fits :class:`Consumer`).

At-least-once, idempotent
    Offsets are committed only up to the first record whose data is not yet durable: per
    partition, the minimum over the buffered buckets and pending alerts of the first offset
    that fed them. A replay from there rewrites identical items (bucket items are a pure
    function of their points; alert items of their event).
Buffering, the cost trade-off
    DynamoDB bills a rewrite of a growing item in full (1 WCU per KB), so the sink keeps a
    bucket in memory and writes it once, when it *closes*: the series sent a point of a later
    bucket, or the series went stale, or its partition's event time passed the bucket end by
    ``close_grace_ms``. One write per bucket is what meets <= 5,000 WCU per million samples.
    The price: DynamoDB lags by up to a bucket (6 h by default: the live view is Prometheus
    via ``/metrics``), and a restart replays up to a bucket from Kafka (reads, no rewrites).
    Two bounds write a bucket early (costing an extra rewrite later): a wall-clock age
    (``max_buffer_seconds``) and a memory bound (``max_buffered_points``).
DynamoDB down
    A failed write keeps the buffers, pauses the assigned partitions and retries with
    back-off; when a write succeeds consumption resumes. Nothing is committed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aidevops.batches import decode_scores
from aidevops.pb import alerts_pb2, scores_pb2
from stream.sink.settings import SinkSettings
from stream.storage.alerts import AlertStore
from stream.storage.buckets import bucket_start
from stream.storage.codec import ScorePoint
from stream.storage.errors import StorageError, StorageUnavailable
from stream.storage.scores import BucketUpdate, ScoreStore, SeriesKey

__all__ = ["Consumer", "Record", "SinkStats", "StorageSink"]

log = logging.getLogger(__name__)


class Record(Protocol):
    """What the sink reads of a consumed record (aiokafka's ``ConsumerRecord``)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def value(self) -> bytes | None: ...


class Consumer(Protocol):
    """The part of ``AIOKafkaConsumer`` the sink uses (manual commit)."""

    async def getmany(
        self, *partitions: Any, timeout_ms: int = 0, max_records: int | None = None
    ) -> Mapping[Any, Sequence[Any]]: ...
    async def commit(self, offsets: Any = None) -> None: ...
    def pause(self, *partitions: Any) -> None: ...
    def resume(self, *partitions: Any) -> None: ...
    def assignment(self) -> Iterable[Any]: ...


@dataclass
class _Buffer:
    series: SeriesKey
    labels: dict[str, str]
    bucket_start: int
    born: float
    points: list[ScorePoint] = field(default_factory=list)
    first_offsets: dict[Any, int] = field(default_factory=dict)
    closed: bool = False


@dataclass
class SinkStats:
    """Counters for logs, metrics and tests."""

    records: int = 0
    points: int = 0
    alerts: int = 0
    buckets_flushed: int = 0
    early_flushes: int = 0
    failed_writes: int = 0
    commits: int = 0


class StorageSink:
    """Buffers scores per series and bucket, writes closed buckets and alerts, commits.

    Parameters
    ----------
    consumer
        Subscribed (or assigned) to the scores and alerts topics; auto-commit off.
    scores, alerts
        The stores; their calls block, so they run in a worker thread.
    settings
        Topics, bucket width (must equal the score store's) and the sink's bounds.
    """

    def __init__(
        self,
        consumer: Consumer,
        scores: ScoreStore,
        alerts: AlertStore,
        settings: SinkSettings,
        *,
        poll_max_records: int = 5_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.consumer = consumer
        self.scores = scores
        self.alerts = alerts
        self.scores_topic = settings.scores_topic
        self.alerts_topic = settings.alerts_topic
        self.bucket_ms = settings.scores_bucket_seconds * 1000
        self.close_grace_ms = settings.sink_close_grace_seconds * 1000
        self.max_buffer_seconds = settings.sink_max_buffer_seconds
        self.max_buffered_points = settings.sink_max_buffered_points
        self.commit_interval_seconds = settings.sink_commit_interval_seconds
        self.retry_max_seconds = settings.sink_retry_max_seconds
        self.poll_max_records = poll_max_records
        self.clock = clock
        self.stats = SinkStats()
        self._buffers: dict[tuple[SeriesKey, int], _Buffer] = {}
        self._latest_bucket: dict[SeriesKey, int] = {}
        self._pending_alerts: list[tuple[Any, int, alerts_pb2.AlertEvent]] = []
        self._next_offset: dict[Any, int] = {}
        self._committed: dict[Any, int] = {}
        self._watermark: dict[Any, int] = {}
        self._buffered_points = 0
        self._last_commit = clock()
        self._paused = False
        self._retry_delay = 0.0
        self._retry_at = 0.0

    # ---------------------------------------------------------------- ingest

    def ingest(self, tp: Any, records: Sequence[Record]) -> None:
        """Take one partition's records into the buffers (no I/O)."""
        for record in records:
            self.stats.records += 1
            self._next_offset[tp] = record.offset + 1
            if not record.value:
                continue
            if record.topic == self.alerts_topic:
                event = alerts_pb2.AlertEvent.FromString(record.value)
                self._pending_alerts.append((tp, record.offset, event))
                self.stats.alerts += 1
            elif record.topic == self.scores_topic:
                for batch in decode_scores(record.value):  # schema 2: many series a record
                    self._ingest_scores(tp, record.offset, batch)

    def _ingest_scores(self, tp: Any, offset: int, batch: scores_pb2.ScoreBatch) -> None:
        series = SeriesKey(batch.tenant, batch.series_id)
        labels: dict[str, str] | None = None
        for p in batch.points:
            start = bucket_start(p.timestamp, self.bucket_ms)
            buf = self._buffers.get((series, start))
            if buf is None:
                if labels is None:
                    labels = {lb.name: lb.value for lb in batch.labels}
                buf = _Buffer(series, labels, start, self.clock())
                self._buffers[(series, start)] = buf
            buf.first_offsets.setdefault(tp, offset)
            buf.points.append(ScorePoint(p.timestamp, p.value, p.score, p.flags))
            self._buffered_points += 1
            self.stats.points += 1
            latest = self._latest_bucket.get(series)
            if latest is None or start > latest:
                if latest is not None and (series, latest) in self._buffers:
                    self._buffers[(series, latest)].closed = True
                self._latest_bucket[series] = start
            elif start < latest:
                buf.closed = True  # late point into an older bucket: merge it in now
            if p.timestamp > self._watermark.get(tp, p.timestamp - 1):
                self._watermark[tp] = p.timestamp
        if batch.stale:
            for key in [k for k in self._buffers if k[0] == series]:
                self._buffers[key].closed = True
            self._latest_bucket.pop(series, None)

    # ---------------------------------------------------------------- flush

    def _due(self, *, everything: bool) -> list[_Buffer]:
        now = self.clock()
        due = []
        for buf in self._buffers.values():
            end = buf.bucket_start + self.bucket_ms
            closed = buf.closed or any(
                self._watermark.get(tp, end) >= end + self.close_grace_ms
                for tp in buf.first_offsets
            )
            aged = now - buf.born >= self.max_buffer_seconds
            if everything or closed or aged:
                if not closed:
                    self.stats.early_flushes += 1
                due.append(buf)
        if self._buffered_points - sum(len(b.points) for b in due) > self.max_buffered_points:
            rest = sorted(
                (b for b in self._buffers.values() if b not in due),
                key=lambda b: len(b.points),
                reverse=True,
            )
            budget = self._buffered_points - sum(len(b.points) for b in due)
            for buf in rest:
                if budget <= self.max_buffered_points * 0.8:
                    break
                due.append(buf)
                budget -= len(buf.points)
                self.stats.early_flushes += 1
        return due

    async def flush(
        self, *, everything: bool = False, partitions: Iterable[Any] | None = None
    ) -> bool:
        """Write what is due (or everything); True on success, False if DynamoDB failed."""
        due = self._due(everything=everything)
        alerts = list(self._pending_alerts)
        if partitions is not None:
            wanted = set(partitions)
            due = [b for b in due if wanted & b.first_offsets.keys()]
            alerts = [a for a in alerts if a[0] in wanted]
        if not due and not alerts:
            return True
        updates = [BucketUpdate(b.series, b.labels, b.bucket_start, b.points) for b in due]
        try:
            if alerts:
                await asyncio.to_thread(self.alerts.put, [a[2] for a in alerts])
            if updates:
                await asyncio.to_thread(self.scores.merge, updates)
        except StorageError as exc:
            self.stats.failed_writes += 1
            if not isinstance(exc, StorageUnavailable):
                log.error("storage rejected a write, will retry: %s", exc)
            else:
                log.warning("DynamoDB unavailable, pausing consumption: %s", exc)
            return False
        done_alerts = {id(a) for a in alerts}
        self._pending_alerts = [a for a in self._pending_alerts if id(a) not in done_alerts]
        for buf in due:
            self._forget(buf)
        self.stats.buckets_flushed += len(due)
        return True

    def _forget(self, buf: _Buffer) -> None:
        """Drop a written (or revoked) buffer, and its series' latest bucket if it was that.

        A series is tracked only while it has a buffer: its latest bucket only serves to
        close the previous one early. Kept after the last write, it grew by one entry per
        series the sink ever met (pods replaced by every deploy, partitions moved away).
        """
        del self._buffers[(buf.series, buf.bucket_start)]
        self._buffered_points -= len(buf.points)
        if self._latest_bucket.get(buf.series) == buf.bucket_start:
            del self._latest_bucket[buf.series]

    @property
    def tracked_series(self) -> int:
        """Series whose latest bucket the sink holds (those with a buffer)."""
        return len(self._latest_bucket)

    # ---------------------------------------------------------------- commit

    def committable(self) -> dict[Any, int]:
        """Per partition, the offset before which everything is durable."""
        safe = dict(self._next_offset)
        for buf in self._buffers.values():
            for tp, first in buf.first_offsets.items():
                safe[tp] = min(safe.get(tp, first), first)
        for tp, offset, _ in self._pending_alerts:
            safe[tp] = min(safe.get(tp, offset), offset)
        return safe

    async def commit(self, partitions: Iterable[Any] | None = None) -> None:
        offsets = {
            tp: off
            for tp, off in self.committable().items()
            if self._committed.get(tp) != off and (partitions is None or tp in set(partitions))
        }
        if not offsets:
            return
        await self.consumer.commit(offsets)
        self._committed.update(offsets)
        self.stats.commits += 1
        self._last_commit = self.clock()

    # ---------------------------------------------------------------- loop

    async def step(self, timeout_ms: int = 500) -> None:
        """One poll-flush-commit round."""
        batches = await self.consumer.getmany(
            timeout_ms=timeout_ms, max_records=self.poll_max_records
        )
        for tp, records in batches.items():
            self.ingest(tp, records)
        now = self.clock()
        if now < self._retry_at:
            return
        if await self.flush():
            if self._paused:
                self.consumer.resume(*self.consumer.assignment())
                self._paused = False
                log.info("DynamoDB is back, consumption resumed")
            self._retry_delay = 0.0
            if now - self._last_commit >= self.commit_interval_seconds:
                await self.commit()
        else:
            if not self._paused:
                self.consumer.pause(*self.consumer.assignment())
                self._paused = True
            self._retry_delay = min(self.retry_max_seconds, max(0.2, self._retry_delay * 2))
            self._retry_at = now + self._retry_delay

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, then flush everything and commit."""
        while not stop.is_set():
            await self.step()
        await self.close()

    async def close(self, attempts: int = 3) -> bool:
        """Write every buffer and commit; False (nothing committed for it) if DynamoDB failed."""
        for attempt in range(attempts):
            if await self.flush(everything=True):
                await self.commit()
                return True
            await asyncio.sleep(min(self.retry_max_seconds, 0.5 * 2**attempt))
        with contextlib.suppress(Exception):
            await self.commit()  # what was durable before the outage
        return False

    async def on_partitions_revoked(self, revoked: Iterable[Any]) -> None:
        """Rebalance: write and commit the revoked partitions' data, then forget it."""
        revoked = set(revoked)
        if await self.flush(everything=True, partitions=revoked):
            await self.commit(revoked)
        for buf in list(self._buffers.values()):
            if revoked & buf.first_offsets.keys():
                self._forget(buf)
        self._pending_alerts = [a for a in self._pending_alerts if a[0] not in revoked]
        for tp in revoked:
            self._next_offset.pop(tp, None)
            self._committed.pop(tp, None)
            self._watermark.pop(tp, None)

    @property
    def buffered_points(self) -> int:
        return self._buffered_points
