"""Producing records with aiokafka's batch API and waiting for the broker's acknowledgement.

Building one record batch per partition costs a few microseconds per record, against
several times that through ``send()``; the receiver's and the workers' hot paths both go
through here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from aidevops.errors import BrokerUnavailable, PayloadTooLarge
from aidevops.kafka.topics import ensure_topics

__all__ = ["MAX_BATCH_BYTES", "BatchProducer", "RoutedRecord"]

log = logging.getLogger(__name__)

# Largest record batch we build; Kafka's default message.max.bytes is 1 MiB.
MAX_BATCH_BYTES = 1_000_000

RoutedRecord = tuple[int, bytes, bytes]
"""(route, key, value): the record goes to partition ``route % partitions``.

The route is a series id (the receiver) or a partition number (the workers, which write to
the partition they read from); the same formula serves both.
"""


class BatchProducer:
    """An ``acks=all`` producer that connects in the background and keeps retrying.

    Until connected, :meth:`send` raises :class:`BrokerUnavailable` at once, so a service can
    start (and answer 503) while the broker is still down.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        ack_timeout: float,
        client_id: str,
        create_topics: Mapping[str, int] | None = None,
    ):
        self.bootstrap_servers = bootstrap_servers
        self.ack_timeout = ack_timeout
        self.client_id = client_id
        self.create_topics = dict(create_topics or {})
        self._producer: AIOKafkaProducer | None = None
        self._connector: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def _new_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            client_id=self.client_id,
            acks="all",
            enable_idempotence=False,  # the local broker has no idempotent producer ids
            max_batch_size=MAX_BATCH_BYTES,
            max_request_size=MAX_BATCH_BYTES + 64 * 1024,
            request_timeout_ms=int(self.ack_timeout * 1000),
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
                if self.create_topics:
                    await ensure_topics(self.bootstrap_servers, self.create_topics)
                await producer.start()
            except (KafkaError, BrokerUnavailable, OSError) as exc:
                log.warning("broker %s not reachable yet: %s", self.bootstrap_servers, exc)
                with contextlib.suppress(KafkaError, OSError):
                    await producer.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self._producer = producer
            self.connected.set()
            log.info("connected to broker %s", self.bootstrap_servers)
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
        """Whether the broker answers a metadata request now."""
        producer = self._producer
        if producer is None:
            return False
        try:
            async with asyncio.timeout(min(self.ack_timeout, 2.0)):
                await producer.client.fetch_all_metadata()
        except (KafkaError, OSError, TimeoutError):
            return False
        return True

    async def send(self, topic: str, records: Sequence[RoutedRecord]) -> None:
        """Return once the broker acknowledged every record; raise otherwise.

        Raises
        ------
        BrokerUnavailable
            Not connected, a broker error, or no acknowledgement within ``ack_timeout``.
            Some records may still be written later: callers retry (at-least-once).
        PayloadTooLarge
            A single record larger than one batch may be.
        """
        producer = self._producer
        if producer is None:
            raise BrokerUnavailable(f"not connected to broker {self.bootstrap_servers}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ack_timeout
        pending: list[asyncio.Future[Any]] = []
        try:
            async with asyncio.timeout_at(deadline):
                await self._enqueue(producer, topic, records, pending)
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
            raise PayloadTooLarge(f"record too large for the broker: {exc}") from None
        except KafkaError as exc:
            raise BrokerUnavailable(f"broker error: {exc}") from None
        finally:
            for future in pending:
                # aiokafka may still deliver or fail a batch after we gave up on it; its
                # outcome no longer matters (the caller retries), but must be retrieved.
                future.add_done_callback(_retrieve)

    async def _enqueue(
        self,
        producer: AIOKafkaProducer,
        topic: str,
        records: Sequence[RoutedRecord],
        pending: list[asyncio.Future[Any]],
    ) -> None:
        partitions = len(await producer.partitions_for(topic))
        batches: dict[int, Any] = {}
        for route, key, value in records:
            partition = route % partitions
            batch = batches.get(partition)
            if batch is None:
                batch = batches[partition] = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:
                pending.append(await producer.send_batch(batch, topic, partition=partition))
                batch = batches[partition] = producer.create_batch()
                if batch.append(key=key, value=value, timestamp=None) is None:
                    raise PayloadTooLarge(
                        f"a record of {len(value)} bytes is more than one Kafka record batch "
                        f"may hold ({MAX_BATCH_BYTES})"
                    )
        for partition, batch in batches.items():
            pending.append(await producer.send_batch(batch, topic, partition=partition))


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
