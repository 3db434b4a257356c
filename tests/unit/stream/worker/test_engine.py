"""The scoring engine with the real detectors and the real alert policy at their defaults."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from aidevops.pb import alerts_pb2, samples_pb2, scores_pb2
from aidevops.staleness import STALE_NAN as STALE
from stream.alerting.policy import AlertPolicy, PolicyConfig
from stream.detection import MetricKind
from stream.detection.bank import DetectorBank
from stream.worker.engine import METADATA_WAIT_MS, EngineOutput, ScoringEngine
from tests.support.series import STEP, T0, series_message
from tests.support.workload import mixed_rounds

WARMUP, OUTAGE, RESET = 1, 2, 4


def message(
    values: Sequence[float],
    start: int = 0,
    name: str = "node_load1",
    series_id: int = 7,
    metric_type: int = samples_pb2.METRIC_TYPE_GAUGE,
    instance: str = "h1:9100",
) -> bytes:
    return series_message(series_id, name, values, start, metric_type, instance, tenant="t")


def engine(**kwargs: object) -> ScoringEngine:
    return ScoringEngine(AlertPolicy(PolicyConfig()), clock=lambda: 1000.0, **kwargs)  # type: ignore[arg-type]


def feed(
    eng: ScoringEngine, values: Sequence[float], **kwargs: object
) -> tuple[list[scores_pb2.ScoredPoint], list[alerts_pb2.AlertEvent]]:
    points: list[scores_pb2.ScoredPoint] = []
    events: list[alerts_pb2.AlertEvent] = []
    for i, value in enumerate(values):
        out = eng.process([(0, message([value], start=i, **kwargs))])  # type: ignore[arg-type]
        for _, _, raw in out.scores:
            points.extend(scores_pb2.ScoreBatch.FromString(raw).points)
        events.extend(alerts_pb2.AlertEvent.FromString(raw) for _, _, raw in out.alerts)
    return points, events


def test_stationary_noise_raises_no_alert_at_the_defaults() -> None:
    values = np.random.default_rng(1).normal(10.0, 1.0, 6000)
    points, events = feed(engine(), values)
    assert events == []
    scores = np.array([p.score for p in points if not p.flags & WARMUP])
    assert len(scores) > 5000
    assert np.median(scores) > 0.01  # the model's scores (about 0.027), not zeros
    assert np.quantile(scores, 0.99) < PolicyConfig().fire_threshold


def test_a_step_change_fires_once_and_resolves_once_at_the_defaults() -> None:
    rng = np.random.default_rng(2)
    values = np.concatenate(
        [rng.normal(10, 1, 3000), rng.normal(20, 1, 300), rng.normal(10, 1, 1000)]
    )
    _, events = feed(engine(), values)
    states = [alerts_pb2.AlertState.Name(e.state) for e in events]
    assert states == ["ALERT_STATE_FIRING", "ALERT_STATE_RESOLVED"]
    firing = events[0]
    assert 3000 <= (firing.event_at - T0) // STEP <= 3005
    assert firing.reason == alerts_pb2.ALERT_REASON_ANOMALY
    assert firing.baseline_low < 10 < firing.baseline_high
    assert firing.group_key and firing.dedup_key.startswith(f"{7:016x}:")


def test_counter_is_scored_on_its_rate_and_resets_are_flagged() -> None:
    values = [100.0 + 30.0 * i for i in range(10)] + [15.0, 45.0]
    points, _ = feed(
        engine(), values, name="http_requests_total", metric_type=samples_pb2.METRIC_TYPE_COUNTER
    )
    rates = [p.feature for p in points[1:]]
    assert rates[:9] == pytest.approx([2.0] * 9)  # 30 per 15 s
    assert points[10].flags & RESET and points[10].feature == pytest.approx(1.0)
    assert points[11].feature == pytest.approx(2.0) and not points[11].flags & RESET


def test_staleness_marker_ends_the_series_and_is_never_scored() -> None:
    eng = engine()
    feed(eng, [1.0, 2.0, 3.0])
    out = eng.process([(0, message([STALE], start=3))])
    [(_, _, raw)] = out.scores
    batch = scores_pb2.ScoreBatch.FromString(raw)
    assert batch.stale and list(batch.points) == []


def test_up_zero_is_an_outage_at_once() -> None:
    points, events = feed(engine(), [1.0, 1.0, 0.0], name="up")
    assert points[2].score == 1.0 and points[2].flags & OUTAGE
    assert [alerts_pb2.AlertReason.Name(e.reason) for e in events] == ["ALERT_REASON_OUTAGE"]


def test_replayed_samples_are_ignored() -> None:
    eng = engine()
    first = eng.process([(0, message([1.0, 2.0]))])
    again = eng.process([(0, message([1.0, 2.0]))])
    assert first.scores and not again.scores and not again.alerts


def test_checkpoint_restore_gives_identical_scores_and_alerts() -> None:
    values = np.random.default_rng(3).normal(5.0, 2.0, 900)
    values[570:680] += 12.0  # an anomaly fires before the checkpoint and resolves after it
    uninterrupted = engine()
    crashed = engine()
    for i in range(600):
        uninterrupted.process([(0, message([values[i]], start=i))])
        crashed.process([(0, message([values[i]], start=i))])
    [(partition, key, checkpoint)] = crashed.collect_dirty()
    restarted = engine()
    restarted.restore(partition, int.from_bytes(key, "big"), checkpoint)
    alerts: list[alerts_pb2.AlertEvent] = []
    for i in range(600, 900):
        a = uninterrupted.process([(0, message([values[i]], start=i))])
        b = restarted.process([(0, message([values[i]], start=i))])
        assert (a.scores, a.alerts) == (b.scores, b.alerts)
        alerts.extend(alerts_pb2.AlertEvent.FromString(raw) for _, _, raw in b.alerts)
    # The open episode came through the checkpoint: its resolve, and nothing fired again.
    assert [e.state for e in alerts] == [alerts_pb2.ALERT_STATE_RESOLVED]


def test_live_series_are_bounded_and_retired_ones_come_back_warm() -> None:
    eng = engine(max_live_series=2)
    never_retired = engine()
    values = np.random.default_rng(4).normal(5.0, 1.0, 700)
    for i, v in enumerate(values[:500]):
        eng.process([(0, message([v], start=i, series_id=1))])
        never_retired.process([(0, message([v], start=i, series_id=1))])
    eng.process([(0, message([1.0], series_id=2))])
    eng.process([(0, message([1.0], series_id=3))])  # evicts series 1, the least recent
    assert eng.live_series == 2 and eng.dormant_series == 1
    [(_, key, _)] = eng.take_retired()
    assert int.from_bytes(key, "big") == 1
    # Back from its checkpoint: exactly the scores of the series had it never been retired.
    points: list[scores_pb2.ScoredPoint] = []
    for i in range(500, 700):
        out = eng.process([(0, message([values[i]], start=i, series_id=1))])
        assert (
            out.scores
            == never_retired.process([(0, message([values[i]], start=i, series_id=1))]).scores
        )
        points.extend(scores_pb2.ScoreBatch.FromString(out.scores[0][2]).points)
    assert not any(p.flags & WARMUP for p in points)  # restored, not starting over
    assert min(p.score for p in points) > 0 and len({p.score for p in points}) == 200


def test_idle_series_are_retired_and_old_dormant_ones_forgotten() -> None:
    now = [1000.0]
    eng = ScoringEngine(AlertPolicy(PolicyConfig()), idle_seconds=60, clock=lambda: now[0])
    eng.process([(3, message([1.0]))])
    now[0] += 61
    [(partition, _, _)] = eng.retire_idle()
    assert partition == 3 and eng.live_series == 0 and eng.dormant_series == 1
    [(_, _, tombstone)] = eng.forget_dormant(older_than=now[0])
    assert tombstone == b"" and eng.dormant_series == 0


def test_dropped_partitions_forget_their_series() -> None:
    eng = engine()
    eng.process([(0, message([1.0], series_id=1)), (1, message([1.0], series_id=2))])
    assert eng.drop_partitions([1]) == [2] and eng.live_series == 1


def test_malformed_messages_are_counted_and_skipped() -> None:
    out = engine().process([(0, b"\xff\xff\xff"), (0, message([1.0]))])
    assert out.malformed == 1 and len(out.scores) == 1


def test_native_histograms_are_scored_on_rate_and_mean() -> None:
    eng = engine()
    batch = samples_pb2.SeriesBatch(series_id=9, tenant="t")
    batch.labels.add(name="__name__", value="rpc_duration_seconds")
    count = total = 0.0
    for i in range(5):
        count += 10
        total += 10 * 0.2
        batch.histograms.add(count_int=int(count), sum=total, timestamp=T0 + i * STEP)
    out = eng.process([(0, batch.SerializeToString())])
    points = scores_pb2.ScoreBatch.FromString(out.scores[0][2]).points
    assert [p.feature for p in points[1:]] == pytest.approx([0.2] * 4)  # mean observation


@pytest.mark.parametrize("name", ["scrape_samples_scraped", "scrape_target_gauge"])
def test_a_failed_scrapes_zero_sample_count_is_a_gap(name: str) -> None:
    # A target down for 40 scrapes: Prometheus writes up 0 and scrape_samples_scraped 0;
    # `up` reports the outage, the sample count must not report it again. The same drop on
    # another gauge is an anomaly (the control: the test can fail).
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.normal(500, 5, 700), np.zeros(40), rng.normal(500, 5, 100)])
    points, events = feed(engine(), values, name=name)
    firing = [e for e in events if e.state == alerts_pb2.ALERT_STATE_FIRING]
    if name == "scrape_samples_scraped":
        assert firing == [] and len(points) == 800 and min(p.value for p in points) > 0
        assert max(p.score for p in points[700:]) < PolicyConfig().fire_threshold
    else:
        assert len(firing) == 1 and len(points) == 840


def test_the_platforms_own_scores_are_not_scored_again() -> None:
    eng = engine()
    out = eng.process([(0, message([0.5], name="anomaly_score")), (0, message([1.0], series_id=8))])
    assert len(out.scores) == 1 and eng.live_series == 1


def test_series_left_unscored_are_remembered_within_a_bound() -> None:
    # The platform's own series of churning pods come and go for ever: the decisions not to
    # score them are kept up to skipped_limit, then made again; none of them is scored.
    eng = engine()
    eng.skipped_limit = 10
    for series_id in range(100, 135):
        out = eng.process([(0, message([0.5], name="anomaly_score", series_id=series_id))])
        assert out.scores == [] and out.samples == 0
        assert len(eng._skipped) <= 10
    assert len(eng._skipped) == 5  # 35 decisions: forgotten at 10, 20 and 30
    assert eng.live_series == 0


def test_a_schema_2_record_scores_like_one_record_per_series() -> None:
    rng = np.random.default_rng(3)
    series = {sid: rng.normal(5.0, 1.0, 40) for sid in (31, 32, 33)}
    by_series, batched = engine(), engine()
    expected: list[bytes] = []
    got: list[bytes] = []
    for start in range(0, 40, 4):
        singles = [
            (0, message(list(v[start : start + 4]), start, series_id=sid))
            for sid, v in series.items()
        ]
        expected += [raw for _, _, raw in by_series.process(singles).scores]
        record = samples_pb2.SamplesBatch(schema_version=2)
        for _, raw in singles:
            record.series.append(samples_pb2.SeriesBatch.FromString(raw))
        got += [raw for _, _, raw in batched.process([(0, record.SerializeToString())]).scores]
    assert got == expected
    assert len(got) == 30


def test_a_record_that_does_not_decode_is_counted_and_skipped() -> None:
    eng = engine()
    out = eng.process([(0, b"\xff\xff\xff"), (0, message([1.0, 2.0]))])
    assert out.malformed == 1
    assert out.samples == 2


def test_history_warms_a_new_series_as_if_it_had_been_scored_all_along() -> None:
    """The detector learns the history, then the live samples it met meanwhile, in order."""
    rng = np.random.default_rng(9)
    values = rng.normal(30.0, 3.0, 700)
    history, live = values[:450], values[450:]
    # Reference: one engine that saw everything live, from the first point.
    reference = engine()
    for start in range(0, 700, 10):
        reference.process([(0, message(list(values[start : start + 10]), start))])
    expected = {
        p.timestamp: (p.score, p.flags)
        for _, _, raw in reference.process([(0, message([31.0], 700))]).scores
        for p in scores_pb2.ScoreBatch.FromString(raw).points
    }

    warmed = engine(history_tenants=frozenset({"t"}))
    warmed.process([(0, message(list(live[:10]), 450))])  # first live samples, cold
    [(series_id, labels, first, kind)] = warmed.take_offered()
    assert (series_id, labels["__name__"], first) == (7, "node_load1", T0 + 450 * STEP)
    assert kind == MetricKind.GAUGE  # the worker asks for the weeks as bin means
    warmed.process([(0, message(list(live[10:30]), 460))])  # more arrive before the history
    warmed.begin_bootstrap(
        series_id, [T0 + i * STEP for i in range(450)], [float(v) for v in history]
    )
    while warmed.bootstrap_step(100):
        pass
    assert warmed.bootstrapping == 0
    for start in range(480, 700, 10):
        warmed.process([(0, message(list(values[start : start + 10]), start))])
    got = {
        p.timestamp: (p.score, p.flags)
        for _, _, raw in warmed.process([(0, message([31.0], 700))]).scores
        for p in scores_pb2.ScoreBatch.FromString(raw).points
    }
    assert got == expected
    assert not next(iter(got.values()))[1] & WARMUP


@pytest.mark.parametrize("max_points", [7, 100_000])
def test_a_long_coarse_history_teaches_the_rhythms_alone_then_the_recent_one_everything(
    max_points: int,
) -> None:
    """400 points at 5 min go to the profiles only, then 300 at the live step and the live
    samples go through the whole detector: the same state as a bank fed that way, whether a
    step of the bootstrap falls across the two parts or not."""
    rng = np.random.default_rng(11)
    coarse_t = [T0 - (400 - i) * 300_000 for i in range(400)]
    coarse_v = [float(v) for v in 30.0 + 5.0 * np.sin(np.arange(400) / 20) + rng.normal(0, 1, 400)]
    recent_t = [T0 + i * STEP for i in range(300)]
    recent_v = [float(v) for v in rng.normal(30.0, 3.0, 300)]
    live = [float(v) for v in rng.normal(30.0, 3.0, 30)]
    warmed = engine(history_tenants=frozenset({"t"}))
    warmed.process([(0, message(live[:10], 300))])
    [(series_id, _, _, _)] = warmed.take_offered()
    warmed.process([(0, message(live[10:], 310))])
    warmed.begin_bootstrap(series_id, coarse_t + recent_t, coarse_v + recent_v, rhythm_points=400)
    while warmed.bootstrap_step(max_points):
        pass
    expected = DetectorBank(warmed.bank.config, capacity=2)
    expected.learn_rhythms(["s"] * 400, coarse_t, coarse_v)
    stamps = recent_t + [T0 + (300 + i) * STEP for i in range(30)]
    expected.process(["s"] * 330, stamps, recent_v + live)
    assert warmed.bank.state_bytes(series_id) == expected.state_bytes("s")
    plain = DetectorBank(warmed.bank.config, capacity=1)
    plain.process(["s"] * 330, stamps, recent_v + live)
    assert plain.state_bytes("s") != expected.state_bytes("s")  # the weeks did teach something


def test_a_series_without_history_warms_up_live() -> None:
    eng = engine(history_tenants=frozenset({"t"}))
    eng.process([(0, message([1.0, 2.0]))])
    [(series_id, _, _, _)] = eng.take_offered()
    eng.abandon_bootstrap(series_id)
    assert eng.take_offered() == [] and eng.bootstrapping == 0
    other_tenant = engine(history_tenants=frozenset({"someone-else"}))
    other_tenant.process([(0, message([1.0]))])
    assert other_tenant.take_offered() == []


def test_an_unreadable_checkpoint_restarts_that_series_and_nothing_else() -> None:
    eng = engine()
    eng.restore(0, 7, b"\x12\x05garbage-not-a-checkpoint")
    out = eng.process([(0, message([1.0, 2.0]))])
    assert out.samples == 2 and len(out.scores) == 1
    assert eng.corrupt_checkpoints == 1


def _restart(shift: float, shifted_points: int, stale: bool) -> list[alerts_pb2.AlertEvent]:
    """1,000 points of noise, the series ends (or not), then comes back ``shift`` higher for
    ``shifted_points`` points and returns to its level."""
    rng = np.random.default_rng(5)
    eng = engine()
    _, events = feed(eng, rng.normal(10.0, 1.0, 1000))
    back = 1000
    if stale:
        eng.process([(0, message([STALE], start=back))])
        back += 20  # five minutes without samples: the target was down
    after = np.concatenate(
        [rng.normal(10.0 + shift, 1.0, shifted_points), rng.normal(10.0, 1.0, 200)]
    )
    for i, value in enumerate(after):
        out = eng.process([(0, message([value], start=back + i))])
        events.extend(alerts_pb2.AlertEvent.FromString(raw) for _, _, raw in out.alerts)
    return events


def test_a_brief_change_as_a_series_comes_back_is_the_restarts_not_an_alert() -> None:
    """Through the engine and its calm path: the same change fires on a series that never
    ended, and nothing on one that comes back from staleness (its restart grace): by the
    grace's end the value is back in its range."""
    fired = [e for e in _restart(10.0, 6, stale=False) if e.state == alerts_pb2.ALERT_STATE_FIRING]
    assert len(fired) == 1
    assert _restart(10.0, 6, stale=True) == []


