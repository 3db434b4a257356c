"""The alert policy: firing, hysteresis, flags, staleness, replays and determinism."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from aidevops.errors import ConfigurationError
from aidevops.pb import alerts_pb2, scores_pb2
from stream.alerting.policy import AlertPolicy, PolicyConfig, Resolution
from stream.alerting.series_state import Episode, SeriesState
from tests.unit.stream.alerting.scenarios import (
    STEP_MS,
    T0,
    adopted_shift_points,
    batch,
    noisy_points,
    run_series,
)

FIRING = alerts_pb2.ALERT_STATE_FIRING
RESOLVED = alerts_pb2.ALERT_STATE_RESOLVED
WARMUP = scores_pb2.SCORE_FLAG_WARMUP
OUTAGE = scores_pb2.SCORE_FLAG_OUTAGE
RESET = scores_pb2.SCORE_FLAG_RESET


def pts(
    scores: list[float], flags: int = 0, start: int = T0
) -> list[tuple[int, float, float, int]]:
    return [(start + i * STEP_MS, 10.0 + i, s, flags) for i, s in enumerate(scores)]


def states(events: list[alerts_pb2.AlertEvent]) -> list[tuple[int, int, int]]:
    return [(e.state, e.reason, e.event_at) for e in events]


# These tests drive the policy's mechanism with synthetic scores that are uniform on [0, 1)
# for noise, so they pin a configuration on that scale. The shipped defaults are on the
# detector's scale and are tested with the real detector in tests/unit/stream/test_engine.py.
MECHANISM = PolicyConfig(
    fire_threshold=0.99, fire_points=4, resolve_threshold=0.9, resolve_points=5
)


@pytest.fixture
def policy() -> AlertPolicy:
    return AlertPolicy(MECHANISM)


def test_fires_after_fire_points_consecutive_high_scores(policy: AlertPolicy) -> None:
    _, quiet = run_series(policy, [batch(pts([0.2, 0.999, 0.999, 0.999, 0.5]))])
    assert quiet == []
    _, events = run_series(policy, [batch(pts([0.2, 0.999, 0.995, 0.999, 0.993, 0.999]))])
    assert states(events) == [(FIRING, alerts_pb2.ALERT_REASON_ANOMALY, T0 + 4 * STEP_MS)]
    (event,) = events
    assert event.started_at == T0 + STEP_MS
    assert event.dedup_key == f"{0xA1:016x}:{T0 + STEP_MS}"
    assert event.score == 0.993 and event.peak_score == 0.999
    assert event.value == 14.0
    assert event.group_key == "acme/job=node,instance=h1"
    assert {(lab.name, lab.value) for lab in event.labels} >= {("instance", "h1")}
    assert event.schema_version == 1 and event.tenant == "acme" and event.series_id == 0xA1


def test_hysteresis_keeps_a_hovering_alert_open(policy: AlertPolicy) -> None:
    scores = [0.999] * 4 + [0.95, 0.5, 0.5, 0.5, 0.5, 0.95, 0.97] + [0.3] * 4 + [0.4]
    _, events = run_series(policy, [batch(pts(scores))])
    assert [e.state for e in events] == [FIRING, RESOLVED]
    assert events[1].event_at == T0 + (len(scores) - 1) * STEP_MS
    assert events[1].dedup_key == events[0].dedup_key
    assert events[1].peak_score == pytest.approx(0.999)


def test_warmup_points_never_fire_and_break_a_run(policy: AlertPolicy) -> None:
    _, events = run_series(policy, [batch(pts([1.0] * 50, flags=WARMUP))])
    assert events == []
    scores = pts([0.999] * 3) + [(T0 + 3 * STEP_MS, 1.0, 1.0, WARMUP)]
    scores += pts([0.999] * 3, start=T0 + 4 * STEP_MS)
    _, events = run_series(policy, [batch(scores)])
    assert events == []


def test_reset_and_nan_scores_are_neutral() -> None:
    policy = AlertPolicy(replace(MECHANISM, resume_grace_seconds=0.0))  # see the grace tests
    points = pts([0.999, 0.999]) + [(T0 + 2 * STEP_MS, 1.0, 0.1, RESET)]
    points += [(T0 + 3 * STEP_MS, 1.0, math.nan, 0)] + pts([0.999, 0.999], start=T0 + 4 * STEP_MS)
    _, events = run_series(policy, [batch(points)])
    assert [e.started_at for e in events] == [T0]


GRACE_POINTS = 20  # MECHANISM's default grace: 300 s at a 15 s scrape


def test_a_series_back_from_staleness_does_not_alert_on_a_short_run(policy: AlertPolicy) -> None:
    """Its target restarted: a run of high scores that starts and ends inside the grace is
    the restart's, not an anomaly; the same run on a series that never ended fires."""
    before = batch(pts([0.1] * 5))
    after = pts([0.999] * 10 + [0.1] * 5, start=T0 + 100 * STEP_MS)
    _, events = run_series(policy, [before, batch([], stale=True), batch(after)])
    assert events == []
    _, control = run_series(policy, [before, batch(after)])
    assert control[0].state == FIRING


