"""Issue 11 through the real broker: tenants apart, nothing answered 204 and then missing."""

from __future__ import annotations

from typing import Any

import pytest

from aidevops.pb import remote_write_v1_pb2 as rw1
from aidevops.pb import samples_pb2
from receiver.labelset import series_id
from tests.support.kafka import consume, consume_series
from tests.support.remote_write import V1_HEADERS, compress, v1_request, v1_series

pytestmark = pytest.mark.integration

WRITE = "/api/v1/write"
LABELS = [("__name__", "secret_revenue_eur"), ("customer", "acme-corp")]
T = 1_700_000_000_000


async def test_same_labels_of_two_tenants_are_two_series_in_kafka(receiver_factory: Any) -> None:
    client, settings = await receiver_factory()
    for tenant in ("team-a", "team-b"):
        for n in range(20):
            body = compress(v1_request([v1_series(LABELS, [(float(n), T + n * 15_000)])]))
            headers = {**V1_HEADERS, "X-Scope-OrgID": tenant}
            assert (await client.post(WRITE, data=body, headers=headers)).status == 204
    found = await consume_series(settings.kafka_bootstrap_servers, settings.samples_topic, 40)
    by_id: dict[int, list[samples_pb2.SeriesBatch]] = {}
    for _, batch in found:
        by_id.setdefault(batch.series_id, []).append(batch)
    assert set(by_id) == {series_id(t, LABELS) for t in ("team-a", "team-b")}
    for batches in by_id.values():
        assert len(batches) == 20 and len({b.tenant for b in batches}) == 1


async def test_every_series_of_a_204_is_in_kafka(receiver_factory: Any) -> None:
    """A series with an empty group before its samples used to be answered 204 and dropped."""
    client, settings = await receiver_factory()
    series = v1_series(LABELS, [(1.0, T)])
    labels = rw1.TimeSeries(labels=series.labels).SerializeToString()
    samples = rw1.TimeSeries(samples=series.samples).SerializeToString()
    raw = labels + b"\x2b\x2c" + samples
    payload = b"\x0a" + bytes([len(raw)]) + raw
    response = await client.post(WRITE, data=compress(payload), headers=V1_HEADERS)
    assert response.status == 204
    [(_, batch)] = await consume_series(settings.kafka_bootstrap_servers, settings.samples_topic)
    assert len(batch.samples) == 1


async def test_an_absurd_timestamp_is_a_400_and_nothing_is_published(
    receiver_factory: Any,
) -> None:
    client, settings = await receiver_factory()
    good = v1_series([("__name__", "up")], [(1.0, T)])
    bad = v1_series(LABELS, [(1.0, -(2**63))])
    response = await client.post(WRITE, data=compress(v1_request([good, bad])), headers=V1_HEADERS)
    assert response.status == 400
    assert "secret_revenue_eur" in await response.text()
    assert await consume(settings.kafka_bootstrap_servers, settings.samples_topic, 0, 2.0) == []


async def test_schema_2_packs_a_requests_series_per_partition(receiver_factory: Any) -> None:
    client, settings = await receiver_factory(samples_schema_version=2, samples_partitions=4)
    names = [[("__name__", f"m_{i}"), ("job", "x")] for i in range(40)]
    for tenant in ("team-a", "team-b"):
        body = compress(v1_request([v1_series(labels, [(1.0, T)]) for labels in names]))
        headers = {**V1_HEADERS, "X-Scope-OrgID": tenant}
        assert (await client.post(WRITE, data=body, headers=headers)).status == 204
    records = await consume(settings.kafka_bootstrap_servers, settings.samples_topic, 8)
    assert len(records) <= 8 and all(record.key is None for record in records)
    seen = set()
    for record in records:
        batch = samples_pb2.SamplesBatch.FromString(record.value)
        assert batch.schema_version == 2
        for series in batch.series:
            assert series.series_id % 4 == record.partition
            seen.add((series.tenant, series.series_id))
    expected = {(t, series_id(t, labels)) for t in ("team-a", "team-b") for labels in names}
    assert seen == expected
