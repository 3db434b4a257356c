"""Warm-up from Prometheus history: a real Prometheus holding a series' past, a real worker.

The history is written as TSDB blocks with ``promtool tsdb create-blocks-from openmetrics``
(what an operator's Prometheus would already hold), then a worker meets the series for the
first time with ``AIDEVOPS_PROMETHEUS_URL`` set: its first live points are alert-grade
instead of warming up for 256 points.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from aidevops.kafka.producer import BatchProducer
from aidevops.pb import remote_write_v1_pb2, samples_pb2, scores_pb2
from cli.local.broker import LocalBroker
from cli.local.prometheus import LocalPrometheus, prometheus_binary
from tests.integration.stream.conftest import Topics, WorkerProcess
from tests.support.kafka import consume_scores

pytestmark = pytest.mark.integration

WARMUP = 1
STEP_MS = 15_000
LABELS = [("__name__", "node_load1"), ("instance", "h1:9100"), ("job", "node")]


def _record(series_id: int, start_ms: int, values: list[float]) -> bytes:
    batch = samples_pb2.SeriesBatch(
        schema_version=1,
        tenant="default",
        series_id=series_id,
        metric_type=samples_pb2.METRIC_TYPE_GAUGE,
        labels=[remote_write_v1_pb2.Label(name=n, value=v) for n, v in LABELS],
    )
    for i, value in enumerate(values):
        batch.samples.add(value=value, timestamp=start_ms + i * STEP_MS)
    return batch.SerializeToString()


@pytest.fixture
def prometheus_with_history(tmp_path: Path) -> Iterator[tuple[LocalPrometheus, int]]:
    """A Prometheus whose TSDB holds 500 points of the series, ending a minute ago."""
    now_ms = int(time.time() * 1000) // STEP_MS * STEP_MS
    first_live = now_ms - 60_000
    values = np.random.default_rng(4).normal(10.0, 1.0, 500)
    lines = ["# TYPE node_load1 gauge"]
    for i, value in enumerate(values):
        t = first_live - (500 - i) * STEP_MS
        lines.append(f'node_load1{{instance="h1:9100",job="node"}} {value:.4f} {t / 1000:.3f}')
    lines.append("# EOF")
    source = tmp_path / "history.om"
    source.write_text("\n".join(lines) + "\n")
    tsdb = tmp_path / "prometheus" / "tsdb"
    tsdb.mkdir(parents=True)
    promtool = prometheus_binary().with_name("promtool")
    subprocess.run(
        [str(promtool), "tsdb", "create-blocks-from", "openmetrics", str(source), str(tsdb)],
        check=True,
        capture_output=True,
    )
    prometheus = LocalPrometheus(
        "global: {scrape_interval: 15s}\n",
        tmp_path / "prometheus",
        extra_args=("--storage.tsdb.retention.time=10y",),
    ).start()
    yield prometheus, first_live
    prometheus.stop()


async def _scores(broker: LocalBroker, topic: str, at_least: int) -> list[scores_pb2.ScoredPoint]:
    batches = await consume_scores(broker.bootstrap_servers, topic, at_least, timeout=5, settle=0.3)
    return [point for batch in batches for point in batch.points]


@pytest.mark.parametrize("with_history", [True, False])
async def test_a_new_series_learns_its_history_and_is_alert_grade_at_once(
    broker: LocalBroker,
    topics: Topics,
    workers: list[WorkerProcess],
    producer: BatchProducer,
    logs_dir: Path,
    prometheus_with_history: tuple[LocalPrometheus, int],
    with_history: bool,
) -> None:
    prometheus, first_live = prometheus_with_history
    env = {"AIDEVOPS_PROMETHEUS_URL": prometheus.url} if with_history else {}
    worker = WorkerProcess(broker, topics, logs_dir, env).start()
    workers.append(worker)
    series = 41
    live = list(np.random.default_rng(5).normal(10.0, 1.0, 40))
    await producer.send(topics.samples, [(series, b"k", _record(series, first_live, live[:1]))])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        learned = worker.metric('aidevops_worker_history_fetches_total{result="found"}')
        if worker.metric("aidevops_worker_samples_scored_total") >= 1 and (
            learned >= 1 or not with_history
        ):
            break
        await asyncio.sleep(0.3)
    await asyncio.sleep(1.0)  # the warm detector catches up and replaces the cold one
    later = [(series, b"k", _record(series, first_live + STEP_MS, live[1:]))]
    await producer.send(topics.samples, later)
    points: list[scores_pb2.ScoredPoint] = []
    while time.monotonic() < deadline and len(points) < 40:
        points = await _scores(broker, topics.scores, 2)
    assert len(points) == 40, worker.log_tail()
    warming = [bool(p.flags & WARMUP) for p in points[1:]]
    if with_history:
        assert not any(warming), worker.log_tail()  # 500 points of history: alert-grade
    else:
        assert all(warming)  # 40 points of its own: still warming up