def test_a_lasting_change_after_a_restart_fires_when_the_grace_ends() -> None:
    events = _restart(10.0, 150, stale=True)
    firing = [e for e in events if e.state == alerts_pb2.ALERT_STATE_FIRING]
    assert len(firing) == 1
    back = T0 + 1020 * STEP
    grace_ms = round(PolicyConfig().resume_grace_seconds * 1000)
    # Scores calm down within 20 points, inside the grace; the value stays away from its
    # range before the restart, so the held run fires at the first point past the grace,
    # dated from the change (the first points after a gap have no delta yet and score low).
    assert back <= firing[0].started_at <= back + 3 * STEP
    assert firing[0].event_at == back + grace_ms
    assert firing[0].score < PolicyConfig().fire_threshold < firing[0].peak_score
    assert firing[0].value > firing[0].baseline_high


def test_several_rounds_in_one_call_give_the_outputs_of_one_call_per_round() -> None:
    """A worker's step often holds a series more than once: its batches are decided in order,
    calmly until one opens or closes an episode, the rest of them the slow way."""
    rounds = mixed_rounds(rounds=600)
    alone, together = engine(), engine()
    outputs: dict[str, tuple[list[object], list[object], list[object]]] = {
        "alone": ([], [], []),
        "together": ([], [], []),
    }

    def take(out: EngineOutput, into: str) -> None:
        for kept, new in zip(outputs[into], (out.scores, out.alerts, out.exported), strict=True):
            kept.extend(new)

    for r, records in enumerate(rounds):
        take(alone.process(records), "alone")
        if r % 3 == 2:
            merged = [record for group in rounds[r - 2 : r + 1] for record in group]
            take(together.process(merged), "together")
    assert len(outputs["alone"][1]) > 0  # alerts fired and resolved
    assert outputs["together"] == outputs["alone"]
    assert sorted(together.collect_dirty()) == sorted(alone.collect_dirty())


