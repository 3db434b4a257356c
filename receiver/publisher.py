"""Publishing decoded series to Kafka, answering only once the broker acknowledged them."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from itertools import repeat
from operator import itemgetter, mod
from typing import Protocol

from aidevops.kafka.producer import MAX_BATCH_BYTES, BatchProducer
from receiver.decoding import Record

__all__ = ["KafkaPublisher", "SamplePublisher", "partition_for", "samples_batches"]

# SamplesBatch (samples schema 2): field 15 `series` (length-delimited), field 16
# `schema_version` (varint) = 2. Each series is already an encoded SeriesBatch.
_SERIES_TAG = b"\x7a"
_SCHEMA_2 = b"\x80\x01\x02"
# Largest SamplesBatch value: within one record batch, with room for the record framing.
_MAX_SAMPLES_BATCH_BYTES = MAX_BATCH_BYTES - 1024


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


@functools.lru_cache(maxsize=4096)
def _series_head(length: int) -> bytes:
    """The tag and length of a ``series`` field; lengths repeat, so they are remembered."""
    return _SERIES_TAG + _varint(length)


# The heads of every length below 16 KiB (series are a few hundred bytes), built once:
# indexing a list costs less than half of a cached call per series (about 0.7 MB).
_SHORT_HEADS = [_SERIES_TAG + _varint(length) for length in range(1 << 14)]


def _series_heads(values: list[bytes]) -> list[bytes]:
    """The field head of each value.

    >>> _series_heads([b"x" * 3, b"x" * 300]) == [_series_head(3), _series_head(300)]
    True
    >>> _series_heads([b"x" * 20_000]) == [_series_head(20_000)]
    True
    """
    try:
        return list(map(_SHORT_HEADS.__getitem__, map(len, values)))
    except IndexError:
        return list(map(_series_head, map(len, values)))


def samples_batches(
    records: Sequence[Record], partitions: int, max_bytes: int = _MAX_SAMPLES_BATCH_BYTES
) -> list[tuple[int, None, bytes]]:
    """Samples schema 2: a request's series packed into one ``SamplesBatch`` per partition.

    Returns routed records ``(partition, None, value)`` without a Kafka key. A partition's
    series that would pass ``max_bytes`` together take several records, in order.

    >>> from aidevops.pb import samples_pb2
    >>> series = [samples_pb2.SeriesBatch(series_id=i, tenant="t") for i in (1, 2, 9)]
    >>> records = [(b.series_id, b"", b.SerializeToString()) for b in series]
    >>> [(p, key) for p, key, _ in samples_batches(records, 8)]
    [(1, None), (2, None)]
    >>> batch = samples_pb2.SamplesBatch.FromString(samples_batches(records, 8)[0][2])
    >>> batch.schema_version, [b.series_id for b in batch.series]
    (2, [1, 9])
    """
    # The common case in one cheap pass: each series framed by its (cached) field head,
    # per partition; only a partition over ``max_bytes`` is split, in a second pass.
    values = list(map(itemgetter(2), records))
    heads = _series_heads(values)
    routes = map(mod, map(itemgetter(0), records), repeat(partitions))
    groups: list[list[bytes]] = [[] for _ in range(partitions)]
    for route, head, value in zip(routes, heads, values, strict=True):
        groups[route] += (head, value)
    out: list[tuple[int, None, bytes]] = []
    for partition, parts in enumerate(groups):
        if not parts:
            continue
        parts.append(_SCHEMA_2)
        joined = b"".join(parts)
        if len(joined) <= max_bytes:
            out.append((partition, None, joined))
            continue
        chunk: list[bytes] = []
        size = len(_SCHEMA_2)
        for index in range(0, len(parts) - 1, 2):
            head, value = parts[index], parts[index + 1]
            if chunk and size + len(head) + len(value) > max_bytes:
                chunk.append(_SCHEMA_2)
                out.append((partition, None, b"".join(chunk)))
                chunk, size = [], len(_SCHEMA_2)
            chunk += (head, value)
            size += len(head) + len(value)
        chunk.append(_SCHEMA_2)
        out.append((partition, None, b"".join(chunk)))
    return out


def partition_for(series_id: int, partitions: int) -> int:
    """The partition of a series: its id modulo the partition count.

    Documented in the README so that any other producer to ``samples`` can agree with it.

    >>> partition_for(0x1585E2399CC2DF6, 8)
    6
    """
    return series_id % partitions


class SamplePublisher(Protocol):
    """Where the receiver sends decoded series; :class:`KafkaPublisher` in production."""

    async def publish(self, records: Sequence[Record]) -> None:
        """Return once every record is acknowledged; raise BrokerUnavailable otherwise."""

    async def ready(self) -> bool:
        """Whether the broker answers now."""


class KafkaPublisher:
    """Publishes series to one topic, partition :func:`partition_for` of the series id.

    With ``schema_version`` 1, a receiver record ``(series id, key, value)`` is already a
    routed record: one Kafka record per series, keyed by its id, sent to partition
    ``series id % partitions``. With 2, the series of one request that share a partition
    travel in one ``SamplesBatch`` record without a key (:func:`samples_batches`).
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        partitions_if_created: int,
        ack_timeout: float,
        client_id: str = "aidevops-receiver",
        compression_type: str | None = None,
        max_pending_bytes: int | None = None,
        schema_version: int = 1,
    ):
        self.topic = topic
        self.schema_version = schema_version
        self.producer = BatchProducer(
            bootstrap_servers,
            ack_timeout,
            client_id,
            {topic: partitions_if_created},
            compression_type=compression_type,
            max_pending_bytes=max_pending_bytes,
        )

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def ready(self) -> bool:
        return await self.producer.ready()

    async def publish(self, records: Sequence[Record]) -> None:
        if self.schema_version >= 2:
            partitions = await self.producer.partitions(self.topic)
            await self.producer.send(self.topic, samples_batches(records, partitions))
        else:
            await self.producer.send(self.topic, records)
