"""The scoring service: ``samples`` records in, scores, alerts and checkpoints out.

State and position travel together
----------------------------------
Each series' detector is checkpointed every ``checkpoint_interval_seconds`` to a compacted
topic co-partitioned with ``samples``. The consumer group's committed offset of a partition
is the position the last acknowledged checkpoint covers, and nothing further: the worker's
Faust consumer commits :meth:`ScoringService.committable` instead of what Faust acked (see
:mod:`stream.worker.app`). After a crash or a partition move the new owner restores the
checkpoints and replays from the committed offset: samples the restored detector already
learned are recognised by their timestamps and skipped, the rest are learned again, so the
detector ends in the state an uninterrupted run would have.

Never wait on yourself
----------------------
The Faust agent only hands records over (:meth:`offer`) and returns, so Faust acknowledges
every event at once: a rebalance or a stop never waits for events the service holds, which
is how the previous design stalled for good under traffic. Records wait in a bounded inbox
per partition and are scored by one background task in bounded steps (at most ``batch_size``
records and ``STEP_BYTES`` bytes, a record with many samples of one series split), yielding
to the event loop between steps, so heartbeats, /metrics and rebalances keep their pace
whatever is in flight. Between steps it lets the agent hand over the records Faust already
fetched (one per few turns of the loop), so a step scores many records at once.

On revocation the service finishes the checkpoint in progress (bounded by the rebalance
timeout), commits it, then forgets the partitions and whatever of them was not scored: the
next owner replays it from the committed offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from google.protobuf.message import DecodeError as ProtobufDecodeError

from aidevops.batches import (
    SAMPLES_RECORD_BYTES,
    SamplesIndex,
    decode_index,
    decode_samples,
    pack,
)
from aidevops.kafka.producer import BatchProducer
from aidevops.pb import samples_pb2, wire_views_pb2
from stream.detection import MetricKind
from stream.worker.controls import WorkerControls
from stream.worker.engine import EngineOutput, Offer, OutRecord, Record, ScoringEngine
from stream.worker.exposition import WorkerMetrics
from stream.worker.history import PrometheusHistory
from stream.worker.memory import release_free_memory
from stream.worker.outputs import OutputPipeline
from stream.worker.recovery import restore_partition
from stream.worker.settings import WorkerSettings
from stream.worker.snapshots import (
    SnapshotStore,
    SnapshotUnavailable,
    decode_snapshot,
    encode_snapshot,
)
from stream.worker.topics import WorkerTopics

__all__ = ["ScoringService", "fits", "scores_records", "split_record", "usable_index"]

log = logging.getLogger(__name__)

Restore = Callable[[int], Coroutine[Any, Any, int]]

STEP_BYTES = SAMPLES_RECORD_BYTES
"""Most record bytes scored in one step: bounds how long one step holds the event loop.
(The receiver writes and merges records up to this size, so a record is one step at most.)"""
CHECKPOINT_SLICE = 1000
"""Series states serialised between two yields to the event loop during a checkpoint."""
INBOX_BYTES = 4 * STEP_BYTES
"""Record bytes queued for scoring beyond which the agent waits: four steps' worth. (The
producers merge records, up to a step's worth each, so a bound on records alone is none.)"""
RELEASE_IDLE_SECONDS = 1.0
"""How long the scorer waits idle after scoring before it trims the heap."""
STEP_ROUNDS = 256
"""Most samples of one series scored in one step (they are scored one after another)."""
GATHER_IDLE_TURNS = 10
"""Turns of the event loop without a new record after which a step scores what waits."""
SPLIT_BYTES = 4096
"""Records larger than this are checked for series with more than STEP_ROUNDS samples."""


def _split_series(batch: samples_pb2.SeriesBatch, limit: int) -> list[samples_pb2.SeriesBatch]:
    """One series' batch as batches of at most ``limit`` samples (or histograms), in order."""
    if len(batch.samples) + len(batch.histograms) <= limit:
        return [batch]
    samples, histograms = list(batch.samples), list(batch.histograms)
    bare = samples_pb2.SeriesBatch()
    bare.CopyFrom(batch)
    del bare.samples[:]
    del bare.histograms[:]
    del bare.exemplars[:]  # not scored; not worth repeating in every part
    parts = []
    for start in range(0, len(samples), limit):
        part = samples_pb2.SeriesBatch()
        part.CopyFrom(bare)
        part.samples.extend(samples[start : start + limit])
        parts.append(part)
    for start in range(0, len(histograms), limit):
        part = samples_pb2.SeriesBatch()
        part.CopyFrom(bare)
        part.histograms.extend(histograms[start : start + limit])
        parts.append(part)
    return parts


