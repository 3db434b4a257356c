"""A real Prometheus 2.42 remote-writing to the receiver, which publishes to the real broker."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import struct
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from aidevops.pb import samples_pb2
from cli.local.broker import LocalBroker
from cli.local.process import free_port
from cli.local.prometheus import LocalPrometheus
from receiver.app import create_app
from receiver.decoding import Record
from receiver.publisher import KafkaPublisher
from receiver.settings import ReceiverSettings
from tests.support.exporter import Exporter
from tests.support.kafka import consume_series

pytestmark = pytest.mark.integration

STALE_BITS = struct.pack("<Q", 0x7FF0000000000002)


class RecordingPublisher:
    """The real Kafka publisher, remembering every record it got an acknowledgement for."""

    def __init__(self, inner: KafkaPublisher):
        self.inner = inner
        self.acked: list[Record] = []
        self.refused = 0

    async def publish(
        self, records: Sequence[Record], index_samples: Sequence[bytes] = (), received_at: int = 0
    ) -> None:
        try:
            await self.inner.publish(records)
        except Exception:
            self.refused += 1
            raise
        self.acked.extend(records)

    async def ready(self) -> bool:
        return await self.inner.ready()


@dataclass
class Pipeline:
    broker: LocalBroker
    settings: ReceiverSettings
    publisher: RecordingPublisher
    exporter: Exporter
    prometheus: LocalPrometheus
    batches: list[samples_pb2.SeriesBatch] = field(default_factory=list)

    async def read(self, at_least: int = 1) -> list[samples_pb2.SeriesBatch]:
        found = await consume_series(
            self.broker.bootstrap_servers, self.settings.samples_topic, at_least, timeout=30
        )
        self.batches = [batch for _, batch in found]
        return self.batches

    def query(self, promql: str) -> list[dict[str, object]]:
        url = f"{self.prometheus.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=5) as response:
            result: list[dict[str, object]] = json.load(response)["data"]["result"]
        return result


def _config(exporter: str, receiver_port: int, prometheus_port: int) -> str:
    return f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs: [{{targets: ["127.0.0.1:{prometheus_port}"]}}]
  - job_name: exporter
    static_configs: [{{targets: ["{exporter}"]}}]
remote_write:
  - url: http://127.0.0.1:{receiver_port}/api/v1/write
    queue_config:
      batch_send_deadline: 500ms
      min_backoff: 100ms
      max_backoff: 1s
    metadata_config:
      send: true
      send_interval: 1s
"""


@pytest.fixture
async def pipeline(tmp_path: Path, logs_dir: Path) -> AsyncIterator[Pipeline]:
    """Its own broker (the outage test freezes it), receiver, exporter and Prometheus."""
    broker = LocalBroker(logs_dir).start()
    settings = ReceiverSettings(
        kafka_bootstrap_servers=broker.bootstrap_servers,
        samples_topic="samples",
        samples_partitions=4,
        publish_timeout_seconds=1.0,
        retry_after_seconds=1,
    )
    inner = KafkaPublisher(broker.bootstrap_servers, "samples", 4, 1.0)
    await inner.start()
    publisher = RecordingPublisher(inner)
    receiver_port = free_port()
    server = TestServer(create_app(settings, publisher), host="127.0.0.1", port=receiver_port)
    await server.start_server()
    exporter = Exporter()
    await exporter.start()
    prometheus_port = free_port()
    prometheus = LocalPrometheus(
        _config(exporter.target, receiver_port, prometheus_port), tmp_path, prometheus_port
    )
    await asyncio.to_thread(prometheus.start)
    try:
        yield Pipeline(broker, settings, publisher, exporter, prometheus)
    finally:
        await asyncio.to_thread(prometheus.stop)
        await exporter.close()
        await server.close()
        await inner.stop()
        os.kill(broker.pid, signal.SIGCONT)  # in case a test left it frozen
        broker.stop()


def _labels(batch: samples_pb2.SeriesBatch) -> dict[str, str]:
    return {label.name: label.value for label in batch.labels}


def _of(batches: list[samples_pb2.SeriesBatch], name: str) -> list[samples_pb2.SeriesBatch]:
    return [b for b in batches if _labels(b)["__name__"] == name]


