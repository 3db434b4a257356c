"""Fakes implementing the storage ports, for unit tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from aidevops.pb import alerts_pb2
from stream.storage.codec import ScorePoint
from stream.storage.errors import StorageUnavailable
from stream.storage.scores import BucketUpdate, SeriesKey


class TP(NamedTuple):
    topic: str
    partition: int


class Rec(NamedTuple):
    topic: str
    partition: int
    offset: int
    value: bytes | None


class FakeScoreStore:
    """A ScoreStore in a dict; ``down`` makes every write fail as DynamoDB would."""

    def __init__(self) -> None:
        self.points: dict[SeriesKey, dict[int, ScorePoint]] = {}
        self.writes = 0
        self.log: list[BucketUpdate] = []  # every update, in order, as written
        self.down = False

    def merge(self, updates: Sequence[BucketUpdate]) -> None:
        if self.down:
            raise StorageUnavailable("fake outage")
        for u in updates:
            self.writes += 1
            self.log.append(u)
            stored = self.points.setdefault(u.series, {})
            stored.update({p.timestamp: p for p in u.points})

    def read(self, series: SeriesKey, since: int, until: int) -> list[ScorePoint]:
        stored = self.points.get(series, {})
        return [stored[t] for t in sorted(stored) if since <= t < until]


class FakeAlertStore:
    def __init__(self) -> None:
        self.items: dict[tuple[str, int], alerts_pb2.AlertEvent] = {}
        self.down = False

    def put(self, events: Sequence[alerts_pb2.AlertEvent]) -> None:
        if self.down:
            raise StorageUnavailable("fake outage")
        for e in events:
            self.items[(e.dedup_key, e.state)] = e

    def recent(self, tenant: str, series_id: int, limit: int = 20) -> list[Any]:
        return []


class FakeConsumer:
    """Serves queued records per partition; records commits, pauses and resumes."""

    def __init__(self) -> None:
        self.queue: dict[TP, list[Rec]] = {}
        self.committed: dict[TP, int] = {}
        self.paused: set[TP] = set()
        self.pause_calls = 0

    def feed(self, tp: TP, values: Iterable[bytes]) -> None:
        q = self.queue.setdefault(tp, [])
        start = q[-1].offset + 1 if q else 0
        q.extend(Rec(tp.topic, tp.partition, start + i, v) for i, v in enumerate(values))
        self._pos = getattr(self, "_pos", {})
        self._pos.setdefault(tp, 0)

    def rewind(self) -> None:
        """Restart from the committed offsets, as a new consumer in the group would."""
        for tp in self.queue:
            self._pos[tp] = self.committed.get(tp, 0)

    async def getmany(
        self, *partitions: Any, timeout_ms: int = 0, max_records: int | None = None
    ) -> Mapping[Any, Sequence[Any]]:
        out = {}
        for tp, q in self.queue.items():
            if tp in self.paused:
                continue
            pos = self._pos[tp]
            batch = q[pos : pos + (max_records or len(q))]
            if batch:
                out[tp] = batch
                self._pos[tp] = pos + len(batch)
        return out

    async def commit(self, offsets: Any = None) -> None:
        self.committed.update(offsets)

    def pause(self, *partitions: Any) -> None:
        self.pause_calls += 1
        self.paused |= set(partitions)

    def resume(self, *partitions: Any) -> None:
        self.paused -= set(partitions)

    def assignment(self) -> set[Any]:
        return set(self.queue)
