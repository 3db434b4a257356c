from __future__ import annotations

import random
import time
from typing import Any

import pytest

from aidevops.pb import alerts_pb2
from stream.storage.buckets import ITEM_BUDGET_BYTES, item_size, points_per_chunk
from stream.storage.codec import ScorePoint
from stream.storage.scores import BucketUpdate, SeriesKey
from stream.storage.store import Storage
from stream.storage.tables import create_tables, table_names

pytestmark = pytest.mark.integration
HOUR = 3_600_000
T0 = (int(time.time() * 1000) // HOUR - 6) * HOUR  # recent: older items would expire (TTL)


def scan(storage: Storage) -> list[dict[str, Any]]:
    client = storage.gateway.client
    out = client.scan(TableName=storage.scores.table, ConsistentRead=True)["Items"]  # type: ignore[attr-defined]
    return sorted(out, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def points(n: int, start: int = T0, seed: int = 1) -> list[ScorePoint]:
    rng = random.Random(seed)
    return [
        ScorePoint(start + 15_000 * i, round(rng.uniform(0, 100), 2), rng.randrange(1001) / 1000, 0)
        for i in range(n)
    ]


def test_create_tables_is_idempotent(storage: Storage) -> None:
    prefix = storage.settings.dynamodb_table_prefix
    assert create_tables(storage.gateway.client, prefix) == []
    assert set(table_names(prefix)) <= set(storage.gateway.client.list_tables()["TableNames"])  # type: ignore[attr-defined]


def test_scores_round_trip_across_buckets(storage: Storage) -> None:
    series = SeriesKey("default", 0xABCDEF0123456789)
    pts = points(600)  # 2.5 hours: three buckets
    by_bucket: dict[int, list[ScorePoint]] = {}
    for p in pts:
        by_bucket.setdefault(p.timestamp - p.timestamp % HOUR, []).append(p)
    storage.scores.merge(
        [BucketUpdate(series, {"job": "node"}, b, ps) for b, ps in by_bucket.items()]
    )
    assert storage.read_scores(series.series_id, T0, T0 + 3 * HOUR) == pts
    assert storage.read_scores(series.series_id, T0 + HOUR, T0 + HOUR + 60_000) == pts[240:244]
    assert storage.scores.labels(series) == {"job": "node"}
    items = scan(storage)
    assert [i["sk"]["S"][-5:] for i in items] == ["00000"] * 3
    assert float(items[0]["max_score"]["N"]) == max(p.score for p in pts[:240])


def test_replay_and_partial_writes_give_identical_items(storage: Storage) -> None:
    series = SeriesKey("default", 7)
    pts = points(240)
    storage.scores.merge([BucketUpdate(series, {"a": "b"}, T0, pts[:100])])  # early flush
    storage.scores.merge([BucketUpdate(series, {"a": "b"}, T0, pts[100:])])  # the rest
    first = scan(storage)
    written = storage.gateway.meter.items_written
    storage.scores.merge([BucketUpdate(series, {"a": "b"}, T0, pts[50:])])  # replay
    assert scan(storage) == first
    assert storage.gateway.meter.items_written == written  # identical: not rewritten
    assert storage.read_scores(7, T0, T0 + HOUR) == pts


def test_bucket_at_its_maximum_stays_under_400kb(storage: Storage) -> None:
    rng = random.Random(9)
    labels = {f"l{i:02d}": "x" * 2000 for i in range(60)}
    n = 2 * points_per_chunk(labels)
    worst = [
        ScorePoint(T0 + i, rng.uniform(-1e15, 1e15) / 3, rng.random(), rng.randrange(8))
        for i in range(n)
    ]
    series = SeriesKey("default", 99)
    storage.scores.merge([BucketUpdate(series, labels, T0, worst)])
    items = scan(storage)
    assert len(items) == 2
    sizes = [item_size(i) for i in items]
    assert max(sizes) <= ITEM_BUDGET_BYTES < 400 * 1024
    assert min(sizes) > 150_000  # truly full chunks, not a trivial case
    assert storage.read_scores(99, T0, T0 + HOUR) == worst


def test_alerts_by_episode_series_and_time(storage: Storage) -> None:
    def event(state: int, at: int) -> alerts_pb2.AlertEvent:
        e = alerts_pb2.AlertEvent(
            schema_version=1,
            tenant="default",
            series_id=5,
            dedup_key=f"5:{T0}",
            state=state,
            reason=1,
            started_at=T0,
            event_at=at,
            score=0.99,
            peak_score=0.995,
            value=3.0,
            baseline_low=float("nan"),
            baseline_high=2.0,
            group_key="g",
        )
        e.labels.add(name="job", value="api")
        return e

    storage.alerts.put([event(1, T0), event(2, T0 + 60_000)])
    storage.alerts.put([event(1, T0)])  # replay
    recent = storage.recent_alerts(5)
    assert [a.state for a in recent] == ["RESOLVED", "FIRING"]
    assert recent[0].labels == {"job": "api"}
    assert recent[1].to_json()["baseline_low"] is None
    assert len(storage.alerts.episode("default", f"5:{T0}")) == 2
    assert [a.state for a in storage.alerts.between("default", T0, T0 + 1)] == ["FIRING"]


async def test_alert_configs_routing(storage: Storage) -> None:
    configs = storage.configs
    a = configs.add("acme", 111, {"job": "node"})
    b = configs.add("acme", "222", '{job=~"api.*", env!="dev"}')
    configs.add("other", 333)
    assert configs.add("acme", 111, {"job": "node"}).route_id == a.route_id  # idempotent
    assert {r.route_id for r in configs.list("acme")} == {a.route_id, b.route_id}
    found = await configs.recipients_for("acme", {"job": "api-gw", "env": "prod"})
    assert [(r.channel, r.chat_id, r.tenant) for r in found] == [("telegram", "222", "acme")]
    assert await configs.recipients_for("acme", {"job": "web"}) == []
    assert configs.remove("acme", b.route_id)
    assert not configs.remove("acme", b.route_id)
    assert await configs.recipients_for("acme", {"job": "api-gw"}) == []


def test_reads_do_not_depend_on_the_readers_bucket_length(storage: Storage) -> None:
    """A sink with 1 h buckets and a reader configured for 6 h (or 10 min) agree."""
    from stream.storage.scores import DynamoScoreStore

    series = SeriesKey("t", 0xB0C)
    pts = points(3 * 240, start=T0 - 3 * HOUR)  # three hours at 15 s
    writer = storage.scores
    assert writer.bucket_ms == HOUR
    by_bucket: dict[int, list[ScorePoint]] = {}
    for p in pts:
        by_bucket.setdefault(p.timestamp - p.timestamp % HOUR, []).append(p)
    writer.merge([BucketUpdate(series, {"job": "x"}, b, ps) for b, ps in by_bucket.items()])
    for bucket_ms in (6 * HOUR, 10 * 60_000, HOUR):
        reader = DynamoScoreStore(
            storage.gateway, writer.table, bucket_ms=bucket_ms, retention_days=30
        )
        since, until = T0 - 150 * 60_000, T0 - 20 * 60_000
        expected = [p for p in pts if since <= p.timestamp < until]
        assert reader.read(series, since, until) == expected, bucket_ms
        assert reader.read(series, T0 - 3 * HOUR, T0) == pts
