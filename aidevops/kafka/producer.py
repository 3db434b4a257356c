"""Producing records with aiokafka's batch API and waiting for the broker's acknowledgement.

Building one record batch per partition costs a few microseconds per record, against
several times that through ``send()``; the receiver's and the workers' hot paths both go
through here.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from aiokafka.producer.message_accumulator import BatchBuilder

from aidevops.errors import BrokerUnavailable, PayloadTooLarge
from aidevops.kafka.security import client_security
from aidevops.kafka.topics import ensure_topics
from aidevops.settings import KafkaSettings

__all__ = ["MAX_BATCH_BYTES", "MAX_MERGED_BYTES", "BatchProducer", "RoutedRecord"]

log = logging.getLogger(__name__)

# Largest record batch we build; Kafka's default message.max.bytes is 1 MiB.
MAX_BATCH_BYTES = 1_000_000
# A record with its framing (header varints, attributes, offsets: at most ~40 bytes) must fit
# one batch (61 bytes of batch header).
_MAX_RECORD_BYTES = MAX_BATCH_BYTES - 128
# Room kept for a record's framing when a merged record is sized against its batch.
_RECORD_OVERHEAD = 64
# Largest merged record: values are joined up to this; a larger value travels alone.
MAX_MERGED_BYTES = MAX_BATCH_BYTES - 1024

RoutedRecord = tuple[int, bytes, bytes]
"""(route, key, value): the record goes to partition ``route % partitions``.

:meth:`BatchProducer.send` also takes ``None`` as key: a record without a key.

