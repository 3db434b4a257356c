"""Reading a partition of the checkpoint topic back into the scoring engine."""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

from aidevops.kafka.security import client_security
from stream.worker.engine import ScoringEngine

__all__ = ["restore_partition"]

log = logging.getLogger(__name__)


async def restore_partition(
    bootstrap_servers: str, topic: str, partition: int, engine: ScoringEngine
) -> int:
    """Load every checkpoint of ``partition`` written so far; returns how many were read.

    Reads without a consumer group from the start to the end offset seen on arrival; later
    records are the worker's own. The last record of a key wins, as in a compacted topic.
    """
    tp = TopicPartition(topic, partition)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        **client_security(),  # the worker's settings, from the environment
    )
    await consumer.start()
    read = 0
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=500)
            for record in batch.get(tp, []):
                if record.offset >= end:
                    break
                if record.key is not None:
                    engine.restore(
                        partition, int.from_bytes(record.key, "big"), record.value or b""
                    )
                    read += 1
    finally:
        await consumer.stop()
    log.info("restored %d checkpoints of %s[%d]", read, topic, partition)
    return read
