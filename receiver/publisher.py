"""Publishing decoded series to Kafka, answering only once the broker acknowledged them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from aidevops.errors import BrokerUnavailable, PayloadTooLarge
from aidevops.kafka.topics import ensure_topics
from receiver.decoding import Record

__all__ = ["KafkaPublisher", "SamplePublisher", "partition_for"]

log = logging.getLogger(__name__)

# Largest record batch we build; Kafka's default message.max.bytes is 1 MiB.
_MAX_BATCH_BYTES = 1_000_000


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
    """Publishes records to one topic with ``acks=all``, one record batch per partition.

    The producer connects in the background and keeps retrying, so the receiver starts (and
    answers 503) while the broker is still down.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        partitions_if_created: int,
        ack_timeout: float,
        client_id: str = "aidevops-receiver",
    ):
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.partitions_if_created = partitions_if_created
        self.ack_timeout = ack_timeout
        self.client_id = client_id
        self._producer: AIOKafkaProducer | None = None
        self._connected = asyncio.Event()
        self._connector: asyncio.Task[None] | None = None

    def _new_producer(self) -> AIOKafkaProducer:
        timeout_ms = int(self.ack_timeout * 1000)
        return AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            client_id=self.client_id,
            acks="all",
            enable_idempotence=False,  # the local broker has no idempotent producer ids
            max_batch_size=_MAX_BATCH_BYTES,
            max_request_size=_MAX_BATCH_BYTES + 64 * 1024,
            request_timeout_ms=timeout_ms,
            retry_backoff_ms=100,
            metadata_max_age_ms=30_000,
        )

    async def start(self) -> None:
        """Begin connecting; returns at once."""
        self._connector = asyncio.create_task(self._connect_forever(), name="kafka-connect")

    async def _connect_forever(self) -> None:
        delay = 0.2
        while True:
            producer = self._new_producer()
            try:
                await ensure_topics(
                    self.bootstrap_servers, {self.topic: self.partitions_if_created}
                )
                await producer.start()
            except (KafkaError, BrokerUnavailable, OSError) as exc:
                log.warning("broker %s not reachable yet: %s", self.bootstrap_servers, exc)
                with contextlib.suppress(KafkaError, OSError):
                    await producer.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self._producer = producer
            self._connected.set()
            log.info("connected to broker %s, topic %s", self.bootstrap_servers, self.topic)
            return

    async def stop(self) -> None:
        """Flush what is in flight, then disconnect."""
        if self._connector is not None:
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connector
        if self._producer is not None:
            with contextlib.suppress(KafkaError, OSError):
                await self._producer.stop()
            self._producer = None

    async def ready(self) -> bool:
        producer = self._producer
        if producer is None:
            return False
        try:
            async with asyncio.timeout(min(self.ack_timeout, 2.0)):
                await producer.client.fetch_all_metadata()
        except (KafkaError, OSError, TimeoutError):
            return False
        return True

    async def publish(self, records: Sequence[Record]) -> None:
        producer = self._producer
        if producer is None:
            raise BrokerUnavailable(f"not connected to broker {self.bootstrap_servers}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ack_timeout
        pending: list[asyncio.Future[Any]] = []
        try:
            async with asyncio.timeout_at(deadline):
                await self._enqueue(producer, records, pending)
            if pending:
                done, waiting = await asyncio.wait(pending, timeout=deadline - loop.time())
                if waiting:
                    raise TimeoutError
                for future in done:
                    future.result()
        except TimeoutError:
            raise BrokerUnavailable(
                f"broker did not acknowledge within {self.ack_timeout:g}s"
            ) from None
        except MessageSizeTooLargeError as exc:
            raise PayloadTooLarge(f"series too large for one Kafka record: {exc}") from None
        except KafkaError as exc:
            raise BrokerUnavailable(f"broker error: {exc}") from None
        finally:
            for future in pending:
                # aiokafka may still deliver or fail a batch after we answered 503; its
                # outcome no longer matters (Prometheus retries), but must be retrieved.
                future.add_done_callback(_retrieve)

    async def _enqueue(
        self,
        producer: AIOKafkaProducer,
        records: Sequence[Record],
        pending: list[asyncio.Future[Any]],
    ) -> None:
        partitions = len(await producer.partitions_for(self.topic))
        topic = self.topic
        batches: dict[int, Any] = {}
        for sid, key, value in records:
            partition = sid % partitions
            batch = batches.get(partition)
            if batch is None:
                batch = batches[partition] = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:
                pending.append(await producer.send_batch(batch, topic, partition=partition))
                batch = batches[partition] = producer.create_batch()
                if batch.append(key=key, value=value, timestamp=None) is None:
                    raise PayloadTooLarge(
                        f"series {sid:016x} encodes to {len(value)} bytes, more than one "
                        f"Kafka record may hold ({_MAX_BATCH_BYTES})"
                    )
        for partition, batch in batches.items():
            pending.append(await producer.send_batch(batch, topic, partition=partition))


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
