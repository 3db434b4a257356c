"""Producing a worker's outputs in order, in the background, with a drain point.

Scoring the next batch while the broker acknowledges the previous one's outputs keeps a
worker busy; order is kept because one task sends the queued batches one after another
(records of a partition must not overtake each other). :meth:`OutputPipeline.drain` is the
point a checkpoint waits for before it releases offsets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aidevops.errors import BrokerUnavailable
from aidevops.kafka.producer import BatchProducer, RoutedRecord

__all__ = ["OutputPipeline"]

log = logging.getLogger(__name__)


class OutputPipeline:
    """An ordered queue of (topic, records) sent by one background task, retried forever.

    Giving up would lose outputs whose offsets may already be held for commit, so sending
    retries with backoff until the broker acknowledges.
    """

    def __init__(self, producer: BatchProducer, max_pending: int = 16):
        self.producer = producer
        self._queue: asyncio.Queue[tuple[str, list[RoutedRecord]]] = asyncio.Queue(max_pending)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="output-pipeline")

    async def stop(self) -> None:
        await self.drain()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def put(self, topic: str, records: list[RoutedRecord]) -> None:
        """Queue records; waits only when ``max_pending`` batches are already queued."""
        if records:
            if self._task is None:
                self.start()
            await self._queue.put((topic, records))

    async def drain(self) -> None:
        """Return once everything queued so far is acknowledged."""
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            topic, records = await self._queue.get()
            delay = 0.5
            while True:
                try:
                    await self.producer.send(topic, records)
                    break
                except BrokerUnavailable as exc:
                    log.warning("retrying %d records to %s: %s", len(records), topic, exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)
            self._queue.task_done()
