"""Score sequences and batches that drive the alert policy like the scoring stage would.

A calibrated score is the rank of a point's raw score against the series' own history, so
for a stationary series it is close to uniform on [0, 1). We get exactly that with the
probability integral transform of Gaussian noise: ``score = erf(|z| / sqrt 2)`` is uniform
for ``z ~ N(0, 1)``, and close to 1 when the value leaves its usual range.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence

from aidevops.pb import alerts_pb2, scores_pb2
from stream.alerting.policy import AlertPolicy
from stream.alerting.series_state import SeriesState

__all__ = ["STEP_MS", "adopted_shift_points", "batch", "noisy_points", "run_series"]

STEP_MS = 15_000  # a 15 s scrape interval
T0 = 1_700_000_000_000


def noisy_points(
    rng: random.Random,
    n: int,
    *,
    mean: float = 100.0,
    std: float = 5.0,
    shifts: Sequence[tuple[int, int, float]] = (),
    start: int = T0,
    flags: int = 0,
) -> list[tuple[int, float, float, int]]:
    """``(timestamp, value, score, flags)`` of a noisy gauge, with level shifts.

    ``shifts`` are ``(first index, length, shift in standard deviations)``.
    """
    points = []
    for i in range(n):
        z = rng.gauss(0.0, 1.0)
        for first, length, shift in shifts:
            if first <= i < first + length:
                z += shift
        score = math.erf(abs(z) / math.sqrt(2.0))
        points.append((start + i * STEP_MS, mean + std * z, score, flags))
    return points


def adopted_shift_points(
    rng: random.Random,
    n: int,
    *,
    first: int,
    length: int | None,
    shift: float,
    adopt_after: int = 10,
    mean: float = 100.0,
    std: float = 5.0,
) -> list[tuple[int, float, float, int]]:
    """A level shift as an online detector scores it: high at the change, then adopted.

    The value moves by ``shift`` standard deviations from index ``first`` for ``length``
    points (``None``: for good). Scores are uniform noise except for the first
    ``adopt_after`` points after the shift starts and after it ends (a return is a change
    too), which score 0.999.
    """
    end = n if length is None else first + length
    points = []
    for i in range(n):
        z = rng.gauss(0.0, 1.0)
        score = math.erf(abs(z) / math.sqrt(2.0))
        if first <= i < end:
            z += shift
        if first <= i < first + adopt_after or end <= i < end + adopt_after:
            score = 0.999
        points.append((T0 + i * STEP_MS, mean + std * z, score, 0))
    return points


def batch(
    points: Iterable[tuple[int, float, float, int]],
    *,
    series_id: int = 0xA1,
    tenant: str = "acme",
    labels: dict[str, str] | None = None,
    stale: bool = False,
) -> scores_pb2.ScoreBatch:
    """A ``ScoreBatch`` of ``points`` (feature = value, as for a gauge)."""
    msg = scores_pb2.ScoreBatch(schema_version=1, tenant=tenant, series_id=series_id, stale=stale)
    names = labels if labels is not None else {"__name__": "cpu", "instance": "h1", "job": "node"}
    for name in sorted(names):
        msg.labels.add(name=name, value=names[name])
    for ts, value, score, flags in points:
        msg.points.add(timestamp=ts, value=value, feature=value, score=score, flags=flags)
    return msg


def run_series(
    policy: AlertPolicy, batches: Iterable[scores_pb2.ScoreBatch], state: SeriesState | None = None
) -> tuple[SeriesState | None, list[alerts_pb2.AlertEvent]]:
    """Feed batches of one series through the policy, round-tripping the state as bytes."""
    events: list[alerts_pb2.AlertEvent] = []
    for b in batches:
        result = policy.step(state, b)
        state = SeriesState.from_bytes(result.state.to_bytes())
        events.extend(result.events)
    return state, events