async def _wait_for(pipeline: Pipeline, predicate: object, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        batches = await pipeline.read()
        if predicate(batches):  # type: ignore[operator]
            return
        await asyncio.sleep(0.5)
    raise AssertionError(
        f"condition not met in {timeout}s; Prometheus log:\n{pipeline.prometheus.log_tail()}"
    )


async def test_prometheus_samples_arrive_with_labels_values_and_timestamps(
    pipeline: Pipeline,
) -> None:
    await _wait_for(pipeline, lambda bs: len(_of(bs, "test_scrapes")) >= 5)
    gauge = _of(pipeline.batches, "test_scrapes")
    assert _labels(gauge[0]) == {
        "__name__": "test_scrapes",
        "instance": pipeline.exporter.target,
        "job": "exporter",
        "kind": "count",
    }
    received = {(s.timestamp, s.value) for b in gauge for s in b.samples}
    # The exporter serves its scrape count: values are consecutive integers.
    values = sorted(v for _, v in received)
    assert values == [float(v) for v in range(int(values[0]), int(values[0]) + len(values))]
    # Timestamps and values are exactly what Prometheus stored in its own TSDB.
    [stored] = pipeline.query('test_scrapes{job="exporter"}[5m]')
    in_tsdb = {(round(float(t) * 1000), float(v)) for t, v in stored["values"]}  # type: ignore[union-attr,attr-defined]
    assert received <= in_tsdb
    # Prometheus' own series come through too, one Kafka message per series per request.
    assert _of(pipeline.batches, "prometheus_build_info")


async def test_metadata_tells_counters_from_gauges(pipeline: Pipeline) -> None:
    def typed(batches: list[samples_pb2.SeriesBatch]) -> bool:
        counters = _of(batches, "test_requests_total")
        return any(b.metric_type == samples_pb2.METRIC_TYPE_COUNTER for b in counters)

    await _wait_for(pipeline, typed)
    gauges = _of(pipeline.batches, "test_scrapes")
    assert any(b.metric_type == samples_pb2.METRIC_TYPE_GAUGE for b in gauges)


async def test_staleness_marker_from_prometheus_keeps_its_bits(pipeline: Pipeline) -> None:
    await _wait_for(pipeline, lambda bs: len(_of(bs, "test_vanishing")) >= 2)
    pipeline.exporter.vanish = True

    def stale(batches: list[samples_pb2.SeriesBatch]) -> bool:
        return any(b.stale_markers for b in _of(batches, "test_vanishing"))

    await _wait_for(pipeline, stale)
    [marker] = [
        s
        for b in _of(pipeline.batches, "test_vanishing")
        for s in b.samples
        if struct.pack("<d", s.value) == STALE_BITS
    ]
    values = [s.value for b in _of(pipeline.batches, "test_vanishing") for s in b.samples]
    assert values.count(42.0) == len(values) - 1
    assert marker.timestamp > 0


async def test_broker_outage_gets_retryable_answers_and_loses_nothing(
    pipeline: Pipeline,
) -> None:
    await _wait_for(pipeline, lambda bs: len(_of(bs, "test_scrapes")) >= 2)
    os.kill(pipeline.broker.pid, signal.SIGSTOP)
    try:
        await asyncio.sleep(6)
        refused_during_outage = pipeline.publisher.refused
        acked_during_outage = len(pipeline.publisher.acked)
        await asyncio.sleep(1)
        # Nothing was acknowledged while the broker was frozen, and Prometheus kept trying.
        assert len(pipeline.publisher.acked) == acked_during_outage
        assert refused_during_outage >= 2
    finally:
        os.kill(pipeline.broker.pid, signal.SIGCONT)
    scrapes_at_resume = pipeline.exporter.scrapes

    def caught_up(batches: list[samples_pb2.SeriesBatch]) -> bool:
        values = {s.value for b in _of(batches, "test_scrapes") for s in b.samples}
        return float(scrapes_at_resume + 2) in values

    await _wait_for(pipeline, caught_up, timeout=60)
    # Every scrape during the outage reached Kafka once Prometheus' retries got through.
    values = sorted({s.value for b in _of(pipeline.batches, "test_scrapes") for s in b.samples})
    first = int(values[0])
    assert values[: scrapes_at_resume - first] == [
        float(v) for v in range(first, scrapes_at_resume)
    ]
    # Everything that was answered 2xx is in Kafka (duplicates allowed: at-least-once).
    # Snapshot the acknowledged records first: Prometheus keeps writing meanwhile.
    acked = list(pipeline.publisher.acked)
    await pipeline.read(at_least=len(acked))
    in_kafka = {(b.series_id, s.timestamp) for b in pipeline.batches for s in b.samples}
    for sid, _, value in acked:
        batch = samples_pb2.SeriesBatch.FromString(value)
        for sample in batch.samples:
            assert (sid, sample.timestamp) in in_kafka
