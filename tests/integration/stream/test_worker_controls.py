"""``aidevops worker`` applying the controls of a real DynamoDB Local to live series."""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
from pathlib import Path

import pytest

from aidevops.kafka.producer import BatchProducer
from aidevops.pb import scores_pb2
from cli.local.broker import LocalBroker
from cli.local.dynamodb import LocalDynamoDB
from stream.storage.dynamodb import DynamoGateway, make_client
from stream.storage.settings import StorageSettings
from stream.storage.store import Storage
from stream.worker.controls import WorkerControls
from tests.integration.stream.conftest import Topics, WorkerProcess
from tests.integration.stream.test_worker import read_scores, wait_until
from tests.support.series import series_message

pytestmark = pytest.mark.integration

_prefixes = itertools.count()
KEPT, EXCLUDED = 21, 22
PARTITION = 1  # both series in one partition: scored in the order they were sent


def storage_settings(dynamodb: LocalDynamoDB) -> StorageSettings:
    """DynamoDB Local with tables of the test's own."""
    return StorageSettings(
        dynamodb_endpoint_url=dynamodb.endpoint_url,
        dynamodb_table_prefix=f"wctl{next(_prefixes)}",
        dynamodb_access_key_id="local",
        dynamodb_secret_access_key="local",  # type: ignore[arg-type]
    )


async def test_a_worker_skips_excluded_series_and_applies_new_controls_to_live_ones(
    broker: LocalBroker,
    topics: Topics,
    workers: list[WorkerProcess],
    producer: BatchProducer,
    dynamodb: LocalDynamoDB,
    logs_dir: Path,
) -> None:
    settings = storage_settings(dynamodb)
    storage = Storage.from_settings(settings)
    storage.controls.add("default", {"instance": "excluded:9100"}, exclude=True)
    env = {
        "AIDEVOPS_DYNAMODB_ENDPOINT_URL": dynamodb.endpoint_url,
        "AIDEVOPS_DYNAMODB_TABLE_PREFIX": settings.dynamodb_table_prefix,
        "AIDEVOPS_DYNAMODB_ACCESS_KEY_ID": "local",
        "AIDEVOPS_DYNAMODB_SECRET_ACCESS_KEY": "local",
        "AIDEVOPS_CONTROLS_REFRESH_SECONDS": "1",
    }
    workers.append(WorkerProcess(broker, topics, logs_dir, extra_env=env).start())

    def sample(series: int, instance: str, start: int) -> tuple[int, bytes, bytes]:
        value = series_message(series, "node_load1", [1.0, 2.0], start, instance=instance)
        return PARTITION, series.to_bytes(8, "big"), value

    # The excluded series first: once the kept one is scored, the other was handled.
    await producer.send(
        topics.samples, [sample(EXCLUDED, "excluded:9100", 0), sample(KEPT, "kept:9100", 0)]
    )
    batches: list[scores_pb2.ScoreBatch] = []

    def scored(series: int, *, stale: bool = False) -> bool:
        nonlocal batches
        batches = asyncio.run(read_scores(broker, topics.scores, 1))
        return any(b.series_id == series and b.stale == stale for b in batches)

    await wait_until(lambda: scored(KEPT), "scores of the kept series", workers)
    assert {b.series_id for b in batches} == {KEPT}

    # A control excluding the live series: the worker ends it at its next refresh.
    storage.controls.add("default", {"instance": "kept:9100"}, exclude=True)
    await wait_until(lambda: scored(KEPT, stale=True), "the kept series ended", workers)
    storage.close()
    await wait_until(
        lambda: 'instance="kept:9100"' not in workers[0].metrics(), "off /metrics", workers
    )
    # Its later samples are not scored; a third series sent after them is.
    await producer.send(topics.samples, [sample(KEPT, "kept:9100", 2), sample(23, "new:9100", 0)])
    await wait_until(lambda: scored(23), "scores of a third series", workers)
    assert [b.stale for b in batches if b.series_id == KEPT] == [False, True]
    assert EXCLUDED not in {b.series_id for b in batches}


async def test_controls_survive_dynamodb_going_away_and_the_failure_is_logged_once(
    dynamodb: LocalDynamoDB, caplog: pytest.LogCaptureFixture
) -> None:
    settings = storage_settings(dynamodb)
    storage = Storage.from_settings(settings)
    store = storage.controls
    controls = WorkerControls(store.everything)
    assert await controls.refresh() is None  # nothing set: nothing for the engine to do
    store.add("default", {"job": "batch"}, threshold=0.8)
    first = await controls.refresh()
    assert first is not None and first.for_series("default", {"job": "batch"}).threshold == 0.8
    assert await controls.refresh() is None  # unchanged
    store.add("default", {"job": "web"}, mute_until=2**40)
    assert await controls.refresh() is None  # a mute is not the worker's business

    # DynamoDB stops answering (a port nobody listens on): the last controls stay.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    store.gateway = DynamoGateway(make_client(f"http://127.0.0.1:{closed}", "us-east-1", "a", "b"))
    with caplog.at_level(logging.INFO, logger="stream.worker.controls"):
        assert await controls.refresh() is None
        assert await controls.refresh() is None
        assert controls.current is not None and len(controls.current) == 2
        store.gateway = storage.gateway
        store.add("default", {"job": "batch"}, exclude=True)
        again = await controls.refresh()
    assert again is not None and again.for_series("default", {"job": "batch"}).exclude
    assert [r.levelname for r in caplog.records] == ["WARNING", "INFO"]
    assert "scoring with the last ones read" in caplog.records[0].getMessage()
    storage.close()
