"""Detection throughput on one core: samples/s through the batch and the per-series APIs.

Usage: ``python benchmarks/detection_throughput.py [--series N] [--batch B] [--seconds S]``.
Series are warmed past their first HST window before timing, so every timed sample is fully
scored (features, trees, calibration) and learnt. Single-threaded numpy (set
``OMP_NUM_THREADS=1`` to be sure no BLAS thread helps; none of these operations use BLAS).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from stream.detection.bank import DetectorBank  # noqa: E402
from stream.detection.config import DetectorConfig  # noqa: E402
from stream.detection.detector import SeriesDetector  # noqa: E402

STEP_MS = 15_000


def batch_rate(n_series: int, batch: int, seconds: float) -> float:
    """Samples/s of :meth:`DetectorBank.process`, one sample per series per batch."""
    config = DetectorConfig()
    bank = DetectorBank(config, capacity=n_series)
    rng = np.random.default_rng(0)
    keys = list(range(n_series))
    levels = rng.uniform(1.0, 1000.0, n_series)
    step = 0

    def run_step() -> int:
        nonlocal step
        values = levels * (1.0 + 0.05 * rng.standard_normal(n_series))
        for start in range(0, n_series, batch):
            stop = min(start + batch, n_series)
            bank.process(
                keys[start:stop], np.full(stop - start, step * STEP_MS), values[start:stop]
            )
        step += 1
        return n_series

    while step < config.window_size + 10:  # warm past the first window
        run_step()
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        done += run_step()
    return done / (time.perf_counter() - started)


def per_series_rate(seconds: float) -> float:
    """Samples/s of :meth:`SeriesDetector.process_one` on one warmed series."""
    detector = SeriesDetector()
    rng = np.random.default_rng(1)
    i = 0
    for i in range(600):
        detector.process_one(i * STEP_MS, float(rng.normal(10.0, 1.0)))
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(500):
            i += 1
            detector.process_one(i * STEP_MS, float(rng.normal(10.0, 1.0)))
        done += 500
    return done / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    rate = batch_rate(args.series, args.batch, args.seconds)
    print(f"batch API ({args.series} series, batches of {args.batch}): {rate:,.0f} samples/s/core")
    rate = per_series_rate(args.seconds)
    print(f"per-series API (SeriesDetector.process_one): {rate:,.0f} samples/s/core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
