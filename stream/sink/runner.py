"""The sink process: consume ``scores`` and ``alerts`` from Kafka into DynamoDB."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.abc import ConsumerRebalanceListener

from aidevops.kafka.security import client_security
from stream.sink.settings import SinkSettings
from stream.sink.sink import StorageSink
from stream.storage.store import Storage

__all__ = ["make_consumer", "make_sink", "run_sink"]


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, sink: StorageSink) -> None:
        self.sink = sink

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.sink.on_partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        return None


def make_consumer(settings: SinkSettings) -> AIOKafkaConsumer:
    """A manual-commit consumer in the sink's group, starting from the earliest offset."""
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.sink_group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_interval_ms=600_000,
        **client_security(settings),
    )


def make_sink(consumer: Any, storage: Storage, settings: SinkSettings) -> StorageSink:
    """The sink wired to the DynamoDB stores with ``settings``."""
    return StorageSink(consumer, storage.scores, storage.alerts, settings)


async def run_sink(settings: SinkSettings, stop: asyncio.Event) -> StorageSink:
    """Consume ``scores`` and ``alerts`` into DynamoDB until ``stop`` is set."""
    storage = await asyncio.to_thread(Storage.from_settings, settings)
    consumer = make_consumer(settings)
    sink = make_sink(consumer, storage, settings)
    consumer.subscribe([settings.scores_topic, settings.alerts_topic], listener=_Rebalance(sink))
    await consumer.start()
    try:
        await sink.run(stop)
    finally:
        await consumer.stop()
    return sink