def test_an_untyped_counter_is_scored_on_its_rate_not_its_ever_rising_value() -> None:
    """node-exporter sends node_vmstat_* without a type or a counter's name.

    Scored as a gauge, a burst of page-ins moved the value to a level it never left, and the
    live fault benchmark's idle series alerted on it; its rate comes back."""
    rng = np.random.default_rng(5)
    values = np.cumsum(rng.poisson(40, 3000)).astype(float) + 1e6
    untyped, _ = feed(engine(), values, name="node_vmstat_pgpgin", metric_type=0)
    assert max(p.score for p in untyped[500:]) < 0.4
    assert np.median([p.feature for p in untyped[500:]]) == pytest.approx(40 / 15, rel=0.1)
    as_gauge, _ = feed(engine(), values, name="node_vmstat_pgpgin")  # declared a gauge
    assert [p.feature for p in as_gauge[-3:]] == list(values[-3:])
    # A gauge without a type shows itself at its first ordinary decrease.
    noise = rng.normal(50.0, 3.0, 600)
    gauge, events = feed(engine(), noise, name="node_sockstat_TCP_inuse", metric_type=0)
    assert [p.feature for p in gauge[-3:]] == list(noise[-3:])
    assert events == []


def _feed_typed_from(
    eng: ScoringEngine, values: Sequence[float], name: str, typed_from: int, start: int = 0
) -> tuple[list[scores_pb2.ScoreBatch], list[alerts_pb2.AlertEvent]]:
    """Feed a declared gauge whose metadata reaches the receiver with point ``typed_from``."""
    batches: list[scores_pb2.ScoreBatch] = []
    events: list[alerts_pb2.AlertEvent] = []
    for i, value in enumerate(values, start):
        metric_type = samples_pb2.METRIC_TYPE_GAUGE if i >= typed_from else 0
        out = eng.process([(0, message([value], start=i, name=name, metric_type=metric_type))])
        batches.extend(scores_pb2.ScoreBatch.FromString(raw) for _, _, raw in out.scores)
        events.extend(alerts_pb2.AlertEvent.FromString(raw) for _, _, raw in out.alerts)
    return batches, events


