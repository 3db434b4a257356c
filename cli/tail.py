"""``aidevops tail TOPIC``: print a topic's messages as JSON lines, for humans and jq."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TextIO

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from aidevops.errors import BrokerUnavailable
from aidevops.kafka.security import client_security
from aidevops.rendering import MESSAGE_TYPES, render_record

__all__ = ["tail"]


async def tail(
    bootstrap_servers: str,
    topic: str,
    kind: str | None = None,
    from_beginning: bool = False,
    limit: int | None = None,
    idle_timeout: float | None = None,
    out: TextIO = sys.stdout,
) -> int:
    """Print messages of ``topic`` until ``limit`` messages or ``idle_timeout`` seconds idle.

    One line is one series of a message: a ``scores`` line holds the points of one scored
    batch; a schema 2 record (of ``samples``: the series of one request in one partition; of
    ``scores``: those of one scoring step in one partition) is a line per series. ``limit``
    counts lines: exactly ``limit`` are printed, even when a fetch returns more. ``kind``
    names the schema (samples, scores, alerts); by default the topic's own name. Returns
    how many lines were printed. Reads without a consumer group: tailing never moves
    anyone's committed offsets.
    """
    kind = kind or topic
    if kind not in MESSAGE_TYPES:
        raise ValueError(f"unknown schema {kind!r}: choose one of {', '.join(MESSAGE_TYPES)}")
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
        **client_security(),  # TLS/SASL from the environment, as every client
    )
    printed = 0
    try:
        await consumer.start()
    except KafkaError as exc:
        await consumer.stop()
        raise BrokerUnavailable(f"cannot reach broker {bootstrap_servers}: {exc}") from exc
    try:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while limit is None or printed < limit:
            batch = await consumer.getmany(timeout_ms=200)
            if not batch:
                if idle_timeout is not None and loop.time() - last > idle_timeout:
                    break
                continue
            last = loop.time()
            for record in (record for part in batch.values() for record in part):
                for doc in render_record(kind, record.value):
                    if limit is not None and printed >= limit:
                        break
                    doc["partition"] = record.partition
                    doc["offset"] = record.offset
                    out.write(json.dumps(doc) + "\n")
                    printed += 1
            out.flush()
    finally:
        await consumer.stop()
    return printed
