"""Replay a CSV of one series through the production pipeline and print one score per row.

The CSV has a ``timestamp,value`` header; timestamps are ISO datetimes (NAB's
``2014-04-01 00:00:00``, taken as UTC) or Unix seconds or milliseconds. The series is a gauge
unless ``--kind`` says what the worker took it for (``--counter`` is ``--kind counter``; see
:mod:`stream.detection.metric_kind`: a series with no type and no counter's name is
``untyped``). Exactly the worker's code runs (a
:class:`~stream.detection.bank.DetectorBank`), causally: each row is scored, then learnt.

Examples
--------
>>> rows = [(f"2014-04-01 00:{m:02d}:00", 1.0 + (m % 3)) for m in range(10)]
>>> scores = backtest(rows)
>>> len(scores), set(scores)  # still warming up: no alert-grade scores
(10, {0.0})
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import numpy as np

from stream.detection.bank import DetectorBank
from stream.detection.config import DetectorConfig
from stream.detection.metric_kind import MetricKind

__all__ = ["backtest", "main", "parse_timestamp", "read_rows"]

_MS_THRESHOLD = 10**11  # larger numbers are milliseconds (10**11 s is the year 5138)


def parse_timestamp(text: str | float | int) -> int:
    """Milliseconds since the epoch from an ISO datetime (naive = UTC) or Unix s/ms.

    Examples
    --------
    >>> parse_timestamp("2014-04-01 00:05:00")
    1396310700000
    >>> parse_timestamp("1396310700"), parse_timestamp(1396310700000)
    (1396310700000, 1396310700000)
    """
    if isinstance(text, int | float):
        number = float(text)
    else:
        try:
            number = float(text)
        except ValueError:
            parsed = datetime.fromisoformat(text.strip())
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return round(parsed.timestamp() * 1000)
    return round(number if abs(number) >= _MS_THRESHOLD else number * 1000)


def backtest(
    rows: Iterable[tuple[str | float | int, float | str]],
    *,
    counter: bool = False,
    config: DetectorConfig | None = None,
    kind: MetricKind | None = None,
) -> list[float]:
    """Scores in ``[0, 1]``, one per row, from the production feature and detector pipeline.

    Parameters
    ----------
    rows
        ``(timestamp, value)`` pairs in time order (see :func:`parse_timestamp`).
    counter
        Treat the series as a counter (scored on its per-second rate) instead of a gauge.
    kind
        The series' kind as the worker resolved it (overrides ``counter``).
    config
        Detector parameters; the shipped defaults when omitted.

    Returns
    -------
    One score per row; rows that are not scored (replays, staleness markers) get 0.0.
    """
    timestamps: list[int] = []
    values: list[float] = []
    for timestamp, value in rows:
        timestamps.append(parse_timestamp(timestamp))
        values.append(float(value))
    bank = DetectorBank(config, capacity=1)
    if kind is None:
        kind = MetricKind.COUNTER if counter else MetricKind.GAUGE
    bank.add(0, kind)
    scores: list[float] = []
    # One sample per call, as the worker would see a live series (and to keep it causal).
    for timestamp_ms, value in zip(timestamps, values, strict=True):
        result = bank.process([0], np.array([timestamp_ms]), np.array([value]))
        scores.append(float(result.score[0]) if result.emitted[0] else 0.0)
    return scores


def read_rows(path: str) -> list[tuple[int, float]]:
    """The ``(timestamp ms, value)`` rows of a CSV with a ``timestamp,value`` header.

    Raises :class:`ValueError` naming ``FILE:LINE`` for the first row it cannot read.
    """
    rows: list[tuple[int, float]] = []
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"timestamp", "value"} <= set(reader.fieldnames):
            raise ValueError(f"{path}:1: expected a 'timestamp,value' header")
        for row in reader:
            where = f"{path}:{reader.line_num}"
            stamp, value = row["timestamp"], row["value"]
            if stamp is None or value is None:
                raise ValueError(f"{where}: expected 'timestamp,value', the row has no value")
            try:
                timestamp = parse_timestamp(stamp)
            except (ValueError, OverflowError):
                raise ValueError(f"{where}: cannot read timestamp {stamp!r}") from None
            try:
                rows.append((timestamp, float(value)))
            except ValueError:
                raise ValueError(f"{where}: value {value!r} is not a number") from None
    return rows


KIND_NAMES = {
    "gauge": MetricKind.GAUGE,
    "counter": MetricKind.COUNTER,
    "likely-counter": MetricKind.LIKELY_COUNTER,
    "untyped": MetricKind.UNTYPED,
    "scrape-count": MetricKind.SCRAPE_COUNT,
}
"""``--kind`` values (``up`` is not modelled: its 0 is an outage)."""


def main(argv: Sequence[str] | None = None) -> int:
    """``aidevops backtest FILE.csv [--counter | --kind KIND]``: one score per CSV row."""
    parser = argparse.ArgumentParser(prog="aidevops backtest", description=__doc__.split("\n")[0])
    parser.add_argument("file", help="CSV with a timestamp,value header")
    parser.add_argument("--counter", action="store_true", help="the series is a counter")
    parser.add_argument("--kind", choices=KIND_NAMES, help="the series' kind, as the worker's")
    args = parser.parse_args(argv)
    try:
        rows = read_rows(args.file)
        kind = KIND_NAMES[args.kind] if args.kind else None
        scores = backtest(rows, counter=args.counter, kind=kind)
    except (OSError, ValueError) as exc:
        print(f"{args.file}: {exc}" if isinstance(exc, OSError) else str(exc), file=sys.stderr)
        return 2
    sys.stdout.write("".join(f"{score:.6f}\n" for score in scores))
    return 0
