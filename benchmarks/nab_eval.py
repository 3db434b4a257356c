"""Score the detector on the NAB development set (``/work/shared/datasets/nab-dev``).

Runs the production pipeline (a :class:`~stream.detection.bank.DetectorBank`, every CSV a gauge
series, causal: score then learn; the same code as ``aidevops backtest``) and scores its
detections with NAB's rules, implemented here from the published description of NAB's scoring
(Lavin & Ahmad, 2015, and NAB's documentation and ``profiles.json``):

* the first 15 % of each file (at most 750 points) is probationary: detections there count
  for nothing;
* a detection inside a label window scores ``A_TP * sigma(y) / sigma(-1)`` where ``y`` is its
  position relative to the window's end (-1 at the first point, 0 past the last) and
  ``sigma(y) = 2 / (1 + exp(5y)) - 1``; only the earliest detection of a window counts;
* a window without detection scores ``-A_FN``;
* a detection outside every window scores ``-A_FP * |sigma(y)|`` with ``y`` its distance past
  the end of the preceding window in units of that window's length (``sigma = -1`` beyond 3
  lengths or when no window precedes it), so detections just after a window cost less;
* totals over all files are normalised: 0 for a detector that never fires, 100 for a perfect
  one. Profiles: standard (``A_FP`` 0.11, ``A_FN`` 1), reward low FP (``A_FP`` 0.22), reward
  low FN (``A_FN`` 2).

Reports each profile at the shipped :data:`~stream.detection.config.DEFAULT_THRESHOLD` and at
the threshold that maximises it over the whole set (NAB's "optimized" threshold, found on a
0.005 grid), windows detected and false positives per 1,000 points, overall and per category
(the directory of the file).

``--cold-start`` scores instead, for every window and for its start at 20, 30, 40 and 60 %
of a 1,600-point stretch, that stretch of its file alone: a detector meeting a series 320 to
960 points before an anomaly, as on NAB's short files (hourly, ~1,600 points) and on a series
without history in Prometheus.

``--missing F`` drops that fraction of each file's points at random (``--seed``) before
scoring: missed scrapes, and series sampled irregularly as some of NAB's are. The first
point of each window is kept, so that every window can still be detected.

``--reference gaussian`` scores a windowed Gaussian instead, for scale: the baseline the
issue compared the detector with on held-out files. Every 100 points it takes the mean and
standard deviation of the last 6,400 values; a point's score is its distance from that mean
in standard deviations, divided by 50 and capped at 1. That is monotone in the normal tail
probability NAB's version reports, so each threshold of the grid is one such probability
(z up to 50 in steps of 0.25); compare its optimum, it has no shipped threshold.

Usage: ``python benchmarks/nab_eval.py [DATA_DIR] [--threshold T] [--sweep] [--per-file]
[--cold-start] [--missing F [--seed S]] [--reference gaussian]``.
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

PROBATION = 0.15
DEFAULT_DIR = Path("/work/shared/datasets/nab-dev")


@dataclass(frozen=True)
class Profile:
    """NAB cost profile (weights as positive numbers, as in NAB's ``profiles.json``)."""

    name: str
    tp: float
    fp: float
    fn: float


PROFILES = (
    Profile("standard", 1.0, 0.11, 1.0),
    Profile("low_fp", 1.0, 0.22, 1.0),
    Profile("low_fn", 1.0, 0.11, 2.0),
)

NabFile = tuple[str, list[int], np.ndarray, list[tuple[int, int]]]


def scaled_sigmoid(position: float) -> float:
    """NAB's weighting: 1-ish early in a window, 0 at its end, -1 far after it."""
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


@dataclass
class FileResult:
    """Outcome of one file at one threshold, independent of the cost profile."""

    tp_sum: float  # sum over detected windows of sigma(y) / sigma(-1)
    fp_sum: float  # sum over false positives of sigma (negative): multiplied by A_FP
    windows: int
    detected: int
    false_positives: int
    points: int

    def raw(self, profile: Profile) -> float:
        """The file's raw NAB score under ``profile``."""
        missed = self.windows - self.detected
        return profile.tp * self.tp_sum - profile.fn * missed + profile.fp * self.fp_sum


def window_spans(
    timestamps: Sequence[int], windows: Sequence[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Label windows as inclusive index ranges."""
    ts = np.asarray(timestamps)
    spans = []
    for start, end in windows:
        inside = np.flatnonzero((ts >= start) & (ts <= end))
        spans.append((int(inside[0]), int(inside[-1])))
    return spans


def score_file(n: int, detections: np.ndarray, spans: Sequence[tuple[int, int]]) -> FileResult:
    """NAB outcome of one file (see the module docstring)."""
    probation = min(math.floor(PROBATION * n), math.floor(PROBATION * 5000))
    best: list[float | None] = [None] * len(spans)
    fp_sum = 0.0
    false_positives = 0
    max_tp = scaled_sigmoid(-1.0)
    for i in np.flatnonzero(detections):
        if i < probation:
            continue
        window = next((w for w, (lo, hi) in enumerate(spans) if lo <= i <= hi), None)
        if window is not None:
            if best[window] is None:
                lo, hi = spans[window]
                best[window] = scaled_sigmoid(-(hi - i + 1) / (hi - lo + 1)) / max_tp
            continue
        false_positives += 1
        preceding = [(lo, hi) for lo, hi in spans if hi < i]
        if preceding:
            lo, hi = preceding[-1]
            fp_sum += scaled_sigmoid(abs(hi - i) / max(hi - lo, 1))
        else:
            fp_sum -= 1.0
    return FileResult(
        tp_sum=sum(b for b in best if b is not None),
        fp_sum=fp_sum,
        windows=len(spans),
        detected=sum(b is not None for b in best),
        false_positives=false_positives,
        points=n,
    )


def load(data_dir: Path) -> list[NabFile]:
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


COLD_START_POINTS = 1600
COLD_START_AT = (0.2, 0.3, 0.4, 0.6)


def cold_start_crops(files: list[NabFile]) -> list[NabFile]:
    """Stretches of ``COLD_START_POINTS`` with a window starting at each ``COLD_START_AT``.

    A stretch keeps the windows that lie wholly inside it; one that would run past either
    end of its file is left out. Names get ``#window@fraction``.
    """
    crops = []
    for name, ts, vals, wins in files:
        spans = window_spans(ts, wins)
        for k, (lo, _) in enumerate(spans):
            for at in COLD_START_AT:
                start = lo - int(at * COLD_START_POINTS)
                end = start + COLD_START_POINTS
                if start < 0 or end > len(ts):
                    continue
                keep = [w for w, (a, b) in zip(wins, spans, strict=True) if start <= a and b < end]
                crops.append((f"{name}#{k}@{at}", ts[start:end], vals[start:end], keep))
    return crops


def drop_points(files: list[NabFile], fraction: float, seed: int) -> list[NabFile]:
    """Each file without ``fraction`` of its points, drawn at random (the first point of
    each window stays).

    >>> ts = [0, 1, 2, 3, 4, 5, 6, 7]
    >>> [(_, kept, vals, _)] = drop_points([("f", ts, np.arange(8.0), [(4, 5)])], 0.9, 1)
    >>> 4 in kept, len(kept) == len(vals) < 8
    (True, True)
    """
    rng = np.random.default_rng(seed)
    out = []
    for name, ts, vals, wins in files:
        keep = rng.random(len(ts)) >= fraction
        for lo, _ in window_spans(ts, wins):
            keep[lo] = True
        out.append((name, [t for t, k in zip(ts, keep, strict=True) if k], vals[keep], wins))
    return out


def run_scores(files: list[NabFile], config: DetectorConfig | None = None) -> list[np.ndarray]:
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


GAUSSIAN_WINDOW = 6400
GAUSSIAN_STEP = 100


def gaussian_scores(values: np.ndarray) -> np.ndarray:
    """The windowed Gaussian reference (see the module's docstring), causal.

    >>> scores = gaussian_scores(np.r_[np.tile([0.0, 1.0], 100), 9.0])
    >>> float(scores[:100].max()), float(scores[-2]), float(scores[-1])
    (0.0, 0.02, 0.34)
    """
    out = np.zeros(len(values))
    for start in range(GAUSSIAN_STEP, len(values), GAUSSIAN_STEP):
        window = values[max(0, start - GAUSSIAN_WINDOW) : start]
        sd = float(window.std())
        if sd <= 0:
            continue
        z = np.abs(values[start : start + GAUSSIAN_STEP] - window.mean()) / sd
        out[start : start + GAUSSIAN_STEP] = np.minimum(1.0, z / 50)
    return out


@dataclass
class Summary:
    """Totals of a set of files at one threshold."""

    results: list[FileResult]

    def nab(self, profile: Profile) -> float:
        """Normalised NAB score: 0 = never fires, 100 = perfect."""
        n_windows = sum(r.windows for r in self.results)
        raw = sum(r.raw(profile) for r in self.results)
        null, perfect = -profile.fn * n_windows, profile.tp * n_windows
        return 100.0 * (raw - null) / (perfect - null) if perfect > null else float("nan")

    @property
    def detected(self) -> int:
        return sum(r.detected for r in self.results)

    @property
    def windows(self) -> int:
        return sum(r.windows for r in self.results)

    @property
    def fp_per_1000(self) -> float:
        points = sum(r.points for r in self.results)
        return 1000.0 * sum(r.false_positives for r in self.results) / points


def evaluate(files: list[NabFile], scores: list[np.ndarray], threshold: float) -> Summary:
    """Per-file outcomes at ``threshold``."""
    return Summary(
        [
            score_file(len(f[1]), s >= threshold, window_spans(f[1], f[3]))
            for f, s in zip(files, scores, strict=True)
        ]
    )


THRESHOLDS = np.round(np.arange(0.1, 1.0001, 0.005), 3)


def optimise(
    files: list[NabFile], scores: list[np.ndarray]
) -> tuple[dict[float, Summary], dict[str, float]]:
    """Summaries over the threshold grid, and the best threshold of each profile."""
    grid = {float(t): evaluate(files, scores, float(t)) for t in THRESHOLDS}
    best = {p.name: max(grid, key=lambda t, p=p: grid[t].nab(p)) for p in PROFILES}  # type: ignore[misc]
    return grid, best


def _line(label: str, summary: Summary) -> str:
    nabs = "  ".join(f"{summary.nab(p):6.1f}" for p in PROFILES)
    return (
        f"{label:34s} {nabs}   {summary.detected:3d}/{summary.windows:<3d}"
        f"  {summary.fp_per_1000:6.2f}"
    )


def report(
    files: list[NabFile], scores: list[np.ndarray], shipped: float, per_file: bool = False
) -> dict[str, float]:
    """Print the tables; return the headline figures."""
    grid, best = optimise(files, scores)
    categories = sorted({f[0].split("/")[0] for f in files})
    header = f"{'':34s} {'std':>6s}  {'lowFP':>6s}  {'lowFN':>6s}   windows  FP/1000"
    print(header)
    shipped_summary = evaluate(files, scores, shipped)
    print(_line(f"all, shipped threshold {shipped:.3f}", shipped_summary))
    for p in PROFILES:
        print(_line(f"all, {p.name} optimum {best[p.name]:.3f}", grid[best[p.name]]))
    for category in categories:
        members = [k for k, f in enumerate(files) if f[0].split("/")[0] == category]
        sub_files = [files[k] for k in members]
        sub_scores = [scores[k] for k in members]
        print(f"-- {category} ({len(members)} files)")
        print(_line(f"  shipped {shipped:.3f}", evaluate(sub_files, sub_scores, shipped)))
        sub_grid, sub_best = optimise(sub_files, sub_scores)
        t = sub_best["standard"]
        print(_line(f"  own standard optimum {t:.3f}", sub_grid[t]))
    if per_file:
        print("per file at the shipped threshold: detected/windows, FP, standard raw score")
        for f, r in zip(files, shipped_summary.results, strict=True):
            raw = r.raw(PROFILES[0])
            print(f"  {f[0]:60s} {r.detected}/{r.windows} fp={r.false_positives:3d} {raw:+.2f}")
    headline = {f"{p.name}_shipped": shipped_summary.nab(p) for p in PROFILES}
    headline |= {f"{p.name}_optimized": grid[best[p.name]].nab(p) for p in PROFILES}
    return headline


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data_dir", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--sweep", action="store_true", help="also print a threshold sweep")
    parser.add_argument("--per-file", action="store_true", help="print each file's outcome")
    parser.add_argument(
        "--cold-start", action="store_true", help="score 1,600-point stretches of each file"
    )
    parser.add_argument(
        "--missing",
        type=float,
        default=0.0,
        help="drop this fraction of each file's points at random (missed scrapes)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of --missing")
    parser.add_argument(
        "--reference",
        choices=("gaussian",),
        help="score a reference detector instead of ours (for scale)",
    )
    args = parser.parse_args(argv)
    if not 0.0 <= args.missing < 1.0:
        parser.error(f"--missing {args.missing}: expected a fraction in [0, 1)")
    files = load(args.data_dir)
    if args.missing:
        files = drop_points(files, args.missing, args.seed)
    if args.cold_start:
        files = cold_start_crops(files)
    started = time.perf_counter()
    scores = [gaussian_scores(f[2]) for f in files] if args.reference else run_scores(files)
    elapsed = time.perf_counter() - started
    points = sum(len(f[1]) for f in files)
    windows = sum(len(f[3]) for f in files)
    print(f"files: {len(files)}, points: {points}, windows: {windows}, scored in {elapsed:.1f} s")
    report(files, scores, args.threshold, args.per_file)
    if args.sweep:
        print("threshold sweep:")
        for t in np.round(np.arange(0.2, 0.81, 0.05), 2):
            print(_line(f"  {t:.2f}", evaluate(files, scores, float(t))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