def split_record(record: Record, limit: int) -> list[Record]:
    """A decoded ``samples`` record as parts holding at most ``limit`` samples of any series.

    The detectors score the samples of one series one after another (they are vectorised
    across series), so a step's time grows with the most samples any one series has in it.
    Parts keep the record's order: part ``k`` holds the ``k``-th slice of every series that
    has one. A record within the limit is returned as its only part, unchanged.

    >>> batch = samples_pb2.SeriesBatch(series_id=7)
    >>> _ = [batch.samples.add(value=float(i), timestamp=i) for i in range(5)]
    >>> parts = split_record([batch], 2)
    >>> [[[s.timestamp for s in b.samples] for b in p] for p in parts]
    [[[0, 1]], [[2, 3]], [[4]]]
    >>> other = samples_pb2.SeriesBatch(series_id=8, samples=batch.samples[:1])
    >>> [[(b.series_id, len(b.samples)) for b in p] for p in split_record([batch, other], 2)]
    [[(7, 2), (8, 1)], [(7, 2)], [(7, 1)]]
    >>> split_record([other], 2)[0][0] is other
    True
    """
    if all(len(batch.samples) + len(batch.histograms) <= limit for batch in record):
        return [record]  # the common case, checked without a call per series
    pieces = [_split_series(batch, limit) for batch in record]
    return [[p[k] for p in pieces if k < len(p)] for k in range(max(len(p) for p in pieces))]


def usable_index(raw: bytes) -> SamplesIndex | None:
    """The record's index if it has every series' samples, none more than a step's worth.

    Else None: the record is decoded whole (and split if it must be).
    """
    index = decode_index(raw)
    if index is None or not index.complete or index.counts.max(initial=0) > STEP_ROUNDS:
        return None
    return index


def fits(raw: bytes, limit: int) -> bool:
    """Whether no series of a ``samples`` record can hold more than ``limit`` samples.

    Judged from the sizes of its series alone, without parsing them: every sample or
    histogram is a field of its series of at least two bytes (tag and length), so a series
    of at most ``2 * limit + 1`` bytes holds at most ``limit`` of them. False for a
    schema-1 record (one bare series) and whenever the sizes do not tell: then
    :func:`split_record` looks inside. Measured on 62-series records of 500-series
    requests: 0.1 us a series, against 0.4 us for looking inside.

    >>> batch = samples_pb2.SeriesBatch(series_id=7)
    >>> _ = [batch.samples.add(value=float(i), timestamp=i) for i in range(5)]
    >>> record = samples_pb2.SamplesBatch(schema_version=2, series=[batch]).SerializeToString()
    >>> fits(record, 100), fits(record, 4), fits(batch.SerializeToString(), 100)
    (True, False, False)
    """
    view = wire_views_pb2.SamplesBatchView.FromString(raw)
    return view.schema_version >= 2 and max(map(len, view.series), default=0) <= 2 * limit + 1


def scores_records(scores: Sequence[OutRecord]) -> list[tuple[int, None, bytes]]:
    """Scores schema 2: a step's ``ScoreBatch`` of each series, one record per partition.

    Each record is a ``ScoresBatch`` without a key, the series in the step's order (the
    order of their partition's records), so a series' scores stay in order in its
    partition. Producing a record per series cost 1.7 us of CPU a series against 1.3 us
    packed (framing is 0.15 us of that; the rest goes with the bytes, which both send).

    >>> from aidevops.batches import decode_scores
    >>> from aidevops.pb import scores_pb2
    >>> one = [scores_pb2.ScoreBatch(schema_version=1, series_id=i).SerializeToString()
    ...        for i in (4, 5, 6)]
    >>> packed = scores_records([(1, b"k", one[0]), (0, b"k", one[1]), (1, b"k", one[2])])
    >>> [(p, key, [b.series_id for b in decode_scores(v)]) for p, key, v in packed]
    [(1, None, [4, 6]), (0, None, [5])]
    """
    return pack(map(itemgetter(0), scores), list(map(itemgetter(2), scores)))


