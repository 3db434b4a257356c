"""Publishing decoded series to Kafka, answering only once the broker acknowledged them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from aidevops.kafka.producer import BatchProducer
from receiver.decoding import Record

__all__ = ["KafkaPublisher", "SamplePublisher", "partition_for"]


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

    A receiver record ``(series id, key, value)`` is already a routed record: the producer
    sends it to partition ``series id % partitions``.
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
    ):
        self.topic = topic
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
        await self.producer.send(self.topic, records)
