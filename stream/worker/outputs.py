"""Producing a worker's outputs in order, in the background, with a drain point.

Scoring the next batch while the broker acknowledges the previous one's outputs keeps a
worker busy; order is kept because one task sends the queued batches one after another
(records of a partition must not overtake each other), all that queued up at once.
:meth:`OutputPipeline.drain` is the point a checkpoint waits for before it releases offsets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from aidevops.errors import BrokerUnavailable
from aidevops.kafka.producer import BatchProducer

__all__ = ["OutputPipeline"]

log = logging.getLogger(__name__)

Record = tuple[int, bytes | None, bytes]
"""(route, key, value); a key of None: a record without a key (schema 2 ``scores``)."""


class OutputPipeline:
    """An ordered queue of (topic, records) sent by one background task, retried forever.

    Giving up would lose outputs whose offsets may already be held for commit, so sending
    retries with backoff until the broker acknowledges.
    """

    def __init__(self, producer: BatchProducer, max_pending: int = 16):
        self.producer = producer
        self._queue: asyncio.Queue[tuple[str, Sequence[Record]]] = asyncio.Queue(max_pending)
        self._task: asyncio.Task[None] | None = None
        self._queued = 0  # batches put so far
        self._sent = 0  # batches acknowledged so far (they are sent in order)
        self._progress = asyncio.Condition()
        self._merged: set[str] = set()  # topics whose keyless records may merge

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="output-pipeline")

    async def stop(self) -> None:
        await self.drain()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def put(self, topic: str, records: Sequence[Record], merge: bool = False) -> None:
        """Queue records; waits only when ``max_pending`` batches are already queued.

        ``merge``: the topic's records without a key are schema 2 wrappers, which the
        producer may join into fewer records (:meth:`BatchProducer.send`).
        """
        if merge:
            self._merged.add(topic)
        if records:
            if self._task is None:
                self.start()
            await self._queue.put((topic, records))
            self._queued += 1

    async def drain(self) -> None:
        """Return once everything queued before this call is acknowledged.

        Batches queued meanwhile are not waited for: under a steady flow of outputs a
        checkpoint still completes in the time of the queue it found.
        """
        target = self._queued
        async with self._progress:
            await self._progress.wait_for(lambda: self._sent >= target)

    async def _run(self) -> None:
        while True:
            # Everything queued meanwhile goes in one send per topic: waiting for the
            # broker's acknowledgement once per scoring step would cap the steps per second
            # at one over the acknowledgement time, and the scorer would wait on it.
            taken = [await self._queue.get()]
            while not self._queue.empty():
                taken.append(self._queue.get_nowait())
            by_topic: dict[str, list[Record]] = {}
            for topic, records in taken:
                by_topic.setdefault(topic, []).extend(records)
            for topic, records in by_topic.items():
                await self._send(topic, records)
            for _ in taken:
                self._queue.task_done()
            async with self._progress:
                self._sent += len(taken)
                self._progress.notify_all()

    async def _send(self, topic: str, records: list[Record]) -> None:
        delay = 0.5
        while True:
            try:
                await self.producer.send(topic, records, merge=topic in self._merged)
                return
            except BrokerUnavailable as exc:
                log.warning("retrying %d records to %s: %s", len(records), topic, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
