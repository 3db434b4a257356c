"""Every answer of POST /api/v1/write, against the real broker."""

from __future__ import annotations

import base64
import struct
from typing import Any

import pytest

from cli.local.process import free_port
from receiver.labelset import series_id
from tests.support.kafka import consume, consume_series
from tests.support.remote_write import (
    STALE_NAN,
    V1_HEADERS,
    V2_HEADERS,
    compress,
    v1_request,
    v1_series,
    v2_request,
)

pytestmark = pytest.mark.integration

NODE = [("__name__", "node_load1"), ("instance", "a:9100"), ("job", "node")]
WRITE = "/api/v1/write"


async def test_accepted_samples_are_in_kafka_partitioned_by_series(receiver_factory: Any) -> None:
    client, settings = await receiver_factory()
    other = [("__name__", "node_load5"), ("instance", "a:9100"), ("job", "node")]
    body = compress(v1_request([v1_series(NODE, [(0.5, 1000)]), v1_series(other, [(2.5, 1000)])]))
    response = await client.post(WRITE, data=body, headers=V1_HEADERS)
    assert response.status == 204
    assert "X-Prometheus-Remote-Write-Samples-Written" not in response.headers
    found = await consume_series(settings.kafka_bootstrap_servers, settings.samples_topic, 2)
    assert len(found) == 2
    by_id = {batch.series_id: (record, batch) for record, batch in found}
    sid = series_id("default", NODE)
    record, batch = by_id[sid]
    assert [(label.name, label.value) for label in batch.labels] == NODE
    assert [(s.value, s.timestamp) for s in batch.samples] == [(0.5, 1000)]
    assert record.partition == sid % 4


async def test_v2_answers_with_exact_written_counts(receiver_factory: Any) -> None:
    client, settings = await receiver_factory()
    body = compress(v2_request([(NODE, [(1.0, 1000), (2.0, 2000)])]))
    response = await client.post(WRITE, data=body, headers=V2_HEADERS)
    assert response.status == 204
    assert response.headers["X-Prometheus-Remote-Write-Samples-Written"] == "2"
    assert response.headers["X-Prometheus-Remote-Write-Histograms-Written"] == "0"
    assert response.headers["X-Prometheus-Remote-Write-Exemplars-Written"] == "0"
    [(_, batch)] = await consume_series(settings.kafka_bootstrap_servers, settings.samples_topic)
    assert len(batch.samples) == 2


async def test_staleness_marker_bits_survive_to_kafka(receiver_factory: Any) -> None:
    client, settings = await receiver_factory()
    body = compress(v1_request([v1_series(NODE, [(STALE_NAN, 5000)])]))
    assert (await client.post(WRITE, data=body, headers=V1_HEADERS)).status == 204
    [(_, batch)] = await consume_series(settings.kafka_bootstrap_servers, settings.samples_topic)
    assert struct.pack("<d", batch.samples[0].value) == struct.pack("<Q", 0x7FF0000000000002)
    assert batch.stale_markers == 1


async def test_tenant_comes_from_the_configured_header(receiver_factory: Any) -> None:
    client, settings = await receiver_factory(tenant_header="X-Tenant")
    body = compress(v1_request([v1_series(NODE)]))
    await client.post(WRITE, data=body, headers={**V1_HEADERS, "X-Tenant": "blue"})
    await client.post(WRITE, data=body, headers=V1_HEADERS)
    found = await consume_series(settings.kafka_bootstrap_servers, settings.samples_topic, 2)
    tenants = sorted(batch.tenant for _, batch in found)
    assert tenants == ["blue", "default"]


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Content-Type": "application/json", "Content-Encoding": "snappy"}, "content type"),
        ({"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}, "encoding"),
        ({"Content-Type": "application/x-protobuf"}, "encoding"),
        (
            {"Content-Type": "application/x-protobuf;proto=foo.Bar", "Content-Encoding": "snappy"},
            "protobuf message",
        ),
    ],
)
async def test_unsupported_media_is_415(
    receiver_factory: Any, headers: dict[str, str], reason: str
) -> None:
    client, _ = await receiver_factory()
    response = await client.post(
        WRITE, data=compress(v1_request([v1_series(NODE)])), headers=headers
    )
    assert response.status == 415
    assert reason in await response.text()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\x10not snappy at all", "corrupt snappy"),
        (compress(b"\x0a\xff\xff\x01garbage"), "corrupt protobuf"),
        (compress(v1_request([v1_series([("job", "x")])])), "missing __name__ label"),
        (compress(v1_request([v1_series([("__name__", "m"), ("a", ""), ("a", "")])])), "duplicate"),
        (compress(v1_request([v1_series([("z", "1"), ("__name__", "m")])])), "not sorted"),
    ],
)
async def test_invalid_data_is_400_with_one_line_reason(
    receiver_factory: Any, body: bytes, message: str
) -> None:
    client, settings = await receiver_factory()
    response = await client.post(WRITE, data=body, headers=V1_HEADERS)
    assert response.status == 400
    text = await response.text()
    assert message in text and text.count("\n") == 1
    assert await consume(settings.kafka_bootstrap_servers, settings.samples_topic, 1, 1.0) == []


