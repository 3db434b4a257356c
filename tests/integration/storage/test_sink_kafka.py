"""The sink between the real broker and a real DynamoDB Local that goes away and comes back."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import numpy as np
import pytest
from aiokafka import AIOKafkaProducer

from aidevops.kafka.producer import BatchProducer
from aidevops.pb import alerts_pb2, remote_write_v1_pb2, samples_pb2, scores_pb2
from cli.local.broker import LocalBroker
from cli.local.dynamodb import LocalDynamoDB
from cli.local.process import free_port
from stream.alerting.policy import AlertPolicy
from stream.sink.runner import make_consumer, make_sink
from stream.sink.settings import SinkSettings
from stream.sink.sink import StorageSink
from stream.storage.settings import StorageSettings
from stream.storage.store import Storage
from stream.worker.engine import OutRecord, ScoringEngine
from stream.worker.scoring import scores_records
from stream.worker.settings import WorkerSettings

from .conftest import local_client

pytestmark = pytest.mark.integration
HOUR = 3_600_000
T0 = (int(time.time() * 1000) // HOUR - 6) * HOUR  # recent: older items would expire (TTL)
SERIES = 20


def score_batch(series_id: int, start: int, n: int) -> bytes:
    b = scores_pb2.ScoreBatch(schema_version=1, tenant="default", series_id=series_id)
    b.labels.add(name="__name__", value="up")
    b.labels.add(name="instance", value=f"host-{series_id}")
    for i in range(n):
        b.points.add(timestamp=start + 15_000 * i, value=float(i % 5), score=(i % 100) / 100)
    return b.SerializeToString()


async def produce(bootstrap: str, topic: str, hours: range) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for h in hours:
            for s in range(SERIES):  # 4 batches of 60 points = one hour per series
                for q in range(4):
                    start = T0 + h * HOUR + q * 15 * 60_000
                    await producer.send(
                        topic, score_batch(s, start, 60), key=s.to_bytes(8, "big"), partition=s % 2
                    )
        await producer.flush()
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def running_sink(
    broker: LocalBroker, settings: StorageSettings, storage: Storage
) -> AsyncIterator[StorageSink]:
    sink_settings = SinkSettings(
        **{**settings.model_dump(), "kafka_bootstrap_servers": broker.bootstrap_servers}
    )
    consumer = make_consumer(sink_settings)
    sink = make_sink(consumer, storage, sink_settings)
    consumer.subscribe([sink_settings.scores_topic, sink_settings.alerts_topic])
    await consumer.start()
    stop = asyncio.Event()
    task = asyncio.create_task(sink.run(stop))
    try:
        yield sink
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
        await consumer.stop()


async def wait_for(predicate: object, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


class Link:
    """A TCP relay in front of DynamoDB Local that can be cut and restored.

    Stopping DynamoDB Local by PID would also do, but with ``-dbPath`` it loses the writes of
    its last second (it acknowledged them: real DynamoDB would not), which the test would then
    blame on the sink. Cutting the network is the outage the sink actually sees.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def restore(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in self.writers:
            w.transport.abort()
        self.writers.clear()
        await self.server.wait_closed()
        self.server = None
        await asyncio.sleep(0)  # let the aborted transports finish closing


async def test_outage_then_catch_up_loses_nothing_and_replay_is_identical(
    broker: LocalBroker, dynamodb: LocalDynamoDB
) -> None:
    link = Link(dynamodb.port)
    await link.restore()
    try:
        settings = SinkSettings(
            dynamodb_endpoint_url=f"http://127.0.0.1:{link.port}",
            dynamodb_access_key_id="local",
            dynamodb_secret_access_key="local",  # type: ignore[arg-type]
            dynamodb_table_prefix="sinktest",
            scores_bucket_seconds=3600,
            scores_topic="sink-scores",
            alerts_topic="sink-alerts",
            sink_group_id="sink-test",
            sink_commit_interval_seconds=0.2,
            sink_retry_max_seconds=0.5,
        )
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic

        kadmin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
        await kadmin.start()
        await kadmin.create_topics([NewTopic("sink-scores", 2, 1), NewTopic("sink-alerts", 1, 1)])
        await kadmin.close()
        storage = await asyncio.to_thread(Storage.from_settings, settings)
        storage.gateway._deadline_seconds = 1.0

        async with running_sink(broker, settings, storage) as sink:
            await produce(broker.bootstrap_servers, "sink-scores", range(2))
            await wait_for(lambda: sink.stats.buckets_flushed >= SERIES)  # hour 0 closed
            await link.cut()  # DynamoDB goes away: connections reset, then refused
            await produce(broker.bootstrap_servers, "sink-scores", range(2, 4))
            ev = alerts_pb2.AlertEvent(
                schema_version=1,
                tenant="default",
                series_id=3,
                dedup_key="3:1",
                state=alerts_pb2.ALERT_STATE_FIRING,
                started_at=T0,
                event_at=T0 + 1,
            )
            p = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
            await p.start()
            await p.send_and_wait("sink-alerts", ev.SerializeToString(), key=b"3:1")
            await p.stop()
            await wait_for(lambda: sink.stats.failed_writes >= 2)
            assert sink._paused
            await link.restore()  # back, same address, same data
            await wait_for(lambda: not sink._paused and sink.stats.buckets_flushed >= 3 * SERIES)
        # the sink closed: it wrote the open buckets and committed
        for s in range(SERIES):
            got = await asyncio.to_thread(storage.read_scores, s, T0, T0 + 4 * HOUR)
            assert len(got) == 4 * 240, (s, sorted({(p.timestamp - T0) // HOUR for p in got}))
        alerts = await asyncio.to_thread(storage.recent_alerts, 3)
        assert [a.state for a in alerts] == ["FIRING"]
        direct = local_client(dynamodb.endpoint_url)
        before = direct.scan(TableName=storage.scores.table)["Items"]  # type: ignore[attr-defined]
        written = storage.gateway.meter.items_written
        replay = settings.model_copy(update={"sink_group_id": "sink-replay"})
        async with running_sink(broker, replay, storage) as sink2:
            await wait_for(lambda: sink2.stats.records >= 4 * 4 * SERIES + 1)
        after = direct.scan(TableName=storage.scores.table)["Items"]  # type: ignore[attr-defined]
        key = lambda i: (i["pk"]["S"], i["sk"]["S"])  # noqa: E731
        assert sorted(after, key=key) == sorted(before, key=key)
        # score buckets were read and found identical, so not rewritten; the alert item is
        # rewritten as is (a blind put: 1 WCU, cheaper than reading it first)
        assert storage.gateway.meter.items_written == written + 1
        direct.close()
        storage.close()
    finally:
        if link.server is not None:
            await link.cut()


def _samples(series_id: int, values: np.ndarray, start: int) -> bytes:
    """A recent ``SeriesBatch`` (older items would expire), a point every 15 s from ``start``."""
    batch = samples_pb2.SeriesBatch(
        schema_version=1,
        tenant="default",
        series_id=series_id,
        metric_type=samples_pb2.METRIC_TYPE_GAUGE,
        labels=[
            remote_write_v1_pb2.Label(name="__name__", value="node_load1"),
            remote_write_v1_pb2.Label(name="instance", value=f"host-{series_id}"),
        ],
    )
    for i, value in enumerate(values):
        batch.samples.add(value=float(value), timestamp=T0 + (start + i) * 15_000)
    return batch.SerializeToString()


async def test_scores_schema_2_from_the_worker_store_as_schema_1_does(
    broker: LocalBroker, dynamodb: LocalDynamoDB
) -> None:
    """The worker's output of a few scoring steps, sent once per series (schema 1) and once
    packed per partition (schema 2): the sink stores the very same items from both."""
    engine = ScoringEngine(AlertPolicy(WorkerSettings().policy_config()))
    rng = np.random.default_rng(3)
    series = range(1, 7)
    steps: list[list[OutRecord]] = []
    for start in range(0, 4 * 240, 60):  # 16 steps of 60 points a series: 4 hour buckets
        messages = [(s % 2, _samples(s, rng.normal(5.0, 1.0, 60), start)) for s in series]
        steps.append(engine.process(messages).scores)
    points = 6 * 4 * 240
    topics = {"v1-scores": 2, "v2-scores": 2, "v-alerts": 1}
    producer = BatchProducer(broker.bootstrap_servers, 10.0, "sink-v2-test", topics)
    await producer.start()
    await asyncio.wait_for(producer.connected.wait(), 20)
    try:
        for scores in steps:
            await producer.send("v1-scores", scores)
            packed = scores_records(scores)
            assert len(packed) == 2 and all(key is None for _, key, _ in packed)
            await producer.send("v2-scores", packed)
    finally:
        await producer.stop()

    items = []
    for version in (1, 2):
        settings = SinkSettings(
            dynamodb_endpoint_url=dynamodb.endpoint_url,
            dynamodb_access_key_id="local",
            dynamodb_secret_access_key="local",  # type: ignore[arg-type]
            dynamodb_table_prefix=f"sinkv{version}",
            scores_bucket_seconds=3600,
            scores_topic=f"v{version}-scores",
            alerts_topic="v-alerts",
            sink_group_id=f"sink-v{version}",
            sink_commit_interval_seconds=0.2,
        )
        storage = await asyncio.to_thread(Storage.from_settings, settings)
        async with running_sink(broker, settings, storage) as sink:
            await wait_for(lambda: sink.stats.points >= points)  # noqa: B023
        assert sink.stats.points == points
        assert sink.stats.records == (len(steps) * 6 if version == 1 else len(steps) * 2)
        direct = local_client(dynamodb.endpoint_url)
        found = direct.scan(TableName=storage.scores.table)["Items"]  # type: ignore[attr-defined]
        items.append(sorted(found, key=lambda i: (i["pk"]["S"], i["sk"]["S"])))
        direct.close()
        storage.close()
    assert len(items[0]) >= 6 * 4
    assert items[1] == items[0]