def test_a_run_that_outlasts_the_grace_fires_when_it_ends(policy: AlertPolicy) -> None:
    """A restart into a lasting fault still alerts, once the grace is over, dated from the
    run's first point."""
    resumed = T0 + 100 * STEP_MS
    after = pts([0.999] * (GRACE_POINTS + 5), start=resumed)
    _, events = run_series(policy, [batch(pts([0.1] * 5)), batch([], stale=True), batch(after)])
    assert [(e.state, e.started_at, e.event_at) for e in events] == [
        (FIRING, resumed, resumed + GRACE_POINTS * STEP_MS)
    ]


def flat(scores: list[float], value: float, start: int) -> list[tuple[int, float, float, int]]:
    return [(start + i * STEP_MS, value, s, 0) for i, s in enumerate(scores)]


@pytest.mark.parametrize(("value_after", "fires"), [(30.0, True), (10.0, False)])
def test_a_held_run_fires_at_the_graces_end_only_if_the_value_stayed_away(
    policy: AlertPolicy, value_after: float, fires: bool
) -> None:
    """Scores calm down quickly after any change; the value tells a lasting change (a
    restart into a fault: fires, dated from the run) from a transient (forgotten)."""
    before = batch([(T0 + i * STEP_MS, 10.0 + (i % 2) * 0.1, 0.1, 0) for i in range(30)])
    resumed = T0 + 100 * STEP_MS
    run = flat([0.999] * 6, 30.0, resumed)  # held: inside the grace
    calm = flat([0.1] * (GRACE_POINTS - 6 + 3), value_after, resumed + 6 * STEP_MS)
    state, events = run_series(policy, [before, batch([], stale=True), batch(run + calm)])
    expected = [(FIRING, resumed, resumed + GRACE_POINTS * STEP_MS)] if fires else []
    assert [(e.state, e.started_at, e.event_at) for e in events] == expected
    assert state is not None and not state.held
    if fires:
        assert events[0].peak_score == 0.999 and events[0].baseline_high < 11.0


def test_a_counter_reset_starts_the_grace_and_a_new_run_after_it_fires(
    policy: AlertPolicy,
) -> None:
    points = pts([0.1] * 3) + [(T0 + 3 * STEP_MS, 1.0, math.nan, RESET)]
    points += pts([0.999] * 6 + [0.1], start=T0 + 4 * STEP_MS)  # inside the grace: quiet
    later = T0 + (4 + GRACE_POINTS) * STEP_MS
    points += pts([0.1] * 2 + [0.999] * 4, start=later)  # a new run after it
    _, events = run_series(policy, [batch(points)])
    assert [(e.state, e.started_at) for e in events] == [(FIRING, later + 2 * STEP_MS)]


def test_the_grace_survives_a_restart_of_the_worker(policy: AlertPolicy) -> None:
    state, _ = run_series(policy, [batch(pts([0.1] * 3)), batch([], stale=True)])
    state, _ = run_series(policy, [batch(pts([0.1], start=T0 + 50 * STEP_MS))], state)
    assert state is not None and state.grace_until == T0 + (50 + GRACE_POINTS) * STEP_MS
    restored = SeriesState.from_bytes(state.to_bytes())
    _, events = run_series(policy, [batch(pts([0.999] * 6, start=T0 + 51 * STEP_MS))], restored)
    assert events == []