def test_a_gauge_seen_before_its_metadata_takes_its_type_when_it_arrives() -> None:
    """Prometheus sends metadata once a minute: series are often first seen without a type.

    node_filesystem_avail_bytes of a quiet disk, first taken for an untyped counter, missed a
    disk filling up in the live fault benchmark: the drop looked like a counter's reset."""
    rng = np.random.default_rng(11)
    free = np.concatenate([rng.normal(64e6, 2e4, 900), np.full(60, 7e6)])
    batches, events = _feed_typed_from(engine(), free, "node_filesystem_avail_bytes", 4)
    assert [b.metric_type for b in batches[3:5]] == [0, samples_pb2.METRIC_TYPE_GAUGE]
    assert [b.points[0].feature for b in batches[-3:]] == list(free[-3:])  # its value
    assert [e.state for e in events] == [alerts_pb2.ALERT_STATE_FIRING]
    assert events[0].event_at >= T0 + 900 * STEP


@pytest.mark.parametrize("typed_from", [6, 20])
def test_a_kind_guessed_without_metadata_waits_for_it_through_a_restart(typed_from: int) -> None:
    """The wait (150 s of the receiver's time) is part of the checkpoint.

    A rising gauge without its metadata looks like a counter. Metadata within the wait makes
    it a gauge (scored on its value); metadata after it leaves the guess (its rate)."""
    rising = 1e9 + 15.0 * np.arange(300) + np.random.default_rng(12).normal(0, 0.1, 300)
    name = "node_time_seconds"
    uninterrupted, crashed = engine(), engine()
    _feed_typed_from(uninterrupted, rising[:3], name, typed_from)
    _feed_typed_from(crashed, rising[:3], name, typed_from)
    [(partition, key, checkpoint)] = crashed.collect_dirty()
    restarted = engine()
    restarted.restore(partition, int.from_bytes(key, "big"), checkpoint)
    expected, _ = _feed_typed_from(uninterrupted, rising[3:], name, typed_from, start=3)
    got, _ = _feed_typed_from(restarted, rising[3:], name, typed_from, start=3)
    assert got == expected
    features = [b.points[0].feature for b in got[-3:]]
    if typed_from * STEP <= METADATA_WAIT_MS:
        assert features == list(rising[-3:])
    else:
        assert features == pytest.approx([1.0] * 3, abs=0.05)  # per second