async def test_v2_symbol_out_of_range_is_400(receiver_factory: Any) -> None:
    from aidevops.pb import remote_write_v2_pb2 as rw2

    request = rw2.Request.FromString(v2_request([(NODE, [(1.0, 1)])]))
    request.timeseries[0].labels_refs.append(77)
    request.timeseries[0].labels_refs.append(78)
    client, _ = await receiver_factory()
    response = await client.post(
        WRITE, data=compress(request.SerializeToString()), headers=V2_HEADERS
    )
    assert response.status == 400
    assert "out of range" in await response.text()


async def test_label_limits_are_configurable_and_name_the_series(receiver_factory: Any) -> None:
    client, _ = await receiver_factory(label_limit=3)
    body = compress(v1_request([v1_series([*NODE, ("zone", "eu")])]))
    response = await client.post(WRITE, data=body, headers=V1_HEADERS)
    assert response.status == 400
    assert 'node_load1{instance="a:9100", job="node", zone="eu"}' in await response.text()


async def test_body_over_the_limit_is_413_before_reading(receiver_factory: Any) -> None:
    client, _ = await receiver_factory(max_body_bytes=1000)
    response = await client.post(WRITE, data=b"x" * 5000, headers=V1_HEADERS)
    assert response.status == 413


async def test_snappy_bomb_is_refused_from_its_header_alone(receiver_factory: Any) -> None:
    client, _ = await receiver_factory(max_decoded_bytes=1 << 20)
    # Declares 4 GiB - 1 of output in a 10-byte body: no snappy block expands more than
    # 64/3 times, so the header is corrupt (400), refused without inflating.
    bomb = bytes([0xFF, 0xFF, 0xFF, 0xFF, 0x0F]) + b"\x00" * 5
    response = await client.post(WRITE, data=bomb, headers=V1_HEADERS)
    assert response.status == 400
    assert "declares 4294967295 bytes" in await response.text()
    # A body that could expand that far, over the limit, is too large (413).
    big = compress(b"\x00" * ((1 << 20) + 1))
    response = await client.post(WRITE, data=big, headers=V1_HEADERS)
    assert response.status == 413


async def test_bearer_token_is_required_when_configured(receiver_factory: Any) -> None:
    client, _ = await receiver_factory(auth_bearer_token="t0ken")
    body = compress(v1_request([v1_series(NODE)]))
    assert (await client.post(WRITE, data=body, headers=V1_HEADERS)).status == 401
    wrong = {**V1_HEADERS, "Authorization": "Bearer nope"}
    assert (await client.post(WRITE, data=body, headers=wrong)).status == 401
    right = {**V1_HEADERS, "Authorization": "Bearer t0ken"}
    assert (await client.post(WRITE, data=body, headers=right)).status == 204


async def test_basic_auth_is_required_when_configured(receiver_factory: Any) -> None:
    client, _ = await receiver_factory(auth_basic_username="prom", auth_basic_password="pw")
    body = compress(v1_request([v1_series(NODE)]))
    response = await client.post(WRITE, data=body, headers=V1_HEADERS)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    good = base64.b64encode(b"prom:pw").decode()
    bad = base64.b64encode(b"prom:px").decode()
    for credentials, status in ((bad, 401), (good, 204)):
        headers = {**V1_HEADERS, "Authorization": f"Basic {credentials}"}
        assert (await client.post(WRITE, data=body, headers=headers)).status == status


async def test_unreachable_broker_is_503_with_retry_after(receiver_factory: Any) -> None:
    client, _ = await receiver_factory(kafka_bootstrap_servers=f"127.0.0.1:{free_port()}")
    response = await client.post(
        WRITE, data=compress(v1_request([v1_series(NODE)])), headers=V1_HEADERS
    )
    assert response.status == 503
    assert response.headers["Retry-After"] == "5"
    assert (await client.get("/readyz")).status == 503
    assert (await client.get("/healthz")).status == 200


async def test_metrics_count_what_happened(receiver_factory: Any) -> None:
    client, _ = await receiver_factory()
    await client.post(WRITE, data=compress(v1_request([v1_series(NODE)])), headers=V1_HEADERS)
    await client.post(WRITE, data=b"junk", headers=V1_HEADERS)
    assert (await client.get("/readyz")).status == 200
    text = await (await client.get("/metrics")).text()
    assert 'aidevops_receiver_requests_total{status="204"} 1.0' in text
    assert 'aidevops_receiver_requests_total{status="400"} 1.0' in text
    assert 'aidevops_receiver_rejections_total{reason="invalid"} 1.0' in text
    assert "aidevops_receiver_samples_total 1.0" in text
    assert "aidevops_receiver_publish_seconds_count 1.0" in text
