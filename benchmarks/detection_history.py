"""Alerts in a new series' first live days, by the history it learnt from Prometheus.

Usage: ``python benchmarks/detection_history.py [--series N] [--days D] [--weeks-days W]``.
What the worker does for a series it meets for the first time (:mod:`stream.worker.history`),
through the production detector and alert policy (:func:`detection_false_alerts.policy_starts`
for the policy), at the live 15 s scrape, three ways:

* ``none``: no history (``AIDEVOPS_PROMETHEUS_URL`` unset): 256 points of warm-up;
* ``recent``: the last 6 hours at 15 s, learnt by the whole detector (the history warm-up
  before the weeks were asked for);
* ``weeks``: those 6 hours, after ``W`` days before them (28 by default) at one point per
  five-minute bin, the bin's mean at its middle (what ``avg_over_time`` gives the worker),
  learnt by the daily and weekly profiles alone (:meth:`DetectorBank.learn_rhythms`).

Kinds, none with an anomaly: ``office`` (100 at night, 150 from 09:00 to 18:00 UTC, sd 3),
``weekdays`` (the same on Monday to Friday only), ``taxi`` (a weekday and a weekend shape,
:func:`detection_rhythms.shape`) and ``counts`` (Poisson counts, mean 20 to 60 on a daily
cycle). The live days start on a Monday at 00:00 UTC, after a weekend. Printed: alerts per
series over the live days, per kind and way.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from benchmarks.detection_false_alerts import (  # noqa: E402
    DAY_MS,
    detector_scores,
    policy_starts,
    values,
)
from benchmarks.detection_rhythms import MONDAY0, shape  # noqa: E402
from stream.detection.bank import DetectorBank  # noqa: E402
from stream.detection.season import BIN_MS  # noqa: E402

STEP_MS = 15_000
RECENT_MS = 6 * 3_600_000
KINDS = ("office", "weekdays", "taxi", "counts")
WAYS = ("none", "recent", "weeks")


def series(kind: str, ts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One anomaly-free series of ``kind`` at timestamps ``ts`` (ms)."""
    hour = (ts % DAY_MS) / 3_600_000
    weekday = ((ts // DAY_MS) + 3) % 7  # 0 = Monday; 1970-01-01 was a Thursday
    if kind == "weekdays":
        return shape("office", hour, weekday) + rng.normal(0.0, 3.0, len(ts))
    if kind == "taxi":
        return shape("taxi", hour, weekday) + rng.normal(0.0, 1.5, len(ts))
    return values(kind, ts, rng)


def bin_means(ts: np.ndarray, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each whole five-minute bin's mean, stamped at the bin's middle (one row per bin)."""
    per_bin = BIN_MS // STEP_MS
    n = len(ts) // per_bin * per_bin
    means = data[:n].reshape(-1, per_bin, data.shape[1]).mean(axis=1)
    return ts[:n:per_bin] + BIN_MS // 2, means


def live_alerts(way: str, ts: np.ndarray, data: np.ndarray, live0: int) -> list[int]:
    """How many alerts each series raised from ``live0`` (an index of ``ts``) on."""
    n_series = data.shape[1]
    keys = list(range(n_series))
    bank = DetectorBank(capacity=n_series)
    recent0 = int(np.searchsorted(ts, ts[live0] - RECENT_MS))
    if way == "weeks":
        bins_ts, means = bin_means(ts[:recent0], data[:recent0])
        for t in range(len(bins_ts)):
            bank.learn_rhythms(keys, np.full(n_series, bins_ts[t]), means[t])
    if way in ("recent", "weeks"):
        for t in range(recent0, live0):
            bank.process(keys, np.full(n_series, ts[t]), data[t])
    scores, flags = detector_scores(bank, ts[live0:], data[live0:])
    return [len(fired) for fired in policy_starts(ts[live0:], data[live0:], scores, flags)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=5, help="series per kind")
    parser.add_argument("--days", type=int, default=2, help="live days counted")
    parser.add_argument("--weeks-days", type=int, default=28, help="days of the long history")
    args = parser.parse_args()
    if args.series < 1 or args.days < 1 or args.weeks_days < 1:
        parser.error("--series, --days and --weeks-days must be at least 1")
    live_start = MONDAY0 + (args.weeks_days // 7 + 1) * 7 * DAY_MS
    first = live_start - RECENT_MS - args.weeks_days * DAY_MS
    ts = np.arange(first, live_start + args.days * DAY_MS, STEP_MS, dtype=np.int64)
    live0 = int(np.searchsorted(ts, live_start))
    rng = np.random.default_rng(0)
    data = np.stack([series(k, ts, rng) for k in KINDS for _ in range(args.series)], axis=1)
    print(
        f"alerts per series in the first {args.days} live days at 15 s ({args.series} series "
        f"a kind; weeks: {args.weeks_days} days at 5 min before 6 hours at 15 s)"
    )
    for way in WAYS:
        started = time.perf_counter()
        fired = np.array(live_alerts(way, ts, data, live0)).reshape(len(KINDS), args.series)
        rates = "  ".join(f"{k} {fired[i].mean():.2f}" for i, k in enumerate(KINDS))
        print(f"{way:7s} {rates}  ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
