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

    Reads without a consumer group from the start to at least the end offset seen on
    arrival. Records past it are the worker's own, newer checkpoints, and are loaded too: the
    last record of a key wins, as in a compacted topic, and :meth:`ScoringEngine.restore`
    ignores series already live. They are not cut off at the end offset because the broker's
    end offset cannot be trusted to cover a whole record batch: tansu (the local broker)
    answers the last batch's first offset + 1, so cutting there restored only the first
    series of the last checkpoint batch and the others started cold.
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
                if record.key is not None:
                    engine.restore(
                        partition, int.from_bytes(record.key, "big"), record.value or b""
                    )
                    read += 1
    finally:
        await consumer.stop()
    log.info("restored %d checkpoints of %s[%d]", read, topic, partition)
    return read
