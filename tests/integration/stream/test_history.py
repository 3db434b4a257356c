"""Warm-up from Prometheus history: a real Prometheus holding a series' past, a real worker.

The history is written as TSDB blocks with ``promtool tsdb create-blocks-from openmetrics``
(what an operator's Prometheus would already hold), then a worker meets the series for the
first time with ``AIDEVOPS_PROMETHEUS_URL`` set: its first live points are alert-grade
instead of warming up for 256 points. With four weeks of it, the daily rhythm is known too.
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
RHYTHM = 8
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


def _prometheus_holding(tmp_path: Path, stamps: np.ndarray, values: np.ndarray) -> LocalPrometheus:
    """A started Prometheus whose TSDB holds node_load1 at these points (ms), as blocks
    written by ``promtool tsdb create-blocks-from openmetrics``."""
    lines = ["# TYPE node_load1 gauge"]
    lines += [
        f'node_load1{{instance="h1:9100",job="node"}} {v:.4f} {t / 1000:.3f}'
        for t, v in zip(stamps, values, strict=True)
    ]
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
    return LocalPrometheus(
        "global: {scrape_interval: 15s}\n",
        tmp_path / "prometheus",
        extra_args=("--storage.tsdb.retention.time=10y",),
    ).start()


@pytest.fixture
def prometheus_with_history(tmp_path: Path) -> Iterator[tuple[LocalPrometheus, int]]:
    """A Prometheus whose TSDB holds 500 points of the series, ending a minute ago."""
    now_ms = int(time.time() * 1000) // STEP_MS * STEP_MS
    first_live = now_ms - 60_000
    stamps = first_live - STEP_MS * np.arange(500, 0, -1)
    prometheus = _prometheus_holding(
        tmp_path, stamps, np.random.default_rng(4).normal(10.0, 1.0, 500)
    )
    yield prometheus, first_live
    prometheus.stop()


async def _scores(broker: LocalBroker, topic: str, at_least: int) -> list[scores_pb2.ScoredPoint]:
    batches = await consume_scores(broker.bootstrap_servers, topic, at_least, timeout=5, settle=0.3)
    return [point for batch in batches for point in batch.points]


async def _live(
    worker: WorkerProcess,
    broker: LocalBroker,
    topics: Topics,
    producer: BatchProducer,
    series: int,
    first_live: int,
    live: list[float],
    with_history: bool,
) -> list[scores_pb2.ScoredPoint]:
    """Sends the first live sample, waits until the worker has learnt the series' history
    (or scored that sample, ``with_history`` False), sends the rest: their scored points."""
    await producer.send(topics.samples, [(series, b"k", _record(series, first_live, live[:1]))])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if with_history:
            found = worker.metric('aidevops_worker_history_fetches_total{result="found"}')
            done = found >= 1 and worker.metric("aidevops_worker_history_learning_series") == 0
        else:
            done = worker.metric("aidevops_worker_samples_scored_total") >= 1
        if done:
            break
        await asyncio.sleep(0.3)
    later = [(series, b"k", _record(series, first_live + STEP_MS, live[1:]))]
    await producer.send(topics.samples, later)
    points: list[scores_pb2.ScoredPoint] = []
    while time.monotonic() < deadline and len(points) < len(live):
        points = await _scores(broker, topics.scores, 2)
    assert len(points) == len(live), worker.log_tail()
    return points


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
    points = await _live(worker, broker, topics, producer, series, first_live, live, with_history)
    warming = [bool(p.flags & WARMUP) for p in points[1:]]
    if with_history:
        assert not any(warming), worker.log_tail()  # 500 points of history: alert-grade
    else:
        assert all(warming)  # 40 points of its own: still warming up


DAY_MS = 86_400_000
BIN_MS = 300_000


def _rise_at(first_live: int) -> int:
    """The daily rise: at the first five-minute boundary 5 minutes or more after the first
    live sample (a rise inside a profile's bin is another matter, see the README)."""
    return -(-(first_live + BIN_MS) // BIN_MS) * BIN_MS


@pytest.fixture
def prometheus_with_weeks(tmp_path: Path) -> Iterator[tuple[LocalPrometheus, int]]:
    """A Prometheus holding four weeks at 5 min and 6 hours at 15 s of a series that rises
    from 100 to 150 for an hour every day, 5 to 10 minutes after its first live sample's
    time of day (a rise the recent 6 hours do not show)."""
    now_ms = int(time.time() * 1000) // STEP_MS * STEP_MS
    first_live = now_ms - 60_000
    recent = np.arange(first_live - 6 * 3_600_000, first_live, STEP_MS)
    weeks = np.arange(recent[0] - 28 * DAY_MS, recent[0], 300_000)
    stamps = np.concatenate([weeks, recent])
    values = _rising(stamps, first_live, np.random.default_rng(6))
    prometheus = _prometheus_holding(tmp_path, stamps, values)
    yield prometheus, first_live
    prometheus.stop()


def _rising(stamps: np.ndarray, first_live: int, rng: np.random.Generator) -> np.ndarray:
    since_rise = (stamps - _rise_at(first_live)) % DAY_MS
    return 100.0 + 50.0 * (since_rise < 3_600_000) + rng.normal(0.0, 3.0, len(stamps))


@pytest.mark.parametrize("weeks", [True, False])
async def test_weeks_of_history_teach_a_new_series_its_daily_rhythm(
    broker: LocalBroker,
    topics: Topics,
    workers: list[WorkerProcess],
    producer: BatchProducer,
    logs_dir: Path,
    prometheus_with_weeks: tuple[LocalPrometheus, int],
    weeks: bool,
) -> None:
    """The daily rise comes 5 to 10 minutes into the live samples: learnt from the weeks,
    it is the series' rhythm; from the recent 6 hours alone, it is an anomaly."""
    prometheus, first_live = prometheus_with_weeks
    env = {"AIDEVOPS_PROMETHEUS_URL": prometheus.url}
    if not weeks:
        env["AIDEVOPS_HISTORY_RHYTHM_SECONDS"] = "0"
    worker = WorkerProcess(broker, topics, logs_dir, env).start()
    workers.append(worker)
    series = 43
    stamps = first_live + STEP_MS * np.arange(60)  # 15 minutes: the rise and 10 minutes of it
    live = list(_rising(stamps, first_live, np.random.default_rng(7)))
    points = await _live(worker, broker, topics, producer, series, first_live, live, True)
    assert not any(p.flags & WARMUP for p in points[1:]), worker.log_tail()
    rise = [p.score for p in points if p.timestamp >= _rise_at(first_live)]
    assert len(rise) >= 20
    if weeks:
        assert max(p.score for p in points) < 0.4, rise  # the rhythm: expected
        assert all(p.flags & RHYTHM for p in points[1:])
    else:
        assert max(rise) >= 0.4, rise  # 6 hours at 100: a rise of 16 sd
