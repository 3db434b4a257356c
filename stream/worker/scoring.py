"""The scoring agent: Faust hands it batches of ``samples`` events, it hands back offsets.

Exactly-once *state* on an at-least-once pipeline
-------------------------------------------------
Each series' detector is checkpointed every ``checkpoint_interval_seconds`` to a compacted
topic co-partitioned with ``samples``. An event's offset is acknowledged to Faust only
after a checkpoint that includes it is acknowledged by the broker (events hold a reference
until then), so the committed offset never passes the last checkpoint. After a crash or a
partition move the new owner restores the checkpoints and replays from the committed
offset: samples the restored detector already learned are recognised by their timestamps
and skipped, the rest are learned again. The detector ends in the state an uninterrupted
run would have; outputs for replayed samples are re-sent identically (sinks deduplicate).

A Faust table was the alternative: its changelog is written on every assignment, i.e. one
~1 KB state per sample, and only from inside stream iteration; periodic checkpoints write
one state per changed series per interval.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from aidevops.kafka.producer import BatchProducer
from stream.worker.engine import ScoringEngine
from stream.worker.exposition import WorkerMetrics
from stream.worker.outputs import OutputPipeline
from stream.worker.recovery import restore_partition
from stream.worker.settings import WorkerSettings
from stream.worker.topics import WorkerTopics

__all__ = ["ScoringService"]

log = logging.getLogger(__name__)


class ScoringService:
    """Runs the engine for the partitions this worker owns."""

    def __init__(
        self,
        settings: WorkerSettings,
        engine: ScoringEngine,
        producer: BatchProducer,
        topics: WorkerTopics,
    ):
        self.settings = settings
        self.engine = engine
        self.producer = producer
        self.outputs = OutputPipeline(producer)
        self.topics = topics
        self.metrics = WorkerMetrics(
            settings.metrics_series_limit,
            live_series=lambda: engine.live_series,
            dormant_series=lambda: engine.dormant_series,
            lag=self.lag,
            partitions=lambda: len(self._recovery),
        )
        self._held: list[Any] = []
        self._checkpointing = asyncio.Lock()
        self._recovery: dict[int, asyncio.Task[int]] = {}
        self._next_offset: dict[int, int] = {}
        self.highwater: dict[int, int] = {}

    # -- partitions ----------------------------------------------------------------------------

    def assigned(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            if partition not in self._recovery:
                self._recovery[partition] = asyncio.create_task(
                    restore_partition(
                        self.settings.kafka_bootstrap_servers,
                        self.topics.checkpoints,
                        partition,
                        self.engine,
                    ),
                    name=f"restore-{partition}",
                )

    def revoked(self, partitions: Iterable[int]) -> None:
        gone = set(partitions)
        for partition in gone:
            task = self._recovery.pop(partition, None)
            if task is not None:
                task.cancel()
            self._next_offset.pop(partition, None)
        self.metrics.scores.remove(self.engine.drop_partitions(gone))
        # Their offsets stay uncommitted: the next owner replays them from its checkpoint.
        self._held = [e for e in self._held if e.message.partition not in gone]

    async def _restored(self, partition: int) -> None:
        if partition not in self._recovery:
            self.assigned([partition])
        await self._recovery[partition]

    def lag(self) -> dict[int, int]:
        return {
            partition: max(0, self.highwater.get(partition, offset) - offset)
            for partition, offset in self._next_offset.items()
        }

    # -- scoring -------------------------------------------------------------------------------

    async def handle(self, events: Sequence[Any]) -> None:
        """Score a batch of Faust events and produce the results; hold their offsets."""
        for partition in {event.message.partition for event in events}:
            await self._restored(partition)
        started = time.perf_counter()
        out = self.engine.process([(e.message.partition, e.value) for e in events])
        self.metrics.scoring_seconds.observe(time.perf_counter() - started)
        await self.outputs.put(self.topics.scores, out.scores)
        await self.outputs.put(self.topics.alerts, out.alerts)
        await self.outputs.put(self.topics.checkpoints, self.engine.take_retired())
        for event in events:
            message = event.message
            message.incref()  # released by the checkpoint that covers it
            self._next_offset[message.partition] = message.offset + 1
        self._held.extend(events)
        for batch, score, episode in out.exported:
            self.metrics.scores.update(batch, score, episode)
        self.metrics.messages.inc(len(events))
        self.metrics.samples.inc(out.samples)
        self.metrics.malformed.inc(out.malformed)
        self.metrics.alerts.inc(len(out.alerts))

    async def checkpoint(self) -> None:
        """Write changed states, retire idle series, then release the offsets covered.

        Runs on a timer, when a rebalance starts and before the worker stops; calls do not
        overlap (a second caller waits for the first).
        """
        async with self._checkpointing:
            await self._checkpoint()

    async def _checkpoint(self) -> None:
        held, self._held = self._held, []
        now = self.engine.clock()
        records = self.engine.collect_dirty()
        retired = self.engine.retire_idle(now)
        records += retired
        records += self.engine.forget_dormant(now - self.settings.state_retention_seconds)
        self.metrics.scores.remove(int.from_bytes(key, "big") for _, key, _ in retired)
        await self.outputs.put(self.topics.checkpoints, records)
        # Outputs and checkpoints of every held event are acknowledged: release them.
        await self.outputs.drain()
        self.metrics.checkpoints.inc(len(records))
        for event in held:
            event.ack()