def test_outage_fires_at_once_and_resolves_when_up_returns(policy: AlertPolicy) -> None:
    points = pts([0.1, 0.2]) + pts([1.0, 1.0, 1.0], flags=OUTAGE, start=T0 + 2 * STEP_MS)
    points += pts([0.3], start=T0 + 5 * STEP_MS)
    _, events = run_series(policy, [batch(points)])
    reason = alerts_pb2.ALERT_REASON_OUTAGE
    assert states(events) == [
        (FIRING, reason, T0 + 2 * STEP_MS),
        (RESOLVED, reason, T0 + 5 * STEP_MS),
    ]
    assert events[0].started_at == T0 + 2 * STEP_MS


def test_outage_during_warmup_still_fires(policy: AlertPolicy) -> None:
    _, events = run_series(policy, [batch(pts([1.0], flags=OUTAGE | WARMUP))])
    assert states(events) == [(FIRING, alerts_pb2.ALERT_REASON_OUTAGE, T0)]


def test_outage_supersedes_an_open_anomaly(policy: AlertPolicy) -> None:
    points = pts([0.999] * 4) + pts([1.0], flags=OUTAGE, start=T0 + 4 * STEP_MS)
    _, events = run_series(policy, [batch(points)])
    assert [(e.state, e.reason) for e in events] == [
        (FIRING, alerts_pb2.ALERT_REASON_ANOMALY),
        (RESOLVED, alerts_pb2.ALERT_REASON_ANOMALY),
        (FIRING, alerts_pb2.ALERT_REASON_OUTAGE),
    ]
    assert events[0].dedup_key == events[1].dedup_key != events[2].dedup_key


def test_stale_series_resolves_its_open_alert_once(policy: AlertPolicy) -> None:
    firing = batch(pts([0.999] * 4))
    stale = batch([], stale=True)
    state, events = run_series(policy, [firing, stale, stale])
    assert [e.state for e in events] == [FIRING, RESOLVED]
    assert events[1].event_at == T0 + 3 * STEP_MS
    assert math.isnan(events[1].score)
    assert state is not None and state.stale and state.episode is Episode.NONE
    _, none = run_series(policy, [batch(pts([0.1])), stale])
    assert none == []


def test_replayed_points_emit_nothing(policy: AlertPolicy) -> None:
    first = batch(pts([0.999] * 4))
    state, events = run_series(policy, [first])
    assert len(events) == 1
    _, replayed = run_series(policy, [first, batch(pts([0.999] * 6))], state)
    assert replayed == []


def test_events_are_deterministic_across_restarts_and_batching() -> None:
    policy = AlertPolicy(MECHANISM)
    points = noisy_points(random.Random(7), 600, shifts=[(200, 40, 8.0), (400, 3, 9.0)])
    _, whole = run_series(policy, [batch(points)])
    # the same points in uneven batches, with overlapping redelivery, state through bytes
    pieces, i, rng = [], 0, random.Random(1)
    while i < len(points):
        j = i + rng.randint(1, 30)
        pieces.append(batch(points[max(0, i - rng.randint(0, 5)) : j]))
        i = j
    _, split = run_series(policy, pieces)
    assert [e.SerializeToString(deterministic=True) for e in split] == [
        e.SerializeToString(deterministic=True) for e in whole
    ]
    assert [e.state for e in whole] == [FIRING, RESOLVED]


def test_baseline_is_the_range_of_recent_normal_values(policy: AlertPolicy) -> None:
    points = noisy_points(random.Random(3), 300, mean=100.0, std=5.0, shifts=[(250, 20, 10.0)])
    _, events = run_series(policy, [batch(points)])
    firing = events[0]
    assert 80.0 < firing.baseline_low < 90.0 < 110.0 < firing.baseline_high < 120.0
    assert firing.value > firing.baseline_high
    # the episode's values do not move the baseline
    assert events[1].baseline_low == firing.baseline_low


def test_baseline_is_unknown_at_first(policy: AlertPolicy) -> None:
    _, events = run_series(policy, [batch(pts([0.999] * 4))])
    assert math.isnan(events[0].baseline_low) and math.isnan(events[0].baseline_high)


def test_stationary_noise_raises_no_alert(policy: AlertPolicy) -> None:
    rng = random.Random(20240501)
    total = 0
    for series in range(50):
        points = noisy_points(rng, 4000)
        _, events = run_series(
            policy,
            [batch(points[i : i + 500], series_id=series) for i in range(0, len(points), 500)],
        )
        assert events == [], f"false alarm on series {series}"
        total += len(points)
    assert total == 200_000


