"""``aidevops worker`` processes on the real broker: semantics, restarts, rebalancing."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from aidevops.kafka.producer import BatchProducer
from aidevops.kafka.topics import ensure_topics
from aidevops.pb import alerts_pb2, samples_pb2, scores_pb2
from aidevops.staleness import STALE_NAN as STALE
from cli.local.broker import LocalBroker
from tests.integration.stream.conftest import PARTITIONS, Topics, WorkerProcess
from tests.support.kafka import committed, consume, consume_scores
from tests.support.scoring import scores_by_point, uninterrupted_scores
from tests.support.series import series_message

pytestmark = pytest.mark.integration

WARMUP, OUTAGE, RESET = 1, 2, 4


async def wait_until(
    check: Callable[[], object], what: str, workers: list[WorkerProcess], timeout: float = 90
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.5)
    logs = "\n".join(w.log_tail() for w in workers)
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


async def read_scores(
    broker: LocalBroker, topic: str, at_least: int
) -> list[scores_pb2.ScoreBatch]:
    return await consume_scores(broker.bootstrap_servers, topic, at_least, timeout=5, settle=0.3)


# snappy: the worker's outputs compressed (AIDEVOPS_OUTPUTS_COMPRESSION) read the same.
@pytest.mark.parametrize("compression", ["none", "snappy"])
async def test_samples_in_scores_out_with_prometheus_semantics(
    broker: LocalBroker,
    topics: Topics,
    workers: list[WorkerProcess],
    producer: BatchProducer,
    logs_dir: object,
    compression: str,
) -> None:
    env = {"AIDEVOPS_OUTPUTS_COMPRESSION": compression}
    worker = WorkerProcess(broker, topics, logs_dir, env).start()  # type: ignore[arg-type]
    workers.append(worker)
    gauge, counter, up = 11, 12, 13
    counter_values = [100.0 + 30 * i for i in range(8)] + [10.0, 40.0]
    records = [
        (gauge, gauge.to_bytes(8, "big"), series_message(gauge, "node_load1", [1.0, 2.0, 3.0], 0)),
        (gauge, gauge.to_bytes(8, "big"), series_message(gauge, "node_load1", [STALE], 3)),
        (
            counter,
            counter.to_bytes(8, "big"),
            series_message(
                counter, "http_requests_total", counter_values, 0, samples_pb2.METRIC_TYPE_COUNTER
            ),
        ),
        (up, up.to_bytes(8, "big"), series_message(up, "up", [1.0, 1.0, 0.0], 0)),
    ]
    await producer.send(topics.samples, records)

    batches: list[scores_pb2.ScoreBatch] = []

    def all_scored() -> bool:
        nonlocal batches
        batches = asyncio.run(read_scores(broker, topics.scores, 4))
        return len(batches) >= 4

    await wait_until(all_scored, "scores", workers)
    by_series: dict[int, list[scores_pb2.ScoreBatch]] = {}
    for batch in batches:
        by_series.setdefault(batch.series_id, []).append(batch)
    # The staleness marker ends the gauge and is not scored.
    assert [len(b.points) for b in by_series[gauge]] == [3, 0]
    assert by_series[gauge][1].stale
    # The counter is scored on its rate; the drop is a reset, not a negative rate.
    points = by_series[counter][0].points
    assert [p.feature for p in points[1:8]] == pytest.approx([2.0] * 7)
    assert points[8].flags & RESET and points[8].feature == pytest.approx(10 / 15)
    # up == 0 is an outage at once, and raises an alert.
    assert by_series[up][0].points[2].score == 1.0 and by_series[up][0].points[2].flags & OUTAGE
    alerts = await consume(broker.bootstrap_servers, topics.alerts, 1, timeout=20)
    event = alerts_pb2.AlertEvent.FromString(alerts[0].value)
    assert event.reason == alerts_pb2.ALERT_REASON_OUTAGE
    assert event.state == alerts_pb2.ALERT_STATE_FIRING
    # /metrics exports the scores with the series' own labels.
    text = worker.metrics()
    assert (
        'anomaly_score{instance="h1:9100",job="node",metric="http_requests_total",'
        'tenant="default"}' in text
    )
    assert 'metric="node_load1"' not in text  # removed when it went stale
    assert "aidevops_worker_samples_scored_total" in text


async def observed_until(
    broker: LocalBroker,
    topic: str,
    points: int,
    batches: int,
    what: str,
    workers: list[WorkerProcess],
) -> dict[tuple[int, int], float]:
    """Scores by (series, timestamp) once ``topic`` holds ``points`` of them (at least
    ``batches`` series batches read each time)."""
    observed: dict[tuple[int, int], float] = {}

    def complete() -> bool:
        nonlocal observed
        observed = scores_by_point(asyncio.run(read_scores(broker, topic, batches)))
        return len(observed) >= points

    await wait_until(complete, what, workers, timeout=120)
    return observed


async def test_restart_after_sigkill_keeps_detector_state(
    broker: LocalBroker,
    topics: Topics,
    workers: list[WorkerProcess],
    producer: BatchProducer,
    logs_dir: object,
) -> None:
    series = 21
    values = np.random.default_rng(5).normal(50.0, 5.0, 900)
    messages = [
        (series % PARTITIONS, series_message(series, "node_load1", values[i : i + 10], i))
        for i in range(0, 900, 10)
    ]
    first = WorkerProcess(broker, topics, logs_dir).start()  # type: ignore[arg-type]
    workers.append(first)
    await producer.send(topics.samples, [(series, b"k", m) for _, m in messages[:60]])
    await wait_until(
        lambda: first.metric("aidevops_worker_samples_scored_total") >= 600, "600 scored", workers
    )
    # Killed only once its position past the 60 records is committed: a successor that
    # replayed the partition from the start would score exactly as an uninterrupted run even
    # with no checkpoint at all, so the comparison below would not test the restore.
    await wait_until(
        lambda: (
            asyncio.run(
                committed(
                    broker.bootstrap_servers, topics.group, topics.samples, series % PARTITIONS
                )
            )
            >= 60
        ),
        "the first worker's position committed past the first 600 points",
        workers,
    )
    first.kill()
    second = WorkerProcess(broker, topics, logs_dir).start()  # type: ignore[arg-type]
    workers.append(second)
    await producer.send(topics.samples, [(series, b"k", m) for _, m in messages[60:]])
    observed = await observed_until(
        broker, topics.scores, 900, 90, "all 900 points scored", workers
    )
    expected = uninterrupted_scores(messages)
    # Tolerance: none. The restored detector is in the state of an uninterrupted run.
    assert observed == expected
    # ...and that state was past warm-up: the scores after the restart are the model's.
    after = [expected[key] for key in sorted(expected)][600:]
    assert len(after) == 300 and min(after) > 0 and len(set(after)) == 300


async def test_two_workers_split_partitions_and_scores_survive_the_rebalance(
    broker: LocalBroker,
    topics: Topics,
    workers: list[WorkerProcess],
    producer: BatchProducer,
    logs_dir: object,
) -> None:
    rng = np.random.default_rng(6)
    series_ids = list(range(100, 116))  # four per partition
    values = {s: rng.normal(10.0, 2.0, 400) for s in series_ids}
    chunks = [
        [(s, b"k", series_message(s, f"m{s}", values[s][i : i + 20], i)) for s in series_ids]
        for i in range(0, 400, 20)
    ]
    a = WorkerProcess(broker, topics, logs_dir).start()  # type: ignore[arg-type]
    workers.append(a)
    for chunk in chunks[:8]:
        await producer.send(topics.samples, chunk)
    await wait_until(
        lambda: a.metric("aidevops_worker_samples_scored_total") >= 8 * 20 * 16,
        "first worker scored",
        workers,
    )
    b = WorkerProcess(broker, topics, logs_dir).start()  # type: ignore[arg-type]
    workers.append(b)
    await wait_until(
        lambda: (
            b.metric("aidevops_worker_assigned_partitions") > 0
            and a.metric("aidevops_worker_assigned_partitions")
            + b.metric("aidevops_worker_assigned_partitions")
            == PARTITIONS
        ),
        "the partitions split between both workers",
        workers,
    )
    for chunk in chunks[8:]:
        await producer.send(topics.samples, chunk)
        await asyncio.sleep(0.2)
    observed = await observed_until(
        broker, topics.scores, 16 * 400, 320, "every point scored", workers
    )
    assert a.metric("aidevops_worker_samples_scored_total") > 0
    assert b.metric("aidevops_worker_samples_scored_total") > 0
    expected = uninterrupted_scores([(s % PARTITIONS, m) for chunk in chunks for s, _, m in chunk])
    assert observed == expected


async def test_metrics_ask_for_credentials_and_keep_tenants_apart(
    broker: LocalBroker,
    topics: Topics,
    workers: list[WorkerProcess],
    producer: BatchProducer,
    logs_dir: object,
) -> None:
    worker = WorkerProcess(
        broker,
        topics,
        logs_dir,
        {"AIDEVOPS_AUTH_BEARER_TOKEN": "operator"},  # type: ignore[arg-type]
    ).start()
    workers.append(worker)
    # The same labels under two tenants: two series ids (the receiver hashes the tenant in).
    records = [
        (sid, sid.to_bytes(8, "big"), series_message(sid, "node_load1", [1.0, 2.0], 0, tenant=t))
        for sid, t in ((21, "team-a"), (22, "team-b"))
    ]
    await producer.send(topics.samples, records)
    base = f"http://127.0.0.1:{worker.port}"

    def get(path: str, token: str | None = None) -> tuple[int, str]:
        request = urllib.request.Request(base + path)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            return 0, ""

    def both_exported() -> bool:
        status, body = get("/metrics", "operator")
        return status == 200 and body.count("anomaly_score{") == 2

    await wait_until(both_exported, "both tenants' series on /metrics", workers)
    _, body = get("/metrics", "operator")
    lines = [line for line in body.splitlines() if line.startswith("anomaly_score{")]
    assert {('tenant="team-a"' in line, 'tenant="team-b"' in line) for line in lines} == {
        (True, False),
        (False, True),
    }
    status, body = get("/metrics")
    assert status == 401 and "anomaly_score" not in body
    assert get("/metrics", "wrong")[0] == 401
    # Faust's debug pages are not served.
    for path in ("/router/", "/table/", "/graph/"):
        assert get(path, "operator")[0] == 404, path


async def test_a_new_cluster_restores_detectors_from_snapshots(
    broker: LocalBroker,
    topics: Topics,
    workers: list[WorkerProcess],
    producer: BatchProducer,
    logs_dir: Path,
    tmp_path: Path,
) -> None:
    """Checkpoint topic gone (a new cluster, a restarted local stack): no series warms up again."""
    series = 31
    values = np.random.default_rng(8).normal(20.0, 2.0, 700)
    messages = [
        (series % PARTITIONS, series_message(series, "node_load1", values[i : i + 10], i))
        for i in range(0, 700, 10)
    ]
    snapshots = {"AIDEVOPS_SNAPSHOT_URL": f"file://{tmp_path}/snapshots"}
    first = WorkerProcess(broker, topics, logs_dir, snapshots).start()
    workers.append(first)
    await producer.send(topics.samples, [(series, b"k", m) for _, m in messages[:50]])
    await wait_until(
        lambda: first.metric("aidevops_worker_samples_scored_total") >= 500, "500 scored", workers
    )
    first.stop()  # SIGTERM: a last checkpoint and snapshot
    assert first.proc is not None and first.proc.returncode == 0, first.log_tail()
    assert (tmp_path / "snapshots" / f"partition-{series % PARTITIONS}.snapshot").exists()

    fresh = Topics(*(f"{name}-fresh" for name in vars(topics).values()))
    await ensure_topics(
        broker.bootstrap_servers,
        {t: PARTITIONS for t in (fresh.samples, fresh.scores, fresh.alerts, fresh.checkpoints)},
    )
    second = WorkerProcess(broker, fresh, logs_dir, snapshots).start()
    workers.append(second)
    await producer.send(fresh.samples, [(series, b"k", m) for _, m in messages[50:]])
    observed = await observed_until(
        broker, fresh.scores, 200, 20, "the last 200 points scored", workers
    )
    expected = uninterrupted_scores(messages)
    # Exactly what an uninterrupted run scores: the detector was not reset to warm-up.
    assert observed == {key: expected[key] for key in observed}
    flags = [
        point.flags
        for batch in await read_scores(broker, fresh.scores, 20)
        for point in batch.points
    ]
    assert not any(flag & WARMUP for flag in flags)
