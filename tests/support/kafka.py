"""Reading back what landed in Kafka."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

__all__ = ["consume"]


async def consume(
    bootstrap: str, topic: str, at_least: int = 1, timeout: float = 20.0, settle: float = 0.5
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic`` from the start: waits for ``at_least``, then ``settle`` more."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    out: list[ConsumerRecord[bytes, bytes]] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        quiet_until: float | None = None
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=100)
            for records in batch.values():
                out.extend(records)
            if len(out) >= at_least:
                if batch:
                    quiet_until = loop.time() + settle
                elif quiet_until is None:
                    quiet_until = loop.time() + settle
                elif loop.time() >= quiet_until:
                    break
    finally:
        await consumer.stop()
    return out
