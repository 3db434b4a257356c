"""One series for the console: its points merged from storage and live, the expected band,
alert episodes and the detector's state in words. Framework-free.

The band is the alert policy's own baseline (:class:`~stream.alerting.baseline.Baseline`,
mean ± k·std of the recent values that were not anomalous) recomputed over the points shown,
so it is what the alert messages call the expected range. It is computed on the stored
value (a counter's raw value, not its rate: the stored scores do not keep the rate).

Examples
--------
>>> pts = [ScorePoint(i * 1000, 10.0 + (i % 3), 0.01, 1 if i < 2 else 0) for i in range(30)]
>>> data = chart_data(pts, [])
>>> len(data["t"]), data["low"][0], round(data["low"][-1], 2) < 10 < round(data["high"][-1], 2)
(30, None, True)
>>> for line in detector_state(pts, stale=False)[:2]:
...     print(line)
alert-grade: warm-up ended 1970-01-01 00:00:02 UTC
no rhythm in use (none learnt yet, or the series has none)
>>> detector_state([ScorePoint(0, 1.0, 0.0, ScoreFlag.RHYTHM)], stale=False)[1]
'rhythm learnt: judged against its usual value at this time of day or week'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from stream.alerting.baseline import Baseline
from stream.detection.flags import ScoreFlag
from stream.storage.alerts import AlertRecord
from stream.storage.codec import ScorePoint

__all__ = ["chart_data", "detector_state", "episodes", "fmt_time", "merge_points"]

WARMUP, OUTAGE, RESET, RHYTHM = (
    ScoreFlag.WARMUP,
    ScoreFlag.OUTAGE,
    ScoreFlag.RESET,
    ScoreFlag.RHYTHM,
)


def fmt_time(ms: int | float | None) -> str:
    """UTC time of an epoch-ms value, to the second.

    >>> fmt_time(0), fmt_time(None)
    ('1970-01-01 00:00:00 UTC', '')
    """
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def merge_points(*sources: Iterable[ScorePoint]) -> list[ScorePoint]:
    """Points of every source by timestamp, a later source winning a tie.

    >>> [p.value for p in merge_points([ScorePoint(1, 1.0, 0, 0)], [ScorePoint(1, 2.0, 0, 0)])]
    [2.0]
    """
    by_ts: dict[int, ScorePoint] = {}
    for source in sources:
        for p in source:
            by_ts[p.timestamp] = p
    return [by_ts[t] for t in sorted(by_ts)]


def _num(value: float) -> float | None:
    return value if math.isfinite(value) else None


def chart_data(
    points: Sequence[ScorePoint],
    alerts: Sequence[AlertRecord],
    *,
    resolve_threshold: float = 0.2,
    alpha: float = 0.05,
    k: float = 3.0,
    min_points: int = 10,
) -> dict[str, Any]:
    """Columns for the chart: times (s), value, band low/high, score, and the episodes."""
    baseline = Baseline()
    low: list[float | None] = []
    high: list[float | None] = []
    for p in points:
        lo, hi = baseline.expected_range(k, min_points)
        low.append(_num(lo))
        high.append(_num(hi))
        # As the alert policy learns its range: from calm points only.
        if not (p.flags & OUTAGE) and p.score < resolve_threshold:
            baseline = baseline.update(p.value, alpha)
    return {
        "t": [p.timestamp / 1000 for p in points],
        "value": [_num(p.value) for p in points],
        "low": low,
        "high": high,
        "score": [_num(p.score) for p in points],
        "episodes": episodes(alerts),
    }


def episodes(alerts: Iterable[AlertRecord]) -> list[dict[str, Any]]:
    """Alert episodes (start, end or None while firing, reason, peak), oldest first."""
    found: dict[str, dict[str, Any]] = {}
    for a in alerts:
        ep = found.setdefault(
            a.dedup_key,
            {"start": a.started_at / 1000, "end": None, "reason": a.reason, "peak": None},
        )
        if a.state == "RESOLVED":
            ep["end"] = a.event_at / 1000
            ep["peak"] = _num(a.peak_score)
        elif ep["peak"] is None:
            ep["peak"] = _num(a.peak_score)
    return sorted(found.values(), key=lambda e: e["start"])


def detector_state(points: Sequence[ScorePoint], *, stale: bool) -> list[str]:
    """What the detector's flags say about the series, in words."""
    if not points:
        return ["no scores in this range"]
    out = []
    last = points[-1]
    if last.flags & WARMUP:
        out.append("warming up: scores are not alert-grade yet")
    else:
        ended = next(
            (p.timestamp for p in points if not p.flags & WARMUP),
            last.timestamp,
        )
        if points[0].flags & WARMUP:
            out.append(f"alert-grade: warm-up ended {fmt_time(ended)}")
        else:
            out.append("alert-grade (warm-up ended before this range)")
    if last.flags & OUTAGE:
        out.append("target down (up == 0): an outage, scored 1.0")
    if last.flags & RHYTHM:
        out.append("rhythm learnt: judged against its usual value at this time of day or week")
    elif any(p.flags & RHYTHM for p in points):
        out.append("rhythm learnt, not in use at this time")
    else:
        out.append("no rhythm in use (none learnt yet, or the series has none)")
    resets = [p.timestamp for p in points if p.flags & RESET]
    out.append(
        f"last counter reset {fmt_time(resets[-1])}" if resets else "no counter reset in range"
    )
    if stale:
        out.append("series ended (staleness marker)")
    return out
