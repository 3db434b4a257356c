"""Every HTTP answer of the real receiver app, built by ``create_app``, without a broker.

The publisher is a fake that implements the :class:`receiver.publisher.SamplePublisher`
Protocol and records what it was given.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest
import snappy
from aiohttp.test_utils import TestClient, TestServer

from aidevops.errors import BrokerUnavailable, PayloadTooLarge
from aidevops.pb import remote_write_v1_pb2 as rw1
from aidevops.pb import samples_pb2
from receiver.app import create_app
from receiver.decoding import Record
from receiver.labelset import series_id
from receiver.publisher import SamplePublisher
from receiver.settings import ReceiverSettings
from tests.support.remote_write import (
    V1_HEADERS,
    V2_HEADERS,
    compress,
    v1_request,
    v1_series,
    v2_request,
)

WRITE = "/api/v1/write"
NODE = [("__name__", "node_load1"), ("instance", "a:9100"), ("job", "node")]
T = 1_700_000_000_000


class FakePublisher:
    """Records every published record; fails as told."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.index: list[bytes] = []
        self.failure: Exception | None = None
        self.is_ready = True

    async def publish(
        self, records: Sequence[Record], index_samples: Sequence[bytes] = (), received_at: int = 0
    ) -> None:
        if self.failure is not None:
            raise self.failure
        self.records.extend(records)
        self.index.extend(index_samples)

    async def ready(self) -> bool:
        return self.is_ready

    def batches(self) -> list[samples_pb2.SeriesBatch]:
        return [samples_pb2.SeriesBatch.FromString(value) for _, _, value in self.records]


Client = TestClient[Any, Any]
Factory = Callable[..., Awaitable[tuple[Client, FakePublisher]]]


@pytest.fixture
async def receiver() -> AsyncIterator[Factory]:
    clients: list[Client] = []

    async def make(**overrides: Any) -> tuple[Client, FakePublisher]:
        publisher = FakePublisher()
        _: SamplePublisher = publisher  # the fake honours the Protocol (checked by mypy)
        settings = ReceiverSettings(kafka_bootstrap_servers="unused:1", **overrides)
        client: Client = TestClient(TestServer(create_app(settings, publisher)))
        await client.start_server()
        clients.append(client)
        return client, publisher

    yield make
    for client in clients:
        await client.close()


def v1_body(*series: rw1.TimeSeries) -> bytes:
    return compress(v1_request(series or [v1_series(NODE, [(1.0, T)])]))


@pytest.mark.parametrize("enabled", [True, False])
async def test_the_samples_index_is_handed_to_the_publisher_unless_disabled(
    receiver: Factory, enabled: bool
) -> None:
    client, publisher = await receiver(samples_index=enabled)
    for _ in range(2):  # the second time the labels are known: the sample goes in the index
        assert (await client.post(WRITE, data=v1_body(), headers=V1_HEADERS)).status == 204
    sample = v1_series([], [(1.0, T)]).SerializeToString()  # the sample's own 18 bytes
    assert publisher.index == ([b"", sample] if enabled else [])


# -- 204 ---------------------------------------------------------------------------------


async def test_204_publishes_one_record_per_series_keyed_by_tenant_and_labels(
    receiver: Factory,
) -> None:
    client, publisher = await receiver()
    response = await client.post(WRITE, data=v1_body(), headers=V1_HEADERS)
    assert response.status == 204
    assert "X-Prometheus-Remote-Write-Samples-Written" not in response.headers
    [(sid, key, _)] = publisher.records
    assert sid == series_id("default", NODE) and key == sid.to_bytes(8, "big")
    [batch] = publisher.batches()
    assert (batch.tenant, batch.series_id, len(batch.samples)) == ("default", sid, 1)


async def test_204_for_remote_write_2_carries_the_written_counts(receiver: Factory) -> None:
    client, publisher = await receiver()
    body = compress(v2_request([(NODE, [(1.0, T), (2.0, T + 1)])]))
    response = await client.post(WRITE, data=body, headers=V2_HEADERS)
    assert response.status == 204
    assert response.headers["X-Prometheus-Remote-Write-Samples-Written"] == "2"
    assert response.headers["X-Prometheus-Remote-Write-Histograms-Written"] == "0"
    assert response.headers["X-Prometheus-Remote-Write-Exemplars-Written"] == "0"
    assert len(publisher.records) == 1