The route is a series id (the receiver) or a partition number (the workers, which write to
the partition they read from); the same formula serves both.
"""


class BatchProducer:
    """An ``acks=all`` producer that connects in the background and keeps retrying.

    ``max_pending_bytes`` bounds the records appended and not yet acknowledged: beyond it,
    :meth:`send` raises :class:`BrokerUnavailable` at once, *before* publishing anything,
    so an overloaded broker sheds load without writing records whose sender will retry
    them (a send that timed out may still be written later: a duplicate). A send is always
    accepted when nothing is pending, however large. None means no bound.

    ``linger_ms``: how long a partition's open batch waits for more records before it is
    sent (Kafka's ``linger.ms``). Records given meanwhile join it, and merged values
    (``merge=True``) join its merged record.

    ``compression_type`` (``"gzip"``, ``"snappy"``, ``"lz4"``, ``"zstd"``, None) compresses
    each record batch. Besides the network and the broker's disk, it saves the producer's
    own CPU: aiokafka copies every batch several times while encoding a produce request,
    and a compressed batch is several times smaller (measured for the receiver's records:
    2.8 us of CPU per record without compression, 1.2 us with zstd).

    Until connected, :meth:`send` raises :class:`BrokerUnavailable` at once, so a service can
    start (and answer 503) while the broker is still down.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        ack_timeout: float,
        client_id: str,
        create_topics: Mapping[str, int] | None = None,
        compression_type: str | None = None,
        security: KafkaSettings | None = None,
        max_pending_bytes: int | None = None,
        linger_ms: int = 0,
    ):
        self.bootstrap_servers = bootstrap_servers
        self.max_pending_bytes = max_pending_bytes
        self.linger_ms = linger_ms
        # Bytes of records appended and not yet acknowledged (or failed).
        self.pending_bytes = 0
        # TLS/SASL of this client; None reads them from the environment (aidevops.kafka.security).
        self.security = security
        self.compression_type = compression_type
        self.ack_timeout = ack_timeout
        self.client_id = client_id
        self.create_topics = dict(create_topics or {})
        self._producer: AIOKafkaProducer | None = None
        self._connector: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self._slots: dict[tuple[str, int], _Partition] = {}

    def _new_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            client_id=self.client_id,
            acks="all",
            compression_type=self.compression_type,
            enable_idempotence=False,  # the local broker has no idempotent producer ids
            max_batch_size=MAX_BATCH_BYTES,
            max_request_size=MAX_BATCH_BYTES + 64 * 1024,
            request_timeout_ms=int(self.ack_timeout * 1000),
            retry_backoff_ms=100,
            linger_ms=self.linger_ms,
            metadata_max_age_ms=30_000,
            **client_security(self.security),
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
                    await ensure_topics(
                        self.bootstrap_servers, self.create_topics, security=self.security
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
        self._slots.clear()

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

    async def send(
        self,
        topic: str,
        records: Sequence[tuple[int, bytes | None, bytes]],
        merge: bool = False,
        merged_bytes: int = MAX_MERGED_BYTES,
    ) -> None:
        """Return once the broker acknowledged every record; raise otherwise.

        Records of concurrent calls share record batches: each partition has one open batch
        that every caller appends to until aiokafka's sender takes it (see :class:`_Partition`).

        With ``merge``, the records without a key may be joined, value after value, with
        the keyless records of other such calls that meet them in the same batch: one Kafka
        record instead of several. Only for values that are protobuf messages whose fields
        concatenate (schema 2 wrappers, :mod:`aidevops.batches`): two serialised messages
        one after the other parse as one message holding the repeated fields of both.
        ``merged_bytes`` bounds a merged record (a larger value still travels alone).

        Raises
        ------
        BrokerUnavailable
            Not connected, a broker error, or no acknowledgement within ``ack_timeout``.
            Some records may still be written later: callers retry (at-least-once).
            Also when ``max_pending_bytes`` would be passed; then nothing was published.
        PayloadTooLarge
            A single record larger than one batch may be.
        """
        producer = self._producer
        if producer is None:
            raise BrokerUnavailable(f"not connected to broker {self.bootstrap_servers}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ack_timeout
        try:
            partitions = _known_partitions(producer, topic)
            if partitions is None:
                async with asyncio.timeout_at(deadline):
                    partitions = await self._partitions(producer, topic)
            limit = merged_bytes if merge else 0
            waiting = self._append(producer, topic, partitions, records, limit)
            if waiting:
                done, late = await asyncio.wait(waiting, timeout=deadline - loop.time())
                if late:
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
            raise BrokerUnavailable(f"broker error: {type(exc).__name__}: {exc}") from None

    async def partitions(self, topic: str) -> int:
        """How many partitions ``topic`` has; raise :class:`BrokerUnavailable` if unknown."""
        producer = self._producer
        if producer is None:
            raise BrokerUnavailable(f"not connected to broker {self.bootstrap_servers}")
        known = _known_partitions(producer, topic)
        if known is not None:
            return known
        try:
            async with asyncio.timeout(self.ack_timeout):
                return await self._partitions(producer, topic)
        except TimeoutError:
            raise BrokerUnavailable(
                f"no metadata for {topic} within {self.ack_timeout:g}s"
            ) from None
        except KafkaError as exc:
            raise BrokerUnavailable(f"broker error: {type(exc).__name__}: {exc}") from None

    @staticmethod
    async def _partitions(producer: AIOKafkaProducer, topic: str) -> int:
        known = _known_partitions(producer, topic)
        if known is not None:
            return known
        return len(await producer.partitions_for(topic))

    def _append(
        self,
        producer: AIOKafkaProducer,
        topic: str,
        partitions: int,
        records: Sequence[tuple[int, bytes | None, bytes]],
        merged_bytes: int = 0,
    ) -> set[asyncio.Future[None]]:
        """Append every record to its partition's open batch; the futures to wait for.

        Synchronous on purpose: no other caller runs in between, so one request's records
        for a partition are consecutive and in order.
        """
        groups: dict[int, list[tuple[bytes | None, bytes]]] = {}
        size = 0
        for route, key, value in records:
            key_size = len(key) if key is not None else 0
            if len(value) > _MAX_RECORD_BYTES - key_size:
                # Checked before appending anything: a shared batch must not fail for others.
                raise PayloadTooLarge(
                    f"a record of {len(value)} bytes is more than one Kafka record batch "
                    f"may hold ({MAX_BATCH_BYTES})"
                )
            size += key_size + len(value)
            group = groups.get(route % partitions)
            if group is None:
                group = groups[route % partitions] = []
            group.append((key, value))
        limit = self.max_pending_bytes
        if limit is not None and self.pending_bytes and self.pending_bytes + size > limit:
            raise BrokerUnavailable(
                f"{self.pending_bytes} bytes await the broker's acknowledgement, "
                f"{size} more would pass the limit of {limit}: not published"
            )
        waiting: set[asyncio.Future[None]] = set()
        for partition, items in groups.items():
            slot = self._slots.get((topic, partition))
            if slot is None:
                slot = self._slots[(topic, partition)] = _Partition(
                    self, producer, topic, partition
                )
            waiting.update(slot.extend(items, merged_bytes))
        return waiting


def _known_partitions(producer: AIOKafkaProducer, topic: str) -> int | None:
    """The partition count in the metadata the client holds; None when it has none yet.

    The common case on every send: answered without a timeout context (about 4 us each).
    """
    known = producer.client.cluster.partitions_for_topic(topic)
    return len(known) if known else None


class _Partition:
    """The batches of one topic-partition: one open for appending, at most one submitting.

    aiokafka's accumulator holds one batch per partition and its sender keeps one produce
    request in flight per broker. A batch submitted while another waits makes the submitter
    wait for that one to drain (and aiokafka 0.14's ``add_batch`` shortens its own timeout by
    the *total* time waited on every retry, so many waiting submitters fail with
    ``KafkaTimeoutError`` in well under the request timeout). So concurrent callers never
    submit batches of their own: they append to the partition's open batch, which is handed
    to aiokafka as soon as the previous one is taken by the sender. A batch in the
    accumulator stays open until the sender builds it (aiokafka's ``BatchBuilder`` supports
    this: "to gracefully support both the batch and individual message interfaces, leave the
    batch open"), so records keep joining it while the broker answers the previous request.
    """

    __slots__ = ("owner", "producer", "topic", "partition", "_open", "_queued", "_submitter")

    def __init__(
        self, owner: BatchProducer, producer: AIOKafkaProducer, topic: str, partition: int
    ):
        self.owner = owner
        self.producer = producer
        self.topic = topic
        self.partition = partition
        # The batch records are appended to, the future of its acknowledgement, its bytes.
        self._open: _Batch | None = None
        # Batches waiting for their turn, oldest first.
        self._queued: collections.deque[_Batch] = collections.deque()
        self._submitter: asyncio.Task[None] | None = None

    def extend(
        self, items: Sequence[tuple[bytes | None, bytes]], merged_bytes: int = 0
    ) -> list[asyncio.Future[None]]:
        """Add records in order; the futures that resolve when their batches are acknowledged.

        With ``merged_bytes`` (0: no merging), records without a key join the open batch's
        merged record up to that size (:meth:`_MergingBuilder.merge`).
        """
        futures: list[asyncio.Future[None]] = []
        start, count = 0, len(items)
        while start < count:
            if self._open is None:
                self._open = self._new_batch()
            batch = self._open
            futures.append(batch.acked)
            builder = batch.builder
            added = 0
            for index in range(start, count):
                key, value = items[index]
                if merged_bytes and key is None:
                    taken = builder.merge(value, merged_bytes)
                else:
                    taken = builder.append(key=key, value=value, timestamp=None) is not None
                if not taken:
                    # Full, or taken by the sender since: the rest goes to a new batch
                    # (a fresh batch always takes its first record).
                    self._open = None
                    start = index
                    break
                added += len(value) + (len(key) if key is not None else 0)
            else:
                start = count
            batch.size += added
            self.owner.pending_bytes += added
        return futures

    def _new_batch(self) -> _Batch:
        batch = _Batch(
            _MergingBuilder.adopt(self.producer.create_batch()),
            asyncio.get_running_loop().create_future(),
        )
        batch.acked.add_done_callback(_retrieve)
        batch.acked.add_done_callback(functools.partial(_release, self.owner, batch))
        self._queued.append(batch)
        if self._submitter is None:
            self._submitter = asyncio.create_task(
                self._submit(), name=f"kafka-submit-{self.topic}-{self.partition}"
            )
        return batch

    async def _submit(self) -> None:
        """Hand queued batches to aiokafka one at a time, each once the previous drained."""
        try:
            while self._queued:
                batch = self._queued[0]
                try:
                    delivery = await self.producer.send_batch(
                        batch.builder, self.topic, partition=self.partition
                    )
                except Exception as exc:  # handed to every caller waiting on the batch
                    self._queued.popleft()
                    if self._open is batch:
                        self._open = None
                    batch.builder.close()
                    if not batch.acked.done():
                        batch.acked.set_exception(exc)
                    continue
                self._queued.popleft()
                delivery.add_done_callback(functools.partial(_settle, batch.acked))
                # The batch is in the accumulator now; the next one may only follow once
                # the sender took this one, which send_batch of the next waits for.
        finally:
            self._submitter = None


class _MergingBuilder(BatchBuilder):  # type: ignore[misc]
    """aiokafka's record batch builder, with one more record built last: merged values.

    aiokafka encodes a batch when its sender takes it for a produce request
    (``MessageBatch.get_data_buffer`` calls ``_build``); until then the batch stays open.
    :meth:`merge` keeps values aside and :meth:`_build` appends them then, joined, as one
    record: values that arrived from any number of callers while the previous produce
    request was out. Under load that is several requests' worth per partition, and every
    consumer pays its per-record costs (a Faust event each, for the workers) once for all.

    A record appended with :meth:`append` first seals the values kept aside into their
    record, so the records of a batch stay in the order they were given. The values kept
    aside are sized against the batch as they come, so sealing them always fits.
    """

    _merged: list[bytes]
    _merged_bytes: int

    @classmethod
    def adopt(cls, builder: BatchBuilder) -> _MergingBuilder:
        """The batch builder aiokafka made (``create_batch``), with merging added."""
        builder.__class__ = cls
        adopted: _MergingBuilder = builder
        adopted._merged, adopted._merged_bytes = [], 0
        return adopted

    def merge(self, value: bytes, limit: int = MAX_MERGED_BYTES) -> bool:
        """Keep ``value`` for the merged record; False if the batch is closed or full.

        A merged record stays within ``limit`` bytes: beyond, the values kept so far are
        sealed into their record and a new one begins.
        """
        if self._closed:
            return False
        if self._merged and self._merged_bytes + len(value) > limit:
            self._seal()  # a merged record stays within what one record may be
        used = self._builder.size() + self._merged_bytes + _RECORD_OVERHEAD
        if used + len(value) > MAX_BATCH_BYTES and (self._relative_offset or self._merged):
            self.close()
            return False
        self._merged.append(value)
        self._merged_bytes += len(value)
        return True

    def append(self, *, timestamp: Any, key: Any, value: Any, headers: Any = None) -> Any:
        self._seal()
        return super().append(timestamp=timestamp, key=key, value=value, headers=headers)

    def record_count(self) -> int:
        count: int = self._relative_offset + (1 if self._merged else 0)
        return count

    def _seal(self) -> None:
        """Append the values kept aside as one record (even to a closed batch: it was sized)."""
        if not self._merged:
            return
        value = self._merged[0] if len(self._merged) == 1 else b"".join(self._merged)
        self._merged, self._merged_bytes = [], 0
        metadata = self._builder.append(
            self._relative_offset, None, key=None, value=value, headers=[]
        )
        if metadata is None:  # merge() sized it: this would be a bug, never data to drop
            raise RuntimeError(f"a merged record of {len(value)} bytes did not fit its batch")
        self._relative_offset += 1

    def _build(self) -> Any:
        self._seal()
        return super()._build()


class _Batch:
    """One record batch of a partition, shared by every caller that appended to it."""

    __slots__ = ("builder", "acked", "size")

    def __init__(self, builder: _MergingBuilder, acked: asyncio.Future[None]):
        self.builder = builder
        self.acked = acked
        self.size = 0


def _release(owner: BatchProducer, batch: _Batch, _: asyncio.Future[None]) -> None:
    owner.pending_bytes -= batch.size
    batch.size = 0


def _settle(acked: asyncio.Future[None], delivery: asyncio.Future[Any]) -> None:
    if acked.done():
        return
    if delivery.cancelled():
        acked.set_exception(BrokerUnavailable("the producer was closed before delivery"))
    elif (exc := delivery.exception()) is not None:
        acked.set_exception(exc)
    else:
        acked.set_result(None)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