def test_a_step_change_fires_once_and_resolves_once(policy: AlertPolicy) -> None:
    points = noisy_points(random.Random(11), 2000, shifts=[(1000, 60, 6.0)])
    _, events = run_series(policy, [batch(points[i : i + 20]) for i in range(0, 2000, 20)])
    assert [e.state for e in events] == [FIRING, RESOLVED]
    firing, resolved = events
    assert T0 + 1000 * STEP_MS <= firing.started_at <= firing.event_at <= T0 + 1010 * STEP_MS
    assert T0 + 1060 * STEP_MS <= resolved.event_at <= T0 + 1080 * STEP_MS


def _resolutions(
    policy: AlertPolicy, points: list[tuple[int, float, float, int]]
) -> list[tuple[alerts_pb2.AlertEvent, Resolution]]:
    state = None
    out: list[tuple[alerts_pb2.AlertEvent, Resolution]] = []
    for i in range(0, len(points), 20):
        result = policy.step(state, batch(points[i : i + 20]))
        state = SeriesState.from_bytes(result.state.to_bytes())
        out.extend(zip(result.events, result.resolutions, strict=True))
    assert [e.resolution for e, _ in out] == [int(why) for _, why in out]
    return out


def test_a_lasting_shift_keeps_firing_until_the_value_returns(policy: AlertPolicy) -> None:
    # 200 points (50 min) 8 sd up; the detector adopts it after 10 points, then the value
    # returns, which scores high again: one episode, resolved after the return.
    points = adopted_shift_points(random.Random(5), 800, first=300, length=200, shift=8.0)
    events = _resolutions(policy, points)
    assert [(e.state, why) for e, why in events] == [
        (FIRING, Resolution.UNSPECIFIED),
        (RESOLVED, Resolution.RECOVERED),
    ]
    firing, resolved = (e for e, _ in events)
    assert T0 + 300 * STEP_MS <= firing.started_at <= firing.event_at <= T0 + 310 * STEP_MS
    assert T0 + 510 * STEP_MS <= resolved.event_at <= T0 + 560 * STEP_MS
    assert resolved.baseline_low <= resolved.value <= resolved.baseline_high


def test_a_faults_first_points_below_the_fire_threshold_do_not_widen_the_range() -> None:
    # Seen live: a busy loop took a core's idle fraction from 0.94 to 0; the first four points
    # scored 0.29-0.35, below the fire threshold, and learnt, they widened the range to
    # -0.35..1.84 (sd 0.01 to 0.37), so the episode resolved as "recovered" at 0 after 50 s.
    rng = random.Random(11)
    calm = [(T0 + i * STEP_MS, 0.94 + rng.gauss(0.0, 0.01), 0.01, 0) for i in range(400)]
    onset = [0.03, 0.29, 0.31, 0.33, 0.35] + [0.56, 0.57, 0.58, 0.58, 0.57, 0.56]
    fault = onset + [0.1] * 60  # the detector adopts the new level; the value stays at 0
    at = T0 + 400 * STEP_MS
    points = calm + [(at + i * STEP_MS, 0.0 if i else 0.53, s, 0) for i, s in enumerate(fault)]
    policy = AlertPolicy(PolicyConfig())
    _, events = run_series(policy, [batch(points)])
    assert [e.state for e in events] == [FIRING]  # still firing while the value stays away
    # The transition's one calm-scored point (0.53) is learnt; the zeros are not.
    assert 0.5 < events[0].baseline_low < 0.94 < events[0].baseline_high < 1.5
    back = [(at + (len(fault) + i) * STEP_MS, 0.94, 0.1, 0) for i in range(10)]
    _, events = run_series(policy, [batch(points + back)])
    assert [e.state for e in events] == [FIRING, RESOLVED]
    assert events[1].resolution == alerts_pb2.ALERT_RESOLUTION_RECOVERED