def test_metadata_arriving_while_history_is_learnt_relearns_it_as_its_kind() -> None:
    rng = np.random.default_rng(13)
    values = rng.normal(30.0, 3.0, 700)
    history, live = values[:450], values[450:]
    reference = engine()  # a gauge from its first point, live all along
    for start in range(0, 700, 10):
        reference.process([(0, message(list(values[start : start + 10]), start))])
    expected = reference.process([(0, message([31.0], 700))]).scores

    warmed = engine(history_tenants=frozenset({"t"}))
    warmed.process([(0, message(list(live[:10]), 450, metric_type=0))])  # no metadata yet
    [(series_id, _, _, _)] = warmed.take_offered()
    warmed.begin_bootstrap(
        series_id, [T0 + i * STEP for i in range(450)], [float(v) for v in history]
    )
    warmed.bootstrap_step(100)  # learning it as an untyped counter
    warmed.process([(0, message(list(live[10:30]), 460))])  # the metadata: a gauge
    while warmed.bootstrap_step(100):
        pass
    for start in range(480, 700, 10):
        warmed.process([(0, message(list(values[start : start + 10]), start))])
    assert warmed.process([(0, message([31.0], 700))]).scores == expected


def test_a_kind_resolved_in_the_middle_of_a_call_scores_as_one_call_per_round() -> None:
    """A merged record can hold a series' first batch, untyped, and a later one carrying
    the metadata that arrived between them: its first samples meet the old kind's detector,
    as they do when each round is a call of its own (how a restart regroups records)."""
    rising = list(1e9 + 15.0 * np.arange(40))
    rounds = [
        message([value], start=i, name="node_time_seconds", metric_type=0 if i < 3 else 2)
        for i, value in enumerate(rising)
    ]
    alone, together = engine(), engine()
    expected = [alone.process([(0, raw)]) for raw in rounds]
    for start in range(0, len(rounds), 2):  # the metadata comes second in the call of 2-3
        got = together.process([(0, raw) for raw in rounds[start : start + 2]])
        pair = expected[start : start + 2]
        assert got.scores == [s for one in pair for s in one.scores]
        assert got.samples == sum(one.samples for one in pair)
    assert sorted(together.collect_dirty()) == sorted(alone.collect_dirty())
    assert [p.feature for p in scores_pb2.ScoreBatch.FromString(got.scores[-1][2]).points] == [
        rising[-1]
    ]  # a gauge by now