@dataclass(slots=True)
class _Part:
    """A part of a split record, waiting in its partition's inbox."""

    series: Record
    size: int  # its share of the record's bytes, for the step's byte budget


@dataclass(slots=True)
class _Partition:
    """What the service knows of one owned ``samples`` partition."""

    restore: asyncio.Task[int]
    # (offset, record or part): offset -1 for all but the last part of a split record
    inbox: deque[tuple[int, bytes | _Part]] = field(default_factory=deque)
    next_offset: int | None = None  # after the last record scored
    committable: int | None = None  # what the last acknowledged checkpoint covers


class ScoringService:
    """Runs the engine for the partitions this worker owns.

    Parameters
    ----------
    settings
        Batch sizes, checkpoint interval, topics.
    engine
        The framework-free scoring core.
    producer
        Sends scores, alerts and checkpoints (acks=all).
    topics
        Names of the output topics.
    restore
        Reads a partition's checkpoints into the engine; defaults to the checkpoint topic,
        then ``snapshots`` when the topic has nothing for the partition.
    snapshots
        Object storage for periodic partition snapshots (:mod:`stream.worker.snapshots`).
    history
        Where new series' history comes from (:mod:`stream.worker.history`); the fetches
        run in the background and never hold scoring up.
    controls
        The controls of the alert-configs table (:mod:`stream.worker.controls`): read once
        before the first record is scored, then by :meth:`refresh_controls` on a timer.
    """

    def __init__(
        self,
        settings: WorkerSettings,
        engine: ScoringEngine,
        producer: BatchProducer,
        topics: WorkerTopics,
        restore: Restore | None = None,
        snapshots: SnapshotStore | None = None,
        history: PrometheusHistory | None = None,
        controls: WorkerControls | None = None,
    ):
        self.settings = settings
        self.engine = engine
        self.producer = producer
        self.outputs = OutputPipeline(producer)
        self.topics = topics
        self._restore = restore or self._restore_from_topic
        self.snapshots = snapshots
        self.history = history
        self.controls = controls
        self._fetching: set[asyncio.Task[None]] = set()
        self.metrics = WorkerMetrics(
            settings.metrics_series_limit,
            live_series=lambda: engine.live_series,
            dormant_series=lambda: engine.dormant_series,
            warming_series=lambda: engine.bootstrapping,
            lag=self.lag,
            partitions=lambda: len(self._partitions),
        )
        self.step_records = max(1, settings.batch_size)
        self.inbox_limit = 4 * self.step_records
        self.highwater: dict[int, int] = {}
        self._partitions: dict[int, _Partition] = {}
        self._queued = 0
        self._queued_bytes = 0  # of the records (not parts) waiting in the inboxes
        self._work = asyncio.Event()
        self._scored_since_release = False  # since the heap was last trimmed
        self._space = asyncio.Event()
        self._space.set()
        self._checkpointing = asyncio.Lock()
        self._scorer: asyncio.Task[None] | None = None
        self._stopping = False

    # -- partitions ----------------------------------------------------------------------------

    async def _restore_from_topic(self, partition: int) -> int:
        read = await restore_partition(
            self.settings.kafka_bootstrap_servers, self.topics.checkpoints, partition, self.engine
        )
        if read or self.snapshots is None:
            return read
        return await self._restore_from_snapshot(partition)

    async def _restore_from_snapshot(self, partition: int) -> int:
        assert self.snapshots is not None
        try:
            data = await asyncio.to_thread(self.snapshots.get, partition)
        except SnapshotUnavailable as exc:  # start cold rather than not at all
            log.warning("snapshot of partition %d unreadable, starting cold: %s", partition, exc)
            return 0
        if data is None:
            return 0
        snapshot = decode_snapshot(data)
        if snapshot.partitions != self.settings.samples_partitions:
            log.warning(
                "snapshot of partition %d was written for %d partitions, not %d: not used",
                partition,
                snapshot.partitions,
                self.settings.samples_partitions,
            )
            return 0
        for checkpoint in snapshot.series:
            self.engine.restore(partition, checkpoint.series_id, checkpoint.SerializeToString())
        log.info(
            "restored %d series of partition %d from a snapshot", len(snapshot.series), partition
        )
        return len(snapshot.series)

    async def snapshot(self) -> int:
        """Write a snapshot of every owned partition; returns how many were written.

        Runs after a checkpoint, so a snapshot never holds state newer than the checkpoint
        topic. A failure is logged and retried at the next interval.
        """
        if self.snapshots is None:
            return 0
        await self.checkpoint()
        written = 0
        for partition in sorted(self._partitions):
            blob = encode_snapshot(
                partition,
                self.settings.samples_partitions,
                self.engine.partition_checkpoints(partition),
                self.engine.clock(),
            )
            try:
                await asyncio.to_thread(self.snapshots.put, partition, blob)
            except SnapshotUnavailable as exc:
                log.warning("snapshot of partition %d not written: %s", partition, exc)
                continue
            written += 1
        self.metrics.snapshots.inc(written)
        return written

    def assigned(self, partitions: Iterable[int]) -> None:
        """Start restoring newly owned partitions; their records wait until it is done."""
        for partition in partitions:
            if partition not in self._partitions:
                task: asyncio.Task[int] = asyncio.create_task(
                    self._restore(partition), name=f"restore-{partition}"
                )
                task.add_done_callback(lambda _: self._work.set())
                self._partitions[partition] = _Partition(restore=task)
        self._ensure_scorer()

    async def revoked(self, partitions: Iterable[int], timeout: float) -> None:
        """Checkpoint and commit what was scored, then forget the partitions.

        Bounded by ``timeout``: past it the partitions are given up with whatever was
        committed before, which the next owner replays from.
        """
        gone = {p for p in partitions if p in self._partitions}
        if not gone:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.checkpoint(), timeout)
        self.forget(gone)

    def forget(self, partitions: Iterable[int]) -> None:
        """Drop partitions at once: their unscored records and their detectors."""
        gone = set(partitions)
        for partition in gone:
            state = self._partitions.pop(partition, None)
            if state is None:
                continue
            state.restore.cancel()
            self._queued -= len(state.inbox)
            self._queued_bytes -= sum(len(v) for _, v in state.inbox if isinstance(v, bytes))
            self.highwater.pop(partition, None)
        self.metrics.scores.remove(self.engine.drop_partitions(gone))
        self._update_space()

    def committable(self) -> dict[int, int]:
        """Per owned partition, the offset the last acknowledged checkpoint covers."""
        return {p: s.committable for p, s in self._partitions.items() if s.committable is not None}

    def lag(self) -> dict[int, int]:
        out = {}
        for partition, state in self._partitions.items():
            if state.next_offset is not None:
                high = self.highwater.get(partition, state.next_offset)
                out[partition] = max(0, high - state.next_offset)
        return out

    # -- records in ----------------------------------------------------------------------------

    async def offer(self, partition: int, offset: int, value: bytes) -> None:
        """Queue one ``samples`` record; waits while the inbox is full.

        Records of partitions not owned (a rebalance moved them) are ignored: their next
        owner reads them from its committed offset.
        """
        while not self._space.is_set() and not self._stopping:
            await self._space.wait()
        state = self._partitions.get(partition)
        if state is None or self._stopping:
            return
        state.inbox.append((offset, value))
        self._queued += 1
        self._queued_bytes += len(value)
        self._update_space()
        self._work.set()

    def _update_space(self) -> None:
        if (self._queued < self.inbox_limit and self._queued_bytes < INBOX_BYTES) or self._stopping:
            self._space.set()
        else:
            self._space.clear()

    # -- scoring -------------------------------------------------------------------------------

    def _ensure_scorer(self) -> None:
        if self._scorer is None or self._scorer.done():
            self._scorer = asyncio.create_task(self._score_forever(), name="scorer")

    async def _score_forever(self) -> None:
        await self.refresh_controls()  # an excluded series must not be scored at start
        while not self._stopping:
            await self._gather()
            if self._stopping:
                break
            if not await self.step():
                self._work.clear()
                if self._scored_since_release:
                    # A backlog (a restart, a rebalance, a pause) is scored in large steps
                    # whose temporaries leave the heap holding far more than the detectors
                    # need; once no record came for a while, hand its free pages back
                    # rather than at the next checkpoint (stream.worker.memory).
                    try:
                        await asyncio.wait_for(self._work.wait(), RELEASE_IDLE_SECONDS)
                        continue
                    except TimeoutError:
                        release_free_memory()
                        self._scored_since_release = False
                await self._work.wait()

    async def _gather(self) -> None:
        """Yield to the event loop until a step's worth of records waits or none arrives.

        Faust hands the agent one event every few turns of the event loop (its consumer
        waits on a task per message, its stream sleeps once per event), so a scorer stepping
        at every turn scored one record per step and paid a step's fixed cost (the
        detectors' numpy calls, the outputs' sends) per record: measured end to end, a
        third of the worker's CPU time. ``GATHER_IDLE_TURNS`` turns without a new record
        mean none is at hand, and what waits is scored.
        """
        idle = 0
        for _ in range(self.step_records):  # at least one turn: the loop breathes between steps
            before = self._queued
            await asyncio.sleep(0)
            if self._stopping or self._queued >= self.step_records:
                return
            if self._queued_bytes >= STEP_BYTES:
                return
            idle = idle + 1 if self._queued <= before else 0
            if idle >= GATHER_IDLE_TURNS:
                return

    async def step(self) -> bool:
        """Score queued records of restored partitions, at most one step's worth.

        A step takes at most ``batch_size`` records and ``STEP_BYTES`` bytes. A record is
        decoded here, once, and handed to the engine decoded. One with more than
        ``STEP_ROUNDS`` samples of one series is split (:func:`split_record`) and its parts
        are scored one per step (its offset counts as scored with its last part).
        Returns whether anything was scored.
        """
        messages: list[tuple[int, bytes | Record | SamplesIndex]] = []
        taken: list[tuple[_Partition, int]] = []
        count_left, bytes_left = self.step_records, STEP_BYTES
        for partition, state in list(self._partitions.items()):
            if not state.restore.done() or state.restore.cancelled():
                continue
            inbox = state.inbox
            while inbox and count_left > 0 and bytes_left > 0:
                offset, value = inbox.popleft()
                self._queued -= 1
                if isinstance(value, _Part):
                    item: bytes | Record | SamplesIndex = value.series
                    size, split = value.size, True
                else:
                    item, size, split = value, len(value), False
                    self._queued_bytes -= size
                    with contextlib.suppress(ProtobufDecodeError):  # else the engine counts it
                        item = usable_index(value) or decode_samples(value)
                    if (
                        not isinstance(item, bytes | SamplesIndex)
                        and size > SPLIT_BYTES
                        and not fits(value, STEP_ROUNDS)
                    ):
                        parts = split_record(item, STEP_ROUNDS)
                        if len(parts) > 1:
                            size //= len(parts)
                            # only the last part carries the offset
                            rest = [(-1, _Part(p, size)) for p in parts[1:]]
                            rest[-1] = (offset, rest[-1][1])
                            inbox.extendleft(reversed(rest))
                            self._queued += len(rest)
                            offset, item, split = -1, parts[0], True
                messages.append((partition, item))
                taken.append((state, offset))
                count_left -= 1
                bytes_left -= size
                if split:
                    break  # one part of a split record per partition and step
        learned = self._warm_up()
        if not messages:
            self._update_space()
            return learned > 0
        started = time.perf_counter()
        out = self.engine.process(messages)
        self._scored_since_release = True
        self.metrics.scoring_seconds.observe(time.perf_counter() - started)
        if out.oldest_received_at:
            self.metrics.receive_to_score.observe(
                max(0.0, time.time() - out.oldest_received_at / 1000)
            )
        for state, offset in taken:
            if offset >= 0:
                state.next_offset = offset + 1
        self._update_space()
        await self._publish(out)
        self.metrics.messages.inc(sum(1 for _, offset in taken if offset >= 0))
        self.metrics.samples.inc(out.samples)
        self.metrics.malformed.inc(out.malformed)
        self.metrics.alerts.inc(len(out.alerts))
        self._fetch_history()
        return True

    async def _publish(self, out: EngineOutput) -> None:
        """Send what the engine produced and show it on /metrics."""
        if self.settings.scores_schema_version >= 2:
            await self.outputs.put(self.topics.scores, scores_records(out.scores), merge=True)
        else:
            await self.outputs.put(self.topics.scores, out.scores)
        await self.outputs.put(self.topics.alerts, out.alerts)
        await self.outputs.put(self.topics.checkpoints, self.engine.take_retired())
        scores = self.metrics.scores
        for series_id, value, score, episode, ended in out.exported:
            scores.update_encoded(series_id, value, score, episode, ended)

    # -- controls --------------------------------------------------------------------------------

    async def refresh_controls(self) -> None:
        """Read the controls again; apply them to every series if what they set changed.

        Live series are decided again in slices, yielding to the event loop in between
        (about 15 µs a series: 100,000 live series would hold it for over a second).
        """
        if self.controls is None:
            return
        changed = await self.controls.refresh()
        if changed is None:
            return
        live = self.engine.set_controls(changed)
        for start in range(0, len(live), CHECKPOINT_SLICE):
            out = self.engine.apply_controls(live[start : start + CHECKPOINT_SLICE])
            self.metrics.alerts.inc(len(out.alerts))
            await self._publish(out)
            await asyncio.sleep(0)

    # -- warm-up from history ------------------------------------------------------------------

    def _fetch_history(self) -> None:
        """Start a history fetch for every new series the engine offered."""
        offered = self.engine.take_offered()
        if self.history is None:
            for offer in offered:
                self.engine.abandon_bootstrap(offer.series_id)
            return
        for offer in offered:
            task = asyncio.create_task(self._fetch_one(offer))
            self._fetching.add(task)
            task.add_done_callback(self._fetching.discard)

    async def _fetch_one(self, offer: Offer) -> None:
        assert self.history is not None
        series_id = offer.series_id
        # Only a gauge's bins are averaged: a counter's rate needs its values, and a scrape
        # count's 0 is a gap, not a value to average.
        gauge = offer.kind == MetricKind.GAUGE
        found = await self.history.fetch(offer.labels, offer.first_ms, gauge)
        if found is None:
            self.engine.abandon_bootstrap(series_id)
            self.metrics.history.labels("none").inc()
            return
        self.engine.begin_bootstrap(series_id, found.timestamps, found.values, found.rhythm_points)
        self.metrics.history.labels("found").inc()
        self._work.set()

    def _warm_up(self) -> int:
        """One bounded step of every bootstrapping detector (see ScoringEngine.bootstrap_step)."""
        if not self.engine.bootstrapping:
            return 0
        return self.engine.bootstrap_step(STEP_ROUNDS)

    # -- checkpoints ---------------------------------------------------------------------------

    async def checkpoint(self) -> None:
        """Write changed states and retire idle series; then the offsets covered are committable.

        Runs on a timer, when a rebalance starts, on revocation and before the worker stops;
        calls do not overlap (a second caller waits for the first). It waits only for the
        broker's acknowledgements, never for Faust.
        """
        async with self._checkpointing:
            positions = {
                p: s.next_offset for p, s in self._partitions.items() if s.next_offset is not None
            }
            now = self.engine.clock()
            # Serialising a state takes tens of microseconds: collect them in slices and let
            # scoring go on in between, so a checkpoint of many series never holds the event
            # loop. States collected later may hold samples past `positions`: a replay from
            # there skips them by timestamp, and the drain below covers their outputs.
            records: list[OutRecord] = []
            while True:
                part = self.engine.collect_dirty(limit=CHECKPOINT_SLICE)
                records += part
                if len(part) < CHECKPOINT_SLICE:
                    break
                await asyncio.sleep(0)
            retired = self.engine.retire_idle(now)
            records += retired
            records += self.engine.forget_dormant(now - self.settings.state_retention_seconds)
            self.metrics.scores.remove(int.from_bytes(key, "big") for _, key, _ in retired)
            await self.outputs.put(self.topics.checkpoints, records)
            # Outputs and states of everything scored so far are acknowledged after this.
            await self.outputs.drain()
            self.metrics.checkpoints.inc(len(records))
            for partition, offset in positions.items():
                state = self._partitions.get(partition)
                if state is not None:
                    state.committable = offset

    async def stop(self, timeout: float) -> None:
        """Stop scoring at a step boundary and write a last checkpoint (bounded)."""
        self._stopping = True
        for task in list(self._fetching):
            task.cancel()
        if self.history is not None:
            await self.history.close()
        self._space.set()
        self._work.set()
        if self._scorer is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._scorer), timeout)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.checkpoint(), timeout)
