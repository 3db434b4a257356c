"""Publishing decoded series to Kafka, answering only once the broker acknowledged them."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from operator import itemgetter, mod
from typing import Protocol

import numpy as np

from aidevops.batches import (
    INDEX_TAGS,
    SAMPLES_RECORD_BYTES,
    SERIES_TAG,
    pack,
    pack_samples,
    samples_tail,
)
from aidevops.kafka.producer import BatchProducer
from receiver.decoding import Record, wire

__all__ = ["KafkaPublisher", "SamplePublisher", "partition_for", "samples_batches"]


def samples_batches(
    records: Sequence[Record],
    partitions: int,
    max_bytes: int = SAMPLES_RECORD_BYTES,
    index_samples: Sequence[bytes] = (),
    received_at: int = 0,
    native: bool = True,
) -> list[tuple[int, None, bytes]]:
    """Samples schema 2: a request's series packed into one ``SamplesBatch`` per partition.

    Returns routed records ``(partition, None, value)`` without a Kafka key. A partition's
    series that would pass ``max_bytes`` together take several records, in order. With
    ``index_samples`` (one per record: :attr:`receiver.decoding.DecodedWrite.index_samples`)
    each record carries the index the workers read (:func:`aidevops.batches.pack_samples`;
    the same bytes from ``receiver._wire`` when it is built, unless ``native`` is False).

    >>> from aidevops.pb import samples_pb2
    >>> series = [samples_pb2.SeriesBatch(series_id=i, tenant="t") for i in (1, 2, 9)]
    >>> records = [(b.series_id, b"", b.SerializeToString()) for b in series]
    >>> [(p, key) for p, key, _ in samples_batches(records, 8)]
    [(1, None), (2, None)]
    >>> batch = samples_pb2.SamplesBatch.FromString(samples_batches(records, 8)[0][2])
    >>> batch.schema_version, [b.series_id for b in batch.series]
    (2, [1, 9])
    """
    if index_samples and native and wire is not None:
        return wire.pack_samples(
            list(records),
            list(index_samples),
            partitions,
            max_bytes,
            SERIES_TAG,
            *INDEX_TAGS,
            samples_tail(received_at),
        )
    values = list(map(itemgetter(2), records))
    if index_samples:
        ids = np.fromiter(map(itemgetter(0), records), dtype=np.uint64, count=len(records))
        return pack_samples(ids, values, index_samples, received_at, partitions, max_bytes)
    routes = map(mod, map(itemgetter(0), records), repeat(partitions))
    return pack(routes, values, max_bytes)


def partition_for(series_id: int, partitions: int) -> int:
    """The partition of a series: its id modulo the partition count.

    Documented in the README so that any other producer to ``samples`` can agree with it.

    >>> partition_for(0x1585E2399CC2DF6, 8)
    6
    """
    return series_id % partitions


class SamplePublisher(Protocol):
    """Where the receiver sends decoded series; :class:`KafkaPublisher` in production."""

    async def publish(
        self, records: Sequence[Record], index_samples: Sequence[bytes] = (), received_at: int = 0
    ) -> None:
        """Return once every record is acknowledged; raise BrokerUnavailable otherwise.

        ``index_samples`` and ``received_at``: see :func:`samples_batches`.
        """

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
        linger_ms: int = 0,
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
            linger_ms=linger_ms,
        )

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def ready(self) -> bool:
        return await self.producer.ready()

    async def publish(
        self, records: Sequence[Record], index_samples: Sequence[bytes] = (), received_at: int = 0
    ) -> None:
        if self.schema_version >= 2:
            partitions = await self.producer.partitions(self.topic)
            batches = samples_batches(
                records, partitions, index_samples=index_samples, received_at=received_at
            )
            # Concurrent requests' records of a partition merge into one while the broker
            # answers the previous produce request: fewer, larger records for the workers.
            await self.producer.send(
                self.topic, batches, merge=True, merged_bytes=SAMPLES_RECORD_BYTES
            )
        else:
            await self.producer.send(self.topic, records)
