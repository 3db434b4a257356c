"""Many concurrent requests against a healthy broker: every one is acknowledged, none 503."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support.kafka import consume, consume_series
from tests.support.remote_write import V1_HEADERS, compress, v1_request, v1_series

pytestmark = pytest.mark.integration

WRITE = "/api/v1/write"


def _body(owner: int, series: int) -> bytes:
    return compress(
        v1_request(
            v1_series(
                [("__name__", f"metric_{i % 7}"), ("i", str(i)), ("instance", f"host-{owner}")],
                [(float(i), 1_700_000_000_000)],
            )
            for i in range(series)
        )
    )


async def test_200_concurrent_requests_are_all_acknowledged(receiver_factory: Any) -> None:
    """Regression: aiokafka queued one batch per partition per request and timed out early.

    200 requests of 100 series each arrive at once; the broker is healthy, so every request
    is answered 204 (well within the publish timeout) and every series is in Kafka.
    """
    client, settings = await receiver_factory(samples_partitions=8, publish_timeout_seconds=5.0)
    bodies = [_body(owner, 100) for owner in range(200)]
    loop = asyncio.get_running_loop()
    started = loop.time()
    responses = await asyncio.gather(
        *(client.post(WRITE, data=body, headers=V1_HEADERS) for body in bodies)
    )
    statuses = [r.status for r in responses]
    texts = {await r.text() for r in responses if r.status != 204}
    assert statuses.count(204) == 200, (statuses.count(204), texts)
    assert loop.time() - started < 5.0
    found = await consume_series(settings.kafka_bootstrap_servers, settings.samples_topic, 20_000)
    assert len(found) == 20_000


async def test_a_backlog_over_the_limit_is_refused_before_publishing(broker: Any) -> None:
    """Overload sheds load at once: the refused records are not written (no duplicates)."""
    from aidevops.errors import BrokerUnavailable
    from aidevops.kafka.producer import BatchProducer

    topic = "samples-backlog"
    producer = BatchProducer(
        broker.bootstrap_servers, 5.0, "test", {topic: 2}, max_pending_bytes=10_000
    )
    await producer.start()
    await asyncio.wait_for(producer.connected.wait(), 10)
    try:
        first = [(i, i.to_bytes(8, "big"), b"a" * 1000) for i in range(20)]  # 20 KB
        second = [(i, i.to_bytes(8, "big"), b"b" * 100) for i in range(5)]
        results = await asyncio.gather(
            producer.send(topic, first), producer.send(topic, second), return_exceptions=True
        )
        # The first is accepted although larger than the limit: nothing was pending.
        assert results[0] is None
        assert isinstance(results[1], BrokerUnavailable)
        assert "would pass the limit of 10000: not published" in str(results[1])
        assert producer.pending_bytes == 0
        await producer.send(topic, second)  # once acknowledged, the next send passes
    finally:
        await producer.stop()
    records = await consume(broker.bootstrap_servers, topic, 25)
    assert sorted(len(r.value) for r in records) == [100] * 5 + [1000] * 20


@pytest.mark.parametrize("merge", [True, False])
async def test_concurrent_keyless_sends_merge_into_one_record_per_partition(
    broker: Any, merge: bool
) -> None:
    """Schema 2 records of concurrent requests that meet in a batch become one record.

    50 sends are appended before the first batch is even handed to aiokafka, so with
    ``merge`` each partition gets one record holding every send's series in order; the
    keyed record sent among them keeps its place.
    """
    from aidevops.batches import decode_samples, pack
    from aidevops.kafka.producer import BatchProducer
    from aidevops.pb import samples_pb2

    topic = f"samples-merge-{merge}"
    producer = BatchProducer(broker.bootstrap_servers, 5.0, "test", {topic: 2})
    await producer.start()
    await asyncio.wait_for(producer.connected.wait(), 10)

    def request(n: int) -> list[tuple[int, bytes | None, bytes]]:
        members = [
            samples_pb2.SeriesBatch(schema_version=1, series_id=n * 10 + i).SerializeToString()
            for i in range(4)
        ]
        return list(pack([0, 1, 0, 1], members))

    try:
        sends = [producer.send(topic, request(n), merge=merge) for n in range(50)]
        keyed = producer.send(topic, [(0, b"key", b"keyed")], merge=merge)
        later = [producer.send(topic, request(n), merge=merge) for n in range(50, 60)]
        await asyncio.gather(*sends, keyed, *later)
    finally:
        await producer.stop()
    records = await consume(broker.bootstrap_servers, topic, 3 if merge else 121)
    by_partition: dict[int, list[Any]] = {0: [], 1: []}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        by_partition[record.partition].append(record)
    if merge:
        assert [len(by_partition[0]), len(by_partition[1])] == [3, 1]
    else:
        assert [len(by_partition[0]), len(by_partition[1])] == [61, 60]
    for partition, expected in ((0, (0, 2)), (1, (1, 3))):
        ids = [
            member.series_id
            for record in by_partition[partition]
            if record.key is None
            for member in decode_samples(record.value)
        ]
        assert ids == [n * 10 + i for n in range(60) for i in expected]
    assert [r.value for r in by_partition[0] if r.key == b"key"] == [b"keyed"]
    keyed_at = next(i for i, r in enumerate(by_partition[0]) if r.key == b"key")
    assert keyed_at == (1 if merge else 50)


@pytest.mark.parametrize("linger_ms", [0, 400])
async def test_requests_within_the_linger_share_a_record(broker: Any, linger_ms: int) -> None:
    """A batch waits ``linger_ms`` for more: a send 100 ms after another joins its record.

    Without a linger the first batch is on its way by then, and the second send takes a
    record of its own; both sends are acknowledged either way.
    """
    from aidevops.batches import decode_samples, pack
    from aidevops.kafka.producer import BatchProducer
    from aidevops.pb import samples_pb2

    topic = f"samples-linger-{linger_ms}"
    producer = BatchProducer(broker.bootstrap_servers, 5.0, "test", {topic: 1}, linger_ms=linger_ms)
    await producer.start()
    await asyncio.wait_for(producer.connected.wait(), 10)

    def request(n: int) -> list[tuple[int, bytes | None, bytes]]:
        member = samples_pb2.SeriesBatch(schema_version=1, series_id=n).SerializeToString()
        return list(pack([0], [member]))

    try:
        first = asyncio.ensure_future(producer.send(topic, request(1), merge=True))
        await asyncio.sleep(0.1)
        await asyncio.gather(first, producer.send(topic, request(2), merge=True))
    finally:
        await producer.stop()
    records = await consume(broker.bootstrap_servers, topic, 1 if linger_ms else 2)
    members = [[m.series_id for m in decode_samples(r.value)] for r in records]
    assert members == ([[1, 2]] if linger_ms else [[1], [2]])
