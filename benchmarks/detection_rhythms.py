"""Weekly rhythms: holidays caught, weekends and Mondays quiet, with and without the weekly profile.

Usage: ``python benchmarks/detection_rhythms.py [--series N] [--scrapes 60,300]
[--schedule-change | --faults]``. Runs the production detector and alert policy
(:func:`detection_false_alerts.alert_starts`) over six weeks of series with a weekly rhythm,
at each scrape interval given (seconds; 15 takes about a minute per 3 series of a kind),
once at the shipped defaults and once with
``DetectorConfig(weekly=False)`` (the daily profile alone). Kinds:

* ``office``: 100 at night and at weekends, 150 from 09:00 to 18:00 UTC on weekdays, noise
  sd 3;
* ``taxi``: a smooth daily shape on weekdays (morning and evening peaks) and another at
  weekends (busy until late at night, a quiet morning), noise sd 1.5.

Every series has one **holiday**: a weekday of its fifth week (days 28-32, each series its own)
that follows the Sunday shape. Printed per kind:

* ``holidays``: how many series alerted on their holiday (an alert that fired that day);
* ``false/day``: alerts per series per day on the other days from day 14 on, except the day
  a week after the holiday, which is counted apart (``week after``): a rhythm learnt from
  every point also learns the holiday a little, and expects a bit of it a week later.

``--faults`` runs instead five weeks of ``office`` and ``taxi`` series and of ``flat`` ones
(125, noise sd 3) with one fault a day in the fifth week, at a random minute: the value
shifted by 8 noise standard deviations for 20 minutes. It prints, per kind, how many faults
an alert fired for (from the fault's onset to 5 minutes after its end), in all and on each
day of the week: how much a learnt rhythm costs the detector's sensitivity to a fault of a
given size, and how much a fault that comes back every day loses of it.

``--schedule-change`` runs instead ten weeks of ``office`` series (no holiday) whose
Saturdays become workdays for good from the fifth week, at the shipped defaults, and prints
how many series alerted on each Saturday from then on: how long a lasting change of the
weekly shape takes to become the rhythm.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from benchmarks.detection_false_alerts import DAY_MS, T0, alert_starts  # noqa: E402
from stream.detection.config import DetectorConfig  # noqa: E402

WEEKS = 6
COUNT_FROM_DAY = 14
KINDS = ("office", "taxi")
MONDAY0 = T0 + ((7 - ((T0 // DAY_MS) + 3) % 7) % 7) * DAY_MS  # 1970-01-01 was a Thursday


def shape(kind: str, hour: np.ndarray, weekday: np.ndarray) -> np.ndarray:
    """The noise-free rhythm of ``kind`` (``weekday``: 0 = Monday .. 6 = Sunday)."""
    if kind == "office":
        return np.where((weekday < 5) & (hour >= 9) & (hour < 18), 150.0, 100.0)
    working = (
        20
        + 15 * np.exp(-((hour - 8.5) ** 2) / 2)
        + 20 * np.exp(-((hour - 19) ** 2) / 6)
        - 12 * np.exp(-((hour - 4) ** 2) / 3)
    )
    night = np.minimum(hour, 24 - hour)
    weekend = (
        25
        + 18 * np.exp(-(night**2) / 8)
        + 10 * np.exp(-((hour - 14) ** 2) / 10)
        - 8 * np.exp(-((hour - 7) ** 2) / 3)
    )
    return np.where(weekday < 5, working, weekend)


def clock(step_ms: int, weeks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Timestamps every ``step_ms`` for ``weeks`` from MONDAY0, their day since then and
    their UTC hour."""
    ts = MONDAY0 + np.arange(weeks * 7 * DAY_MS // step_ms, dtype=np.int64) * step_ms
    return ts, (ts - MONDAY0) // DAY_MS, (ts % DAY_MS) / 3_600_000


def run(step_ms: int, n_series: int, config: DetectorConfig) -> dict[str, tuple[int, int, int]]:
    """Per kind: (holidays alerted, false alerts on ordinary days, alerts a week after)."""
    rng = np.random.default_rng(0)
    ts, day, hour = clock(step_ms, WEEKS)
    columns, holidays, kinds = [], [], []
    for kind in KINDS:
        noise = 3.0 if kind == "office" else 1.5
        for i in range(n_series):
            holiday = 28 + i % 5
            weekday = np.where(day == holiday, 6, day % 7)
            columns.append(shape(kind, hour, weekday) + rng.normal(0.0, noise, len(ts)))
            holidays.append(holiday)
            kinds.append(kind)
    starts = alert_starts(ts, np.stack(columns, axis=1), config)
    out = {kind: (0, 0, 0) for kind in KINDS}
    for kind, holiday, fired in zip(kinds, holidays, starts, strict=True):
        days = [(start - MONDAY0) // DAY_MS for start in fired]
        caught, false, after = out[kind]
        out[kind] = (
            caught + (holiday in days),
            false + sum(d >= COUNT_FROM_DAY and d not in (holiday, holiday + 7) for d in days),
            after + days.count(holiday + 7),
        )
    return out


def schedule_change(step_ms: int, n_series: int, weeks: int = 10) -> list[int]:
    """Series that alerted on each Saturday from week 5, when Saturdays became workdays."""
    rng = np.random.default_rng(0)
    ts, day, hour = clock(step_ms, weeks)
    weekday = np.where((day % 7 == 5) & (day >= 28), 0, day % 7)  # Saturday works as Monday
    rhythm = shape("office", hour, weekday)
    data = np.stack([rhythm + rng.normal(0.0, 3.0, len(ts)) for _ in range(n_series)], axis=1)
    saturdays = range(33, weeks * 7, 7)
    alerted = [{(start - MONDAY0) // DAY_MS for start in fired} for fired in alert_starts(ts, data)]
    return [sum(saturday in days for days in alerted) for saturday in saturdays]


FAULT_KINDS = ("flat", "office", "taxi")
FAULT_MS = 1_200_000  # 20 minutes
FAULT_SD = 8.0


def faults(step_ms: int, n_series: int) -> dict[str, list[int]]:
    """Per kind: faults alerted on each day of the fifth week (one a day, ``n_series`` each)."""
    rng = np.random.default_rng(1)
    ts, day, hour = clock(step_ms, 5)
    columns, onsets, kinds = [], [], []
    for kind in FAULT_KINDS:
        noise = 1.5 if kind == "taxi" else 3.0
        rhythm = np.full(len(ts), 125.0) if kind == "flat" else shape(kind, hour, day % 7)
        for _ in range(n_series):
            values = rhythm + rng.normal(0.0, noise, len(ts))
            minute = rng.integers(0, 24 * 60 - FAULT_MS // 60_000, 7)
            starts = MONDAY0 + np.arange(28, 35) * DAY_MS + minute * 60_000
            for start in starts:
                values[(ts >= start) & (ts < start + FAULT_MS)] += FAULT_SD * noise
            columns.append(values)
            onsets.append(starts)
            kinds.append(kind)
    fired = alert_starts(ts, np.stack(columns, axis=1))
    out = {kind: [0] * 7 for kind in FAULT_KINDS}
    for kind, starts, alerts in zip(kinds, onsets, fired, strict=True):
        for day, start in enumerate(starts):
            out[kind][day] += any(start <= a <= start + FAULT_MS + 300_000 for a in alerts)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=10, help="series per kind")
    parser.add_argument(
        "--scrapes", default="60,300", help="scrape intervals in seconds, comma-separated"
    )
    parser.add_argument(
        "--schedule-change",
        action="store_true",
        help="Saturdays become workdays from week 5: series alerting on each Saturday",
    )
    parser.add_argument(
        "--faults",
        action="store_true",
        help="a 20-minute shift of 8 noise sd a day in week 5: faults alerted, by kind",
    )
    args = parser.parse_args()
    if args.series < 1:
        parser.error("--series must be at least 1")
    try:
        steps_ms = [round(float(s) * 1000) for s in args.scrapes.split(",")]
    except ValueError:
        parser.error(f"--scrapes {args.scrapes!r}: expected seconds, comma-separated")
    if not all(1_000 <= step <= 3_600_000 for step in steps_ms):
        parser.error(f"--scrapes {args.scrapes!r}: each interval must be 1 to 3600 seconds")
    if args.schedule_change:
        for step_ms in steps_ms:
            started = time.perf_counter()
            counts = schedule_change(step_ms, args.series)
            print(
                f"scrape {step_ms // 1000:3d} s, Saturdays workdays from week 5: series alerting "
                f"on the Saturdays of weeks 5-10: {counts} of {args.series}"
                f"  ({time.perf_counter() - started:.0f} s)"
            )
        return 0
    if args.faults:
        for step_ms in steps_ms:
            started = time.perf_counter()
            caught = faults(step_ms, args.series)
            parts = [
                f"{kind} {sum(days)}/{7 * args.series} {days}" for kind, days in caught.items()
            ]
            print(
                f"scrape {step_ms // 1000:3d} s, faults alerted: {'  '.join(parts)}"
                f"  ({time.perf_counter() - started:.0f} s)"
            )
        return 0
    ordinary_days = WEEKS * 7 - COUNT_FROM_DAY - 2
    for step_ms in steps_ms:
        for label, config in (
            ("daily + weekly", DetectorConfig()),
            ("daily only", DetectorConfig(weekly=False)),
        ):
            started = time.perf_counter()
            result = run(step_ms, args.series, config)
            parts = [
                f"{kind}: holidays {caught}/{args.series}, "
                f"false/day {false / (args.series * ordinary_days):.3f}, week after {after}"
                for kind, (caught, false, after) in result.items()
            ]
            print(
                f"scrape {step_ms // 1000:3d} s, {label:14s} {' | '.join(parts)}"
                f"  ({time.perf_counter() - started:.0f} s)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
