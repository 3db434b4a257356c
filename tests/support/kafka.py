"""Reading back what landed in Kafka."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord, TopicPartition

from aidevops.batches import decode_samples, decode_scores
from aidevops.pb import samples_pb2, scores_pb2

__all__ = ["committed", "consume", "consume_scores", "consume_series", "scores_of", "series_of"]


def series_of(
    records: Iterable[ConsumerRecord[bytes, bytes]],
) -> list[tuple[ConsumerRecord[bytes, bytes], samples_pb2.SeriesBatch]]:
    """Each series of ``samples`` records, with its record: schema 2 records hold many."""
    return [
        (record, series) for record in records for series in decode_samples(record.value or b"")
    ]


async def consume_series(
    bootstrap: str, topic: str, at_least: int = 1, timeout: float = 20.0, settle: float = 0.5
) -> list[tuple[ConsumerRecord[bytes, bytes], samples_pb2.SeriesBatch]]:
    """Every series in ``samples`` from the start: waits for ``at_least`` series."""
    records = await consume(
        bootstrap, topic, at_least, timeout, settle, weight=lambda r: len(series_of([r]))
    )
    return series_of(records)


def scores_of(records: Iterable[ConsumerRecord[bytes, bytes]]) -> list[scores_pb2.ScoreBatch]:
    """Each series' ``ScoreBatch`` of ``scores`` records, in order: schema 2 records hold many."""
    return [batch for record in records for batch in decode_scores(record.value or b"")]


async def consume_scores(
    bootstrap: str, topic: str, at_least: int = 1, timeout: float = 20.0, settle: float = 0.5
) -> list[scores_pb2.ScoreBatch]:
    """Every ``ScoreBatch`` in ``scores`` from the start: waits for ``at_least`` of them."""
    records = await consume(
        bootstrap, topic, at_least, timeout, settle, weight=lambda r: len(scores_of([r]))
    )
    return scores_of(records)


async def consume(
    bootstrap: str,
    topic: str,
    at_least: int = 1,
    timeout: float = 20.0,
    settle: float = 0.5,
    weight: Callable[[ConsumerRecord[bytes, bytes]], int] | None = None,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic`` from the start: waits for ``at_least``, then ``settle`` more.

    ``weight`` counts what a record holds towards ``at_least`` (default: 1 per record).
    """
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    out: list[ConsumerRecord[bytes, bytes]] = []
    counted = 0
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        quiet_until: float | None = None
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=100)
            for records in batch.values():
                out.extend(records)
                counted += sum(weight(r) for r in records) if weight else len(records)
            if counted >= at_least:
                if batch:
                    quiet_until = loop.time() + settle
                elif quiet_until is None:
                    quiet_until = loop.time() + settle
                elif loop.time() >= quiet_until:
                    break
    finally:
        await consumer.stop()
    return out


async def committed(bootstrap: str, group: str, topic: str, partition: int) -> int:
    """The offset consumer group ``group`` committed on ``topic``/``partition`` (-1: none)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        tp = TopicPartition(topic, partition)
        offsets = await admin.list_consumer_group_offsets(group, partitions=[tp])
    finally:
        await admin.close()
    found = offsets.get(tp)
    return -1 if found is None else found.offset