async def test_same_labels_under_two_tenants_are_two_series(receiver: Factory) -> None:
    client, publisher = await receiver()
    for tenant in ("team-a", "team-b", "team-a", "team-b"):
        headers = {**V1_HEADERS, "X-Scope-OrgID": tenant}
        assert (await client.post(WRITE, data=v1_body(), headers=headers)).status == 204
    keys = [key for _, key, _ in publisher.records]
    assert len(set(keys)) == 2 and keys[0] == keys[2] and keys[1] == keys[3]
    assert [b.tenant for b in publisher.batches()] == ["team-a", "team-b", "team-a", "team-b"]


# -- 400 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\x05garbage", "corrupt snappy block"),
        # 12 bytes whose header declares 4 GiB: no snappy block of 7 bytes expands that far.
        (bytes([0x80, 0x80, 0x80, 0x80, 0x10]) + b"\x00" * 7, "corrupt snappy block: declares"),
        (snappy.compress(b"\x0a\xff\xff\x01garbage"), "corrupt protobuf"),
        (v1_body(v1_series([("job", "x")])), "missing __name__ label"),
        (v1_body(v1_series(NODE, [(1.0, -(2**63))])), "sample timestamp -9223372036854775808"),
        (
            compress(
                v1_request(
                    [], metadata=[rw1.MetricMetadata(metric_family_name="m", help="h" * 2000)]
                )
            ),
            "help text longer than 1024 bytes",
        ),
    ],
)
async def test_400_names_the_problem_and_publishes_nothing(
    receiver: Factory, body: bytes, message: str
) -> None:
    client, publisher = await receiver()
    response = await client.post(WRITE, data=body, headers=V1_HEADERS)
    assert response.status == 400
    assert message in await response.text()
    assert publisher.records == []


async def test_12_byte_body_declaring_4_gib_is_corrupt_not_too_large(receiver: Factory) -> None:
    client, _ = await receiver()
    body = bytes([0x80, 0x80, 0x80, 0x80, 0x10]) + b"\x00" * 7
    assert len(body) == 12
    response = await client.post(WRITE, data=body, headers=V1_HEADERS)
    assert response.status == 400


async def test_400_for_an_unprintable_tenant(receiver: Factory) -> None:
    client, _ = await receiver()
    headers = {**V1_HEADERS, "X-Scope-OrgID": "x" * 200}
    response = await client.post(WRITE, data=v1_body(), headers=headers)
    assert response.status == 400
    assert "X-Scope-OrgID must be printable" in await response.text()


# -- 401 ---------------------------------------------------------------------------------


async def test_401_without_the_configured_credentials(receiver: Factory) -> None:
    client, publisher = await receiver(auth_bearer_token="s3cret")
    response = await client.post(WRITE, data=v1_body(), headers=V1_HEADERS)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = {**V1_HEADERS, "Authorization": "Bearer nope"}
    assert (await client.post(WRITE, data=v1_body(), headers=wrong)).status == 401
    right = {**V1_HEADERS, "Authorization": "Bearer s3cret"}
    assert (await client.post(WRITE, data=v1_body(), headers=right)).status == 204
    assert len(publisher.records) == 1


async def test_a_tenant_token_writes_its_own_tenant_only(receiver: Factory) -> None:
    client, publisher = await receiver(
        auth_bearer_token="operator", tenant_tokens={"team-a": "token-a", "team-b": "token-b"}
    )
    as_a = {**V1_HEADERS, "Authorization": "Bearer token-a"}
    assert (await client.post(WRITE, data=v1_body(), headers=as_a)).status == 204
    # The header cannot move team-a's samples into another tenant.
    spoof = {**as_a, "X-Scope-OrgID": "team-b"}
    forbidden = await client.post(WRITE, data=v1_body(), headers=spoof)
    assert forbidden.status == 403
    assert "team-a" in await forbidden.text()
    operator = {**V1_HEADERS, "Authorization": "Bearer operator", "X-Scope-OrgID": "team-b"}
    assert (await client.post(WRITE, data=v1_body(), headers=operator)).status == 204
    assert [b.tenant for b in publisher.batches()] == ["team-a", "team-b"]
    anonymous = await client.post(WRITE, data=v1_body(), headers=V1_HEADERS)
    assert anonymous.status == 401


