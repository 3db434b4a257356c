"""Score the detector on the NAB development set (``/work/shared/datasets/nab-dev``).

Runs the production pipeline (a :class:`~stream.detection.bank.DetectorBank`, every CSV a gauge
series, causal: score then learn) and thresholds the scores at the shipped
:data:`~stream.detection.config.DEFAULT_THRESHOLD`. Prints labelled windows detected, false
positives per 1,000 points and the NAB score (standard profile), implemented here from the
published description of NAB's scoring (Lavin & Ahmad, 2015, and NAB's documentation):

* the first 15 % of each file (at most 750 points) is probationary: detections there count
  for nothing;
* a detection inside a label window scores ``A_TP * sigma(y) / sigma(-1)`` where ``y`` is its
  position relative to the window's end (-1 at the first point, 0 past the last) and
  ``sigma(y) = 2 / (1 + exp(5y)) - 1``; only the best (earliest) detection of a window counts;
* a window without detection scores ``A_FN = -1``;
* a detection outside every window scores ``A_FP * |sigma(y)|`` with ``y`` its distance past the
  end of the preceding window in units of that window's length (``sigma = -1`` beyond 3 lengths
  or when no window precedes it), so detections just after a window cost less;
* totals over all files are normalised: 0 for a detector that never fires, 100 for a perfect one.

Usage: ``python benchmarks/nab_eval.py [DATA_DIR] [--threshold T] [--sweep]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from stream.detection.backtest import parse_timestamp  # noqa: E402
from stream.detection.bank import DetectorBank  # noqa: E402
from stream.detection.config import DEFAULT_THRESHOLD, DetectorConfig  # noqa: E402

A_TP, A_FP, A_FN = 1.0, -0.11, -1.0
PROBATION = 0.15
DEFAULT_DIR = Path("/work/shared/datasets/nab-dev")


def scaled_sigmoid(position: float) -> float:
    """NAB's weighting: 1-ish early in a window, 0 at its end, -1 far after it."""
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


@dataclass
class FileResult:
    """Outcome of one file at one threshold."""

    raw: float
    windows: int
    detected: int
    false_positives: int
    points: int


def score_file(
    timestamps: Sequence[int],
    detections: np.ndarray,
    windows: Sequence[tuple[int, int]],
) -> FileResult:
    """NAB standard-profile raw score of one file (see the module docstring)."""
    n = len(timestamps)
    ts = np.asarray(timestamps)
    probation = min(math.floor(PROBATION * n), math.floor(PROBATION * 5000))
    spans = []
    for start, end in windows:
        inside = np.flatnonzero((ts >= start) & (ts <= end))
        spans.append((int(inside[0]), int(inside[-1])))
    best = [None] * len(spans)  # best TP contribution per window
    fp_total = 0.0
    false_positives = 0
    max_tp = scaled_sigmoid(-1.0)
    for i in np.flatnonzero(detections):
        if i < probation:
            continue
        window = next((w for w, (lo, hi) in enumerate(spans) if lo <= i <= hi), None)
        if window is not None:
            lo, hi = spans[window]
            position = -(hi - i + 1) / (hi - lo + 1)
            contribution = A_TP * scaled_sigmoid(position) / max_tp
            current = best[window]
            if current is None or contribution > current:
                best[window] = contribution
            continue
        false_positives += 1
        preceding = [(lo, hi) for lo, hi in spans if hi < i]
        if preceding:
            lo, hi = preceding[-1]
            position = abs(hi - i) / max(hi - lo, 1)
            fp_total += -A_FP * scaled_sigmoid(position)
        else:
            fp_total += A_FP
    tp_fn = sum(A_FN if b is None else b for b in best)
    return FileResult(
        raw=tp_fn + fp_total,
        windows=len(spans),
        detected=sum(b is not None for b in best),
        false_positives=false_positives,
        points=n,
    )


def load(data_dir: Path) -> list[tuple[str, list[int], np.ndarray, list[tuple[int, int]]]]:
    """Every labelled file: name, timestamps (ms), values, windows (ms)."""
    labels = json.loads((data_dir / "windows.json").read_text())
    files = []
    for name in sorted(labels):
        with open(data_dir / name, newline="") as handle:
            rows = list(csv.DictReader(handle))
        timestamps = [parse_timestamp(row["timestamp"]) for row in rows]
        values = np.array([float(row["value"]) for row in rows])
        windows = [(parse_timestamp(a), parse_timestamp(b)) for a, b in labels[name]]
        files.append((name, timestamps, values, windows))
    return files


def run_scores(
    files: list[tuple[str, list[int], np.ndarray, list[tuple[int, int]]]],
    config: DetectorConfig | None = None,
) -> list[np.ndarray]:
    """Scores of every file: all files are series of one bank, fed one step at a time."""
    bank = DetectorBank(config, capacity=len(files))
    longest = max(len(f[1]) for f in files)
    scores = [np.zeros(len(f[1])) for f in files]
    for step in range(longest):
        members = [k for k, f in enumerate(files) if step < len(f[1])]
        result = bank.process(
            members,
            np.array([files[k][1][step] for k in members]),
            np.array([files[k][2][step] for k in members]),
        )
        for j, k in enumerate(members):
            scores[k][step] = result.score[j] if result.emitted[j] else 0.0
    return scores


def evaluate(
    files: list[tuple[str, list[int], np.ndarray, list[tuple[int, int]]]],
    scores: list[np.ndarray],
    threshold: float,
) -> tuple[float, int, int, float, list[FileResult]]:
    """NAB score, windows detected, windows, FP per 1,000 points, per-file results."""
    results = [score_file(f[1], s >= threshold, f[3]) for f, s in zip(files, scores, strict=True)]
    n_windows = sum(r.windows for r in results)
    raw = sum(r.raw for r in results)
    null, perfect = A_FN * n_windows, A_TP * n_windows
    nab = 100.0 * (raw - null) / (perfect - null)
    fp_rate = 1000.0 * sum(r.false_positives for r in results) / sum(r.points for r in results)
    return nab, sum(r.detected for r in results), n_windows, fp_rate, results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data_dir", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--sweep", action="store_true", help="also print other thresholds")
    parser.add_argument("--per-file", action="store_true", help="print each file's outcome")
    args = parser.parse_args(argv)
    files = load(args.data_dir)
    started = time.perf_counter()
    scores = run_scores(files)
    elapsed = time.perf_counter() - started
    nab, detected, n_windows, fp_rate, results = evaluate(files, scores, args.threshold)
    points = sum(len(f[1]) for f in files)
    print(f"files: {len(files)}, points: {points}, scored in {elapsed:.1f} s")
    print(f"threshold: {args.threshold}")
    print(f"windows detected: {detected} of {n_windows}")
    print(f"false positives per 1,000 points: {fp_rate:.2f}")
    print(f"NAB score (standard profile): {nab:.1f}")
    if args.per_file:
        for f, r in zip(files, results, strict=True):
            print(f"  {f[0]:60s} {r.detected}/{r.windows} fp={r.false_positives} raw={r.raw:+.2f}")
    if args.sweep:
        print("threshold sweep (for information; the headline uses the shipped threshold):")
        for t in np.round(np.arange(0.2, 0.81, 0.05), 2):
            s_nab, s_det, _, s_fp, _ = evaluate(files, scores, float(t))
            print(f"  {t:.2f}: NAB {s_nab:5.1f}  windows {s_det}/{n_windows}  FP/1000 {s_fp:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
