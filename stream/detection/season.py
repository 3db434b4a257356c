"""A compact per-series daily profile, learnt online, so that rhythms are not anomalies.

Many metrics follow the clock: traffic rises at 09:00 and falls at 18:00, a backup runs at
02:00. Compared with the last half hour, every such step looks anomalous, every day. Each series
therefore keeps a **daily profile**: the mean of its base value in each of ``N_BINS``
five-minute bins of the UTC day, learnt online:

* a sample adds ``q = min(dt, bin width) / bin width`` to its bin's weight (``dt`` = time since
  the previous sample), so one day of samples in a bin weighs 1 whatever the scrape interval;
  the bin's mean is the plain mean until the weight reaches ``memory_days``, then an
  exponentially weighted mean forgetting over that many days (old rhythms fade, a new one is
  learnt in about as many days);
* the profile is only *used* for a bin after a full day in it (weight >= 1), and only as much
  as it has predicted better than the series' plain running mean: the **gain** ``g`` is the
  online least-squares coefficient of ``x - mean`` on ``profile - mean``, computed from
  predictions made *before* each sample was learnt (out of sample), clipped to ``[0, 1]`` and
  shrunk while few predictions were checked. On a series without a rhythm the profile predicts
  no better than the mean and ``g`` stays near 0; on a series with a strong one ``g`` nears 1.

The detector then sees ``x - g * (profile[bin] - mean)`` in place of ``x``: a step that
happens at this time every day is expected and scores low, while the same step at an unusual
hour (or a missing daily step) still stands out. Bins are five minutes wide so that a short
daily event (a cron job's spike) has a bin of its own instead of shifting the expectation of
its neighbours; the profile costs 288 float32 means and 288 float16 weights per series
(1.7 KB; a weight is a count of days up to ``memory_days``, so 3 significant digits do).

Examples
--------
>>> import numpy as np
>>> time_bin(np.array([0, 5 * 60_000 - 1, 5 * 60_000, DAY_MS + 60_000]))
array([0, 0, 1, 0])
>>> mean, weight = np.zeros((1, N_BINS), np.float32), np.zeros((1, N_BINS), np.float16)
>>> rows, bins = np.array([0]), np.array([3])
>>> for value in (10.0, 20.0):  # two days' worth in bin 3 (one sample per bin per day)
...     learn_profile(mean, weight, rows, bins, np.array([value]), np.array([1.0]), 5.0)
>>> float(mean[0, 3]), float(weight[0, 3])
(15.0, 2.0)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "BIN_MS",
    "DAY_MS",
    "N_BINS",
    "profile_gain",
    "learn_profile",
    "sample_weight",
    "time_bin",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

DAY_MS = 86_400_000
#: Five-minute bins of the UTC day.
N_BINS = 288
BIN_MS = DAY_MS // N_BINS


def time_bin(ts: npt.NDArray[np.int64]) -> IntArray:
    """Bin of the UTC day (0 .. N_BINS-1) of each timestamp in milliseconds."""
    bins: IntArray = ((ts % DAY_MS) // BIN_MS).astype(np.intp)
    return bins


def sample_weight(dt_ms: npt.NDArray[np.int64]) -> FloatArray:
    """Share of a bin-day a sample stands for: ``min(dt, bin width) / bin width`` (> 0).

    Examples
    --------
    >>> sample_weight(np.array([15_000, BIN_MS, 10 * BIN_MS, 0])).round(5).tolist()
    [0.05, 1.0, 1.0, 0.05]
    """
    dt = np.where(dt_ms > 0, dt_ms, 15_000)  # no previous sample: a typical scrape interval
    q: FloatArray = np.minimum(dt, BIN_MS) / BIN_MS
    return q


def learn_profile(
    mean: npt.NDArray[np.float32],
    weight: npt.NDArray[np.float16],
    rows: IntArray,
    bins: IntArray,
    x: FloatArray,
    q: FloatArray,
    memory_days: float,
) -> None:
    """Update, in place, the profile bins ``(rows, bins)`` with base values ``x``."""
    w_old = weight[rows, bins].astype(np.float64)
    w_new = np.minimum(w_old + q, memory_days)
    alpha = np.minimum(q / np.maximum(w_new, 1e-12), 1.0)
    m_old = mean[rows, bins].astype(np.float64)
    mean[rows, bins] = m_old + alpha * (x - m_old)
    weight[rows, bins] = w_new


def profile_gain(
    xy: FloatArray, yy: FloatArray, n_checked: npt.NDArray[np.integer], prior: float
) -> FloatArray:
    """How much of the profile to trust: ``clip(xy / yy, 0, 1) * n / (n + prior)``.

    ``xy`` and ``yy`` are running means of ``(x - mean) * (profile - mean)`` and
    ``(profile - mean) ** 2`` over ``n`` out-of-sample predictions.

    Examples
    --------
    >>> xy, yy, n = np.array([4.0, 0.1, 1.0]), np.array([4.0, 4.0, 0.0]), np.array([900, 900, 0])
    >>> profile_gain(xy, yy, n, prior=100.0).tolist()
    [0.9, 0.0225, 0.0]
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(yy > 0, xy / yy, 0.0)
    n = n_checked.astype(np.float64)
    gain: FloatArray = np.clip(slope, 0.0, 1.0) * n / (n + prior)
    return gain