async def test_401_for_basic_auth(receiver: Factory) -> None:
    client, _ = await receiver(auth_basic_username="prom", auth_basic_password="pw")
    good = "Basic " + base64.b64encode(b"prom:pw").decode()
    bad = "Basic " + base64.b64encode(b"prom:no").decode()
    for authorization, status in ((good, 204), (bad, 401)):
        headers = {**V1_HEADERS, "Authorization": authorization}
        assert (await client.post(WRITE, data=v1_body(), headers=headers)).status == status


# -- 408 ---------------------------------------------------------------------------------


async def test_408_when_the_body_arrives_too_slowly(receiver: Factory) -> None:
    """Slow-loris: a connection that trickles its body is answered and closed in time."""
    client, publisher = await receiver(body_read_timeout_seconds=0.3)
    reader, writer = await asyncio.open_connection(client.host, client.port)
    head = (
        f"POST {WRITE} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
        "Content-Encoding: snappy\r\nContent-Length: 1000\r\n\r\n"
    )
    try:
        writer.write(head.encode() + b"\x00" * 10)
        await writer.drain()
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with asyncio.timeout(5):
            answer = await reader.read()  # the server closes the connection after answering
        elapsed = loop.time() - started
    finally:
        writer.close()
        await writer.wait_closed()
    assert answer.startswith(b"HTTP/1.1 408")
    assert b"request body not received within 0.3s" in answer
    assert elapsed < 2
    assert publisher.records == []


# -- 413 ---------------------------------------------------------------------------------


async def test_413_for_a_body_over_the_limit(receiver: Factory) -> None:
    client, _ = await receiver(max_body_bytes=100)
    response = await client.post(WRITE, data=b"\x00" * 101, headers=V1_HEADERS)
    assert response.status == 413


async def test_413_for_a_snappy_header_over_the_decoded_limit(receiver: Factory) -> None:
    client, publisher = await receiver(max_decoded_bytes=1000)
    response = await client.post(WRITE, data=snappy.compress(b"\x00" * 1001), headers=V1_HEADERS)
    assert response.status == 413
    assert "declares 1001 bytes, limit is 1000" in await response.text()
    assert publisher.records == []


async def test_413_when_the_broker_refuses_a_record_as_too_large(receiver: Factory) -> None:
    client, publisher = await receiver()
    publisher.failure = PayloadTooLarge("record too large for the broker")
    response = await client.post(WRITE, data=v1_body(), headers=V1_HEADERS)
    assert response.status == 413


# -- 415 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {**V1_HEADERS, "Content-Type": "application/json"},
        {**V1_HEADERS, "Content-Encoding": "gzip"},
        {k: v for k, v in V1_HEADERS.items() if k != "Content-Encoding"},
        {**V1_HEADERS, "Content-Type": "application/x-protobuf;proto=io.prometheus.write.v3.X"},
    ],
)
async def test_415_for_what_is_not_snappy_remote_write(
    receiver: Factory, headers: dict[str, str]
) -> None:
    client, publisher = await receiver()
    response = await client.post(WRITE, data=v1_body(), headers=headers)
    assert response.status == 415
    assert publisher.records == []


# -- 503 ---------------------------------------------------------------------------------


async def test_503_with_retry_after_when_the_broker_does_not_acknowledge(
    receiver: Factory,
) -> None:
    client, publisher = await receiver(retry_after_seconds=7)
    publisher.failure = BrokerUnavailable("broker did not acknowledge within 5s")
    response = await client.post(WRITE, data=v1_body(), headers=V1_HEADERS)
    assert response.status == 503
    assert response.headers["Retry-After"] == "7"
    assert "did not acknowledge" in await response.text()


# -- the other endpoints -----------------------------------------------------------------


async def test_healthz_readyz_and_metrics(receiver: Factory) -> None:
    client, publisher = await receiver()
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/readyz")).status == 200
    publisher.is_ready = False
    assert (await client.get("/readyz")).status == 503
    await client.post(WRITE, data=v1_body(), headers=V1_HEADERS)
    await client.post(WRITE, data=b"\x05garbage", headers=V1_HEADERS)
    metrics = await (await client.get("/metrics")).text()
    assert 'aidevops_receiver_requests_total{status="204"} 1.0' in metrics
    assert 'aidevops_receiver_requests_total{status="400"} 1.0' in metrics
    assert 'aidevops_receiver_rejections_total{reason="invalid"} 1.0' in metrics
    assert "aidevops_receiver_samples_total 1.0" in metrics
