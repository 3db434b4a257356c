"""Simulated ordinary series, and the calibration prior they give (:mod:`stream.detection.prior`).

``python -m stream.detection.prior_simulation`` prints :data:`~stream.detection.prior.DEFAULT_PRIOR`
for the default detector parameters, to paste into :mod:`stream.detection.prior` after a change
to the features, the trees or the smoothing (a test fails until then).
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import numpy.typing as npt

from stream.detection.bank import DetectorBank
from stream.detection.calibration import BIN_WIDTH, N_BINS, smoothed_surprise, surprise
from stream.detection.config import DetectorConfig

__all__ = ["ordinary_series", "simulate_prior"]

FloatArray = npt.NDArray[np.float64]

#: Points simulated per series, and the first one whose level is counted (whatever the
#: warm-up: the prior describes settled series).
POINTS = 6000
SKIP = 400
SERIES_PER_KIND = 8
SEED = 7


def ordinary_series(rng: np.random.Generator) -> FloatArray:
    """``(POINTS, 3 * SERIES_PER_KIND)``: Gaussian noise, Poisson counts of mean 5 and 50."""
    columns = [rng.normal(10.0, 1.0, POINTS) for _ in range(SERIES_PER_KIND)]
    for mean in (5.0, 50.0):
        columns += [rng.poisson(mean, POINTS).astype(np.float64) for _ in range(SERIES_PER_KIND)]
    return np.stack(columns, axis=1)


def simulate_prior(config: DetectorConfig | None = None) -> FloatArray:
    """Histogram (``N_BINS`` weights summing to 1) of the levels of simulated ordinary series."""
    config = config if config is not None else DetectorConfig()
    data = ordinary_series(np.random.default_rng(SEED))
    n_series = data.shape[1]
    # Raw scores do not depend on calibration: without the prior the levels are the same.
    bank = DetectorBank(dataclasses.replace(config, calibration_prior=0.0), capacity=n_series)
    keys = list(range(n_series))
    timestamps = 1_700_000_000_000 + np.arange(POINTS, dtype=np.int64) * 60_000
    first_scored = config.window_size + 1  # the first point only primes the delta
    level = np.zeros(n_series)
    counts = np.zeros(N_BINS)
    for t in range(POINTS):
        out = bank.process(keys, np.full(n_series, timestamps[t]), data[t])
        if t < first_scored:
            continue
        n_cal = np.full(n_series, t - first_scored)
        level = smoothed_surprise(level, surprise(out.raw_score), n_cal, config.smoothing)
        if t >= SKIP:
            bins = np.clip((level / BIN_WIDTH).astype(np.intp), 0, N_BINS - 1)
            counts += np.bincount(bins, minlength=N_BINS)
    prior: FloatArray = counts / counts.sum()
    return prior


def main() -> int:
    prior = simulate_prior()
    top = int(np.flatnonzero(prior).max()) + 1
    values = [f"{w:.6g}" for w in prior[:top]]
    print("DEFAULT_PRIOR: tuple[float, ...] = (")
    for i in range(0, top, 6):
        print("    " + ", ".join(values[i : i + 6]) + ",")
    print(")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
