"""The calm columns step points exactly as AlertPolicy.step_calm steps one series."""

from __future__ import annotations

import math

import numpy as np

from stream.alerting.baseline import Baseline
from stream.alerting.calm import CalmColumns
from stream.alerting.policy import AlertPolicy, PolicyConfig
from stream.alerting.series_state import SeriesState


def test_columns_step_points_as_step_calm_does_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    policies = [AlertPolicy(PolicyConfig()), AlertPolicy(PolicyConfig()).with_threshold(0.3)]
    columns = CalmColumns(capacity=4)  # grows
    n = 50
    states = [
        SeriesState(last_ts=1000, stale=bool(i % 7 == 0), baseline=Baseline(i, 10.0 + i, 2.0))
        for i in range(n)
    ]
    states[3].baseline = Baseline(0xFFFFFFFF, 1.0, 1.0)  # a saturated count
    reference = [s.copy() for s in states]
    rows = [columns.add(policies[i % 2]) for i in range(n)]
    for row, state in zip(rows, states, strict=True):
        columns.load(row, state)
    calm = [bool(columns.calm[row]) for row in rows]
    assert calm == [i % 7 != 0 for i in range(n)]  # a stale series' return is step()'s
    for step in range(300):
        ts = np.array([1000 + 1000 * step + int(rng.integers(-1500, 1500)) for _ in range(n)])
        score = rng.uniform(0.0, 0.35, n)
        score[rng.random(n) < 0.002] = 0.9  # starts a run unless flagged WARMUP, RESET
        score[rng.random(n) < 0.05] = math.nan
        feature = rng.normal(10.0, 3.0, n)
        feature[rng.random(n) < 0.05] = rng.choice([math.nan, math.inf, -math.inf])
        flags = rng.choice(np.array([0] * 12 + [1], dtype=np.uint32), n)
        flags[rng.random(n) < 0.002] |= 2  # an outage
        flags[rng.random(n) < 0.002] |= 4  # a counter reset: its restart grace is step()'s
        live = [i for i in range(n) if calm[i]]
        at = np.array([rows[i] for i in live], dtype=np.intp)
        applied = columns.step(at, ts[live], score[live], feature[live], flags[live]).tolist()
        for i, done in zip(live, applied, strict=True):
            policy = policies[i % 2]
            expected = policy.step_calm(
                reference[i], int(ts[i]), float(score[i]), float(feature[i]), int(flags[i])
            )
            assert done == expected
            calm[i] = done  # a point step_calm refuses goes to AlertPolicy.step: stop here
    assert 0 < sum(calm) < n  # most stayed calm to the end
    for i in range(n):
        synced = columns.sync(rows[i], states[i])
        assert synced == reference[i]
        assert synced is not None
        assert [x.hex() if isinstance(x, float) else x for x in synced.baseline] == [
            x.hex() if isinstance(x, float) else x for x in reference[i].baseline
        ]
