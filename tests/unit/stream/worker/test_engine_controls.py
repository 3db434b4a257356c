"""Controls in the scoring engine: exclusion and per-series thresholds, through real scoring.

Controls change alerts, never scores: a series that is scored gets exactly the scores it
would get without controls (what ``aidevops backtest`` computes), and an excluded series
gets none and holds no detector.
"""

from __future__ import annotations

import numpy as np

from aidevops.pb import alerts_pb2, scores_pb2
from stream.storage.controls import Control, ControlSet
from stream.storage.matchers import parse_matchers
from stream.worker.engine import ScoringEngine
from tests.unit.stream.worker.test_engine import engine, message

FIRING, RESOLVED = alerts_pb2.ALERT_STATE_FIRING, alerts_pb2.ALERT_STATE_RESOLVED


def controls(*specs: tuple[str, dict[str, object]]) -> ControlSet:
    return ControlSet(Control("t", parse_matchers(m), **kw) for m, kw in specs)  # type: ignore[arg-type]


def run(
    eng: ScoringEngine, values: dict[int, np.ndarray], start: int = 0
) -> tuple[dict[int, list[bytes]], list[alerts_pb2.AlertEvent]]:
    """Feed series (id -> values, instance h<id>) point by point; their score batches and alerts."""
    scores: dict[int, list[bytes]] = {sid: [] for sid in values}
    events: list[alerts_pb2.AlertEvent] = []
    for i in range(len(next(iter(values.values())))):
        out = eng.process(
            [
                (0, message([v[i]], start=start + i, series_id=sid, instance=f"h{sid}"))
                for sid, v in values.items()
            ]
        )
        for _, key, raw in out.scores:
            scores[int.from_bytes(key, "big")].append(raw)
        events.extend(alerts_pb2.AlertEvent.FromString(raw) for _, _, raw in out.alerts)
    return scores, events


def noise(seed: int, n: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(10.0, 1.0, n)


def step_change(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(10, 1, 1500), rng.normal(20, 1, 200)])


def test_an_excluded_series_is_not_scored_and_the_others_score_as_without_controls() -> None:
    values = {1: noise(1, 600), 2: noise(2, 600)}
    plain, _ = run(engine(), values)
    eng = engine()
    eng.set_controls(controls(('{instance="h2"}', {"exclude": True})))
    controlled, _ = run(eng, values)
    assert controlled[1] == plain[1] and len(plain[1]) == 600
    assert controlled[2] == []
    assert eng.live_series == 1 and (2 not in eng.bank)


def test_a_threshold_changes_the_alerts_of_its_series_only_never_the_scores() -> None:
    values = {1: step_change(3), 2: step_change(3)}
    plain, plain_events = run(engine(), values)
    assert {e.series_id for e in plain_events if e.state == FIRING} == {1, 2}
    eng = engine()
    # 1: outages only; 2: the most specific control (its instance) wins over the job's.
    eng.set_controls(
        controls(
            ('{instance="h1"}', {"threshold": 1.0}),
            ('{job="node"}', {"threshold": 1.0}),
            ('{job="node", instance="h2"}', {"threshold": 0.45}),
        )
    )
    controlled, events = run(eng, values)
    assert controlled == plain
    assert [e.series_id for e in events if e.state == FIRING] == [2]


def test_a_lower_threshold_alerts_on_what_the_default_lets_pass() -> None:
    values = {1: noise(4, 3000)}
    _, plain_events = run(engine(), values)
    assert plain_events == []
    eng = engine()
    eng.set_controls(controls(("{}", {"threshold": 0.15})))
    _, events = run(eng, values)
    assert FIRING in [e.state for e in events]


def test_new_controls_apply_to_live_series() -> None:
    eng = engine()
    values = step_change(5)
    run(eng, {1: values[:1400], 2: values[:1400]})
    assert eng.live_series == 2
    live = eng.set_controls(
        controls(('{instance="h1"}', {"threshold": 1.0}), ('{instance="h2"}', {"exclude": True}))
    )
    assert sorted(live) == [1, 2]
    out = eng.apply_controls(live)
    # The excluded live series ends: a stale scores batch, off /metrics, its checkpoint deleted.
    (stale,) = out.scores
    assert scores_pb2.ScoreBatch.FromString(stale[2]).stale and stale[1] == (2).to_bytes(8, "big")
    assert [(sid, ended) for sid, _, _, _, ended in out.exported] == [(2, True)]
    assert eng.take_retired() == [(0, (2).to_bytes(8, "big"), b"")]
    assert eng.live_series == 1 and 2 not in eng.bank
    scores, events = run(eng, {1: values[1400:], 2: values[1400:]}, start=1400)
    assert scores[2] == [] and events == []  # 1 would have fired at the default
    # Controls removed: the excluded series comes back and learns afresh.
    assert eng.apply_controls(eng.set_controls(ControlSet())).scores == []
    scores, _ = run(eng, {2: values[:3] + 0.0}, start=1700)
    assert len(scores[2]) == 3 and eng.live_series == 2
    assert all(p.flags & 1 for b in scores[2] for p in scores_pb2.ScoreBatch.FromString(b).points)


def test_excluding_a_firing_series_resolves_its_alert() -> None:
    eng = engine()
    _, events = run(eng, {1: step_change(6)})
    assert [e.state for e in events] == [FIRING]
    out = eng.apply_controls(eng.set_controls(controls(('{instance="h1"}', {"exclude": True}))))
    (resolved,) = (alerts_pb2.AlertEvent.FromString(raw) for _, _, raw in out.alerts)
    assert resolved.state == RESOLVED and resolved.dedup_key == events[0].dedup_key
    assert resolved.resolution == alerts_pb2.ALERT_RESOLUTION_SERIES_ENDED