def test_a_shift_is_accepted_as_the_new_normal_after_the_configured_time() -> None:
    policy = AlertPolicy(
        PolicyConfig(
            fire_threshold=0.99,
            fire_points=4,
            resolve_threshold=0.9,
            resolve_points=5,
            accept_new_normal_seconds=600.0,
        )
    )
    points = adopted_shift_points(random.Random(6), 700, first=300, length=None, shift=8.0)
    events = _resolutions(policy, points)
    assert [(e.state, why) for e, why in events] == [
        (FIRING, Resolution.UNSPECIFIED),
        (RESOLVED, Resolution.NEW_NORMAL),
    ]
    firing, resolved = (e for e, _ in events)
    assert 600_000 <= resolved.event_at - firing.started_at <= 600_000 + 30 * STEP_MS
    assert resolved.value > resolved.baseline_high  # still at the new level


def test_without_an_acceptance_period_calm_scores_resolve_a_shift() -> None:
    policy = AlertPolicy(
        PolicyConfig(
            fire_threshold=0.99,
            fire_points=4,
            resolve_threshold=0.9,
            resolve_points=5,
            accept_new_normal_seconds=0.0,
        )
    )
    points = adopted_shift_points(random.Random(5), 800, first=300, length=200, shift=8.0)
    events = _resolutions(policy, points)
    assert [why for _, why in events][:2] == [Resolution.UNSPECIFIED, Resolution.RECOVERED]
    assert events[1][0].event_at < T0 + 400 * STEP_MS  # while the value was still shifted


def test_why_outages_and_ended_series_resolve(policy: AlertPolicy) -> None:
    points = pts([0.999] * 4) + pts([1.0], flags=OUTAGE, start=T0 + 4 * STEP_MS)
    points += pts([0.1], start=T0 + 5 * STEP_MS)
    result = policy.step(None, batch(points))
    assert result.resolutions == [
        Resolution.UNSPECIFIED,
        Resolution.SUPERSEDED,
        Resolution.UNSPECIFIED,
        Resolution.RECOVERED,
    ]
    result = policy.step(None, batch(pts([0.999] * 4), stale=True))
    assert result.resolutions == [Resolution.UNSPECIFIED, Resolution.SERIES_ENDED]


def test_state_does_not_mutate_the_input(policy: AlertPolicy) -> None:
    state = SeriesState()
    policy.step(state, batch(pts([0.999] * 4)))
    assert state == SeriesState()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fire_threshold": 1.01},
        {"resolve_threshold": 0.995},
        {"fire_points": 0},
        {"baseline_alpha": 0.0},
        {"baseline_k": -1.0},
        {"accept_new_normal_seconds": -1.0},
    ],
)
def test_invalid_configuration_is_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        PolicyConfig(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(5))
def test_the_calm_fast_path_ends_exactly_where_step_does(seed: int) -> None:
    """Random points (high scores, outages, resets, NaN, warm-up, replays), one at a time:
    step_calm where it applies, step otherwise, against step alone."""
    rng = random.Random(seed)
    policy = AlertPolicy(PolicyConfig(accept_new_normal_seconds=60.0))
    slow: SeriesState | None = None
    fast: SeriesState | None = None
    calm = 0
    t = 1_000_000
    for _ in range(3000):
        t += rng.choice([15_000] * 9 + [-15_000])  # now and then a replayed timestamp
        score = rng.choice([rng.random() * 0.3] * 8 + [0.9, math.nan])
        flags = rng.choice([0] * 12 + [1, 2]) | (4 if rng.random() < 0.005 else 0)  # 4: reset
        feature = rng.gauss(10.0, 1.0) if rng.random() > 0.02 else 40.0
        if rng.random() < 0.01:  # the series ends now and then: both apply it with step
            ended = scores_pb2.ScoreBatch(tenant="t", series_id=9, stale=True)
            slow, fast = policy.step(slow, ended).state, policy.step(fast, ended).state
        batch = scores_pb2.ScoreBatch(tenant="t", series_id=9)
        batch.labels.add(name="job", value="x")
        batch.points.add(timestamp=t, value=feature, feature=feature, score=score, flags=flags)
        expected = policy.step(slow, batch)
        slow = expected.state
        if fast is not None and policy.step_calm(fast, t, score, feature, flags):
            calm += 1
            assert not expected.events
        else:
            result = policy.step(fast, batch)
            assert result.events == expected.events
            fast = result.state
        assert fast is not None and fast.to_bytes() == slow.to_bytes()
    assert calm > 1000  # the fast path is the common case
