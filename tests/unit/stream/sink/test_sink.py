from __future__ import annotations

from aidevops.pb import alerts_pb2, scores_pb2
from stream.sink.settings import SinkSettings
from stream.sink.sink import StorageSink
from stream.storage.scores import SeriesKey
from tests.unit.stream.storage.fakes import TP, FakeAlertStore, FakeConsumer, FakeScoreStore

HOUR = 3_600_000
SCORES = TP("scores", 0)
ALERTS = TP("alerts", 0)


def batch(series_id: int, start: int, n: int, step: int = 60_000, stale: bool = False) -> bytes:
    b = scores_pb2.ScoreBatch(schema_version=1, tenant="t", series_id=series_id, stale=stale)
    b.labels.add(name="__name__", value="up")
    for i in range(n):
        b.points.add(timestamp=start + i * step, value=float(i), score=i / 100, flags=0)
    return b.SerializeToString()


def make(
    consumer: FakeConsumer, store: FakeScoreStore, alerts: FakeAlertStore, **settings: object
) -> StorageSink:
    clock = [0.0]
    config = SinkSettings(
        **{  # type: ignore[arg-type]
            "scores_bucket_seconds": HOUR // 1000,
            "sink_close_grace_seconds": 0,
            "sink_commit_interval_seconds": 0,
            **settings,
        }
    )
    return StorageSink(consumer, store, alerts, config, clock=lambda: clock[0])  # type: ignore[arg-type]


async def test_bucket_is_written_once_when_closed_and_offsets_wait_for_it() -> None:
    consumer, store, alerts = FakeConsumer(), FakeScoreStore(), FakeAlertStore()
    sink = make(consumer, store, alerts)
    consumer.feed(SCORES, [batch(1, 0, 30), batch(1, 30 * 60_000, 20)])  # offsets 0, 1
    await sink.step()
    assert store.writes == 0
    assert consumer.committed.get(SCORES, 0) == 0  # nothing durable yet
    consumer.feed(SCORES, [batch(1, HOUR, 5)])  # offset 2 closes bucket 0
    await sink.step()
    assert store.writes == 1
    assert len(store.read(SeriesKey("t", 1), 0, HOUR)) == 50
    assert consumer.committed[SCORES] == 2  # the open bucket's first record
    assert await sink.close()
    assert consumer.committed[SCORES] == 3
    assert len(store.read(SeriesKey("t", 1), 0, 2 * HOUR)) == 55


async def test_a_scores_schema_2_record_feeds_each_of_its_series() -> None:
    consumer, store, alerts = FakeConsumer(), FakeScoreStore(), FakeAlertStore()
    sink = make(consumer, store, alerts)
    record = scores_pb2.ScoresBatch(
        schema_version=2,
        series=[scores_pb2.ScoreBatch.FromString(batch(s, 0, 30)) for s in (1, 2)],
    )
    consumer.feed(SCORES, [record.SerializeToString(), batch(3, 0, 10)])  # offsets 0, 1
    await sink.step()
    assert sink.stats.records == 2 and sink.stats.points == 70
    assert consumer.committed.get(SCORES, 0) == 0  # the record's buckets are still open
    assert await sink.close()
    assert [len(store.read(SeriesKey("t", s), 0, HOUR)) for s in (1, 2, 3)] == [30, 30, 10]
    assert consumer.committed[SCORES] == 2


async def test_outage_pauses_then_catches_up_without_loss() -> None:
    consumer, store, alerts = FakeConsumer(), FakeScoreStore(), FakeAlertStore()
    sink = make(consumer, store, alerts, sink_retry_max_seconds=0.01)
    store.down = alerts.down = True
    ev = alerts_pb2.AlertEvent(tenant="t", series_id=1, dedup_key="k", state=1, event_at=5)
    consumer.feed(ALERTS, [ev.SerializeToString()])
    consumer.feed(SCORES, [batch(1, 0, 60), batch(1, HOUR, 60, stale=True)])
    await sink.step()
    assert consumer.paused == {SCORES, ALERTS}
    assert consumer.committed == {}
    store.down = alerts.down = False
    sink._retry_at = 0.0  # the back-off elapsed
    await sink.step()
    assert consumer.paused == set()
    assert len(store.read(SeriesKey("t", 1), 0, 2 * HOUR)) == 120
    assert ("k", 1) in alerts.items
    assert consumer.committed == {SCORES: 2, ALERTS: 1}


async def test_crash_before_commit_replays_to_the_same_result() -> None:
    feed = [batch(1, 0, 60), batch(2, 0, 60), batch(1, HOUR, 10)]
    # The uninterrupted run, for reference.
    ref_consumer, ref_store, ref_alerts = FakeConsumer(), FakeScoreStore(), FakeAlertStore()
    ref = make(ref_consumer, ref_store, ref_alerts)
    ref_consumer.feed(SCORES, feed)
    await ref.step()
    assert await ref.close()

    consumer, store, alerts = FakeConsumer(), FakeScoreStore(), FakeAlertStore()
    sink = make(consumer, store, alerts, sink_commit_interval_seconds=3600)
    consumer.feed(SCORES, feed)
    await sink.step()  # bucket 0 of both series written; series 1's bucket 1 buffered
    # The crash comes after the writes, before their commit: the replay writes them again.
    assert len(store.log) == 2 and consumer.committed == {}
    consumer.rewind()  # crash: a new sink starts from the committed offsets
    sink2 = make(consumer, store, alerts)
    await sink2.step()
    assert await sink2.close()
    assert store.points == ref_store.points
    # A bucket written again by the replay is written with exactly the same points.
    first: dict[tuple[SeriesKey, int], object] = {}
    for update in store.log:
        key = (update.series, update.bucket_start)
        assert first.setdefault(key, list(update.points)) == list(update.points)
    assert len(store.log) == len(first) + 2  # both buckets 0 were written twice
    assert len(store.points[SeriesKey("t", 2)]) == 60
    assert len(store.points[SeriesKey("t", 1)]) == 70


async def test_memory_bound_flushes_early() -> None:
    consumer, store, alerts = FakeConsumer(), FakeScoreStore(), FakeAlertStore()
    sink = make(consumer, store, alerts, sink_max_buffered_points=1000)
    consumer.feed(SCORES, [batch(s, 0, 50, step=1000) for s in range(40)])
    await sink.step()
    assert sink.buffered_points <= 1000
    assert sink.stats.early_flushes > 0


async def test_series_are_forgotten_once_their_buckets_are_written() -> None:
    # Series of replaced pods end without staleness markers as often as with them; a sink
    # that tracked every series it ever met would grow for ever.
    consumer, store, alerts = FakeConsumer(), FakeScoreStore(), FakeAlertStore()
    sink = make(consumer, store, alerts)
    consumer.feed(SCORES, [batch(s, 0, 30) for s in range(1, 41)])
    consumer.feed(SCORES, [batch(s, HOUR, 5) for s in range(1, 41)])  # closes bucket 0
    await sink.step()
    assert store.writes > 0 and sink.tracked_series == 40
    consumer.feed(SCORES, [batch(99, 3 * HOUR, 1)])  # the watermark passes bucket 1's end
    await sink.step()
    assert all(len(store.read(SeriesKey("t", s), 0, 2 * HOUR)) == 35 for s in range(1, 41))
    assert sink.tracked_series == 1  # series 99, whose bucket is still open