def test_a_counter_known_by_its_name_only_learns_its_history_once_its_metadata_comes() -> None:
    """Prometheus' first samples come before its metadata: a ``_total`` series is a likely
    counter then, which is not warmed up; its metadata makes it a counter, which is."""
    rng = np.random.default_rng(14)
    totals = list(np.cumsum(rng.poisson(30.0, 700)).astype(float))
    counter = {"name": "x_total", "metric_type": samples_pb2.METRIC_TYPE_COUNTER}
    reference = engine()  # a counter from its first point, live all along
    for start in range(0, 700, 10):
        reference.process([(0, message(totals[start : start + 10], start, **counter))])
    expected = reference.process([(0, message([totals[-1] + 30.0], 700, **counter))]).scores

    warmed = engine(history_tenants=frozenset({"t"}))
    warmed.process([(0, message(totals[450:460], 450, name="x_total", metric_type=0))])
    assert warmed.take_offered() == []  # a likely counter: no history yet
    warmed.process([(0, message(totals[460:470], 460, **counter))])
    [(series_id, labels, first, kind)] = warmed.take_offered()
    assert (labels["__name__"], first, kind) == ("x_total", T0 + 460 * STEP, MetricKind.COUNTER)
    warmed.begin_bootstrap(series_id, [T0 + i * STEP for i in range(460)], totals[:460])
    while warmed.bootstrap_step(100):
        pass
    for start in range(470, 700, 10):
        warmed.process([(0, message(totals[start : start + 10], start, **counter))])
    got = warmed.process([(0, message([totals[-1] + 30.0], 700, **counter))]).scores
    assert got == expected
