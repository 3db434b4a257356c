"""Run the storage sink against a real Kafka broker (what the worker / CLI starts)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.abc import ConsumerRebalanceListener

from stream.storage.service import Storage
from stream.storage.settings import StorageSettings
from stream.storage.sink import StorageSink

__all__ = ["make_consumer", "make_sink", "run_sink"]


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, sink: StorageSink) -> None:
        self.sink = sink

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.sink.on_partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        return None


def make_consumer(bootstrap_servers: str, settings: StorageSettings) -> AIOKafkaConsumer:
    """A manual-commit consumer in the sink's group, starting from the earliest offset."""
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=settings.sink_group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_interval_ms=600_000,
    )


def make_sink(consumer: Any, storage: Storage, settings: StorageSettings) -> StorageSink:
    """The sink wired to the DynamoDB stores with ``settings``."""
    return StorageSink(
        consumer,
        storage.scores,
        storage.alerts,
        scores_topic=settings.scores_topic,
        alerts_topic=settings.alerts_topic,
        bucket_ms=settings.scores_bucket_seconds * 1000,
        close_grace_ms=settings.sink_close_grace_seconds * 1000,
        max_buffer_seconds=settings.sink_max_buffer_seconds,
        max_buffered_points=settings.sink_max_buffered_points,
        commit_interval_seconds=settings.sink_commit_interval_seconds,
        retry_max_seconds=settings.sink_retry_max_seconds,
    )


async def run_sink(
    bootstrap_servers: str, settings: StorageSettings, stop: asyncio.Event
) -> StorageSink:
    """Consume ``scores`` and ``alerts`` into DynamoDB until ``stop`` is set."""
    storage = await asyncio.to_thread(Storage.from_settings, settings)
    consumer = make_consumer(bootstrap_servers, settings)
    sink = make_sink(consumer, storage, settings)
    consumer.subscribe([settings.scores_topic, settings.alerts_topic], listener=_Rebalance(sink))
    await consumer.start()
    try:
        await sink.run(stop)
    finally:
        await consumer.stop()
    return sink
