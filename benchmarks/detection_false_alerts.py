"""False alerts per series per day at the shipped defaults, on series without anomalies.

Usage: ``python benchmarks/detection_false_alerts.py [--series N]``. Runs the production
detector (a :class:`~stream.detection.bank.DetectorBank`) and the production alert policy
(:class:`~stream.alerting.policy.AlertPolicy` with its default :class:`PolicyConfig`) over
synthetic series that hold no anomaly, at three scrape intervals, and counts FIRING events
after warm-up (warm-up points never fire). Kinds of series:

* ``noise``: stationary Gaussian noise;
* ``office``: a daily rhythm, 100 at night and 150 from 09:00 to 18:00 UTC, noise sd 3 (the
  first day's steps are news; the count starts after the first two days);
* ``counts``: Poisson counts whose mean follows a sinusoidal daily cycle (20 to 60);
* ``weekdays``: ``office`` on Monday to Friday only, flat at 100 on weekends: a weekly rhythm,
  which the detector does not model by itself (its profile is daily). Run at a 5 min scrape
  for six weeks, counted after the first two (the first weekend and Monday are news);
* ``laplace``, ``student_t3``, ``ar1``: heavy-tailed noise (Laplace, Student t with 3 degrees
  of freedom) and strongly autocorrelated noise (AR(1), coefficient 0.9), counted from the
  start at a 60 s scrape for two days: the young series that the calibration prior
  (:mod:`stream.detection.prior`, built from light-tailed series) judges least kindly;
* ``cron``: a nightly job shorter than the detector's five-minute time bins, the kind that
  pages people every night: 5 +- 1 (a CPU %), 90 while the job runs, from 02:00 UTC plus 0 to
  2 minutes, for 2 to 4 minutes (each day its own), at 15 s and 60 s scrapes (at 5 min one
  sample in a few days catches it), counted like the others from the third day: a bin's
  spread is learnt from its second day, checked against what the first showed, so the
  first two nights of a job still alert (:mod:`stream.detection.season`);
* ``bursts``: overdispersed counts (negative binomial, mean 10 to 30 on a daily cycle) whose
  level jumps 2 to 6 times for 3 to 19 points about once a day, at a 5 min scrape for 30
  days: bursts that are this series' normal behaviour (social-media and ad counts).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from aidevops.pb import alerts_pb2, scores_pb2  # noqa: E402
from stream.alerting.policy import AlertPolicy, PolicyConfig  # noqa: E402
from stream.detection.bank import DetectorBank  # noqa: E402
from stream.detection.config import DetectorConfig  # noqa: E402

DAY_MS = 86_400_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % DAY_MS  # a UTC midnight
KINDS = ("noise", "office", "counts")


def values(kind: str, ts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One synthetic series of ``kind`` at timestamps ``ts`` (ms)."""
    hour = (ts % DAY_MS) / 3_600_000
    weekday = ((ts // DAY_MS) + 3) % 7 < 5  # 1970-01-01 was a Thursday
    if kind == "noise":
        return rng.normal(10.0, 1.0, len(ts))
    if kind == "laplace":
        return rng.laplace(10.0, 1.0, len(ts))
    if kind == "student_t3":
        return 10.0 + rng.standard_t(3, len(ts))
    if kind == "ar1":
        shocks = rng.normal(0.0, 1.0, len(ts))
        out = np.empty(len(ts))
        level = 0.0
        for i, shock in enumerate(shocks):
            level = 0.9 * level + shock
            out[i] = level
        return out
    if kind == "bursts":
        mean = 20.0 + 10.0 * np.sin(2 * np.pi * hour / 24)
        out = rng.negative_binomial(5, 5 / (5 + mean)).astype(np.float64)
        starts = np.flatnonzero(rng.random(len(ts)) < 0.004)
        for start, length, factor in zip(
            starts, rng.integers(3, 20, len(starts)), rng.uniform(2, 6, len(starts)), strict=True
        ):
            out[start : start + length] *= factor
        return out
    if kind == "cron":
        day = (ts - ts[0]) // DAY_MS
        days = int(day[-1]) + 1
        start = 120.0 + rng.uniform(0.0, 2.0, days)[day]
        end = start + rng.uniform(2.0, 4.0, days)[day]
        minute = (ts % DAY_MS) / 60_000
        return 5.0 + rng.normal(0.0, 1.0, len(ts)) + 85.0 * ((minute >= start) & (minute < end))
    if kind in ("office", "weekdays"):
        open_hours = (hour >= 9) & (hour < 18) & (weekday if kind == "weekdays" else True)
        return 100.0 + 50.0 * open_hours + rng.normal(0.0, 3.0, len(ts))
    mean = 40.0 + 20.0 * np.sin(2 * np.pi * hour / 24)
    return rng.poisson(mean).astype(np.float64)


def alert_starts(
    ts: np.ndarray, data: np.ndarray, config: DetectorConfig | None = None
) -> list[list[int]]:
    """When each series' alerts fired (ms), through the detector and the alert policy.

    ``data`` holds one column per series, one row per timestamp of ``ts``.
    """
    bank = DetectorBank(config or DetectorConfig(), capacity=data.shape[1])
    return policy_starts(ts, data, *detector_scores(bank, ts, data))


def detector_scores(
    bank: DetectorBank, ts: np.ndarray, data: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Scores and flags of ``data`` (a column per series, keys 0..n-1) through ``bank``."""
    n_series = data.shape[1]
    keys = list(range(n_series))
    scores = np.zeros_like(data)
    flags = np.zeros(data.shape, dtype=np.uint32)
    for t in range(len(ts)):
        out = bank.process(keys, np.full(n_series, ts[t]), data[t])
        scores[t], flags[t] = out.score, out.flags
    return scores, flags


def policy_starts(
    ts: np.ndarray, data: np.ndarray, scores: np.ndarray, flags: np.ndarray
) -> list[list[int]]:
    """When each series' alerts fired (ms), by the alert policy, from its scores and flags."""
    policy = AlertPolicy(PolicyConfig())
    starts: list[list[int]] = []
    chunk = 1000
    for j in range(data.shape[1]):
        state = None
        fired: list[int] = []
        for start in range(0, len(ts), chunk):
            batch = scores_pb2.ScoreBatch(schema_version=1, tenant="t", series_id=j + 1)
            for t in range(start, min(start + chunk, len(ts))):
                value = float(data[t, j])
                batch.points.add(
                    timestamp=int(ts[t]),
                    value=value,
                    feature=value,
                    score=float(scores[t, j]),
                    flags=int(flags[t, j]),
                )
            result = policy.step(state, batch)
            state = result.state
            fired.extend(
                e.started_at for e in result.events if e.state == alerts_pb2.ALERT_STATE_FIRING
            )
        starts.append(fired)
    return starts


def false_alerts(
    step_ms: int,
    days: int,
    n_series: int,
    kinds: tuple[str, ...] = KINDS,
    skip_days: int = 2,
    seed: int = 0,
) -> dict[str, int]:
    """FIRING events per kind (``n_series`` series each), from day ``skip_days`` on."""
    rng = np.random.default_rng(seed)
    ts = T0 + np.arange(days * DAY_MS // step_ms, dtype=np.int64) * step_ms
    keys = [kind for kind in kinds for _ in range(n_series)]
    data = np.stack([values(kind, ts, rng) for kind in keys], axis=1)
    counted_from = T0 + skip_days * DAY_MS
    fired = dict.fromkeys(kinds, 0)
    for kind, starts in zip(keys, alert_starts(ts, data), strict=True):
        fired[kind] += sum(start >= counted_from for start in starts)
    return fired


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=10, help="series per kind")
    args = parser.parse_args()
    runs = [(15_000, 4, KINDS, 2), (60_000, 8, KINDS, 2), (300_000, 30, KINDS, 2)]
    runs.append((300_000, 56, ("weekdays",), 14))
    runs.append((60_000, 2, ("laplace", "student_t3", "ar1"), 0))
    runs.append((300_000, 30, ("bursts",), 2))
    runs += [(15_000, 4, ("cron",), 2), (60_000, 8, ("cron",), 2)]
    for step_ms, days, kinds, skip in runs:
        started = time.perf_counter()
        fired = false_alerts(step_ms, days, args.series, kinds, skip)
        series_days = args.series * (days - skip)
        rates = "  ".join(f"{kind} {fired[kind] / series_days:.3f}" for kind in kinds)
        print(
            f"scrape {step_ms // 1000:3d} s, {args.series} series x {days - skip} days per kind: "
            f"false alerts per series per day: {rates}  ({time.perf_counter() - started:.0f} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
