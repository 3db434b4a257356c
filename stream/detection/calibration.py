"""Calibration: from a raw HST score to one score scale shared by every series.

Raw half-space-tree scores bunch up just below 1 and their spread depends on the series, so
a fixed threshold on them means nothing. The detector reports instead how *surprising* the
recent raw scores are against the series' own history: Numenta's "anomaly likelihood"
(Ahmad et al., 2017: a short moving average of raw scores judged against the distribution of
that average over a long history), made non-parametric:

1. ``surprise = -ln(1 - raw)``: ``1 - raw`` is the (depth-weighted) reference mass around the
   point, so the surprise is a log inverse density, which spreads out the bunch below 1;
2. ``level``: an exponentially weighted mean of the surprises, the newest with weight
   ``smoothing`` (0.15: an effective length of 12 points, close to Numenta's 10-point
   average).
   One odd point among ordinary ones moves it little, so noise seldom scores high, while a
   point far out (a spike) or a run of unusual points (a shift, a change of shape) moves it a
   lot. It also decays within a few points, so an alert marks the *onset* of unusual
   behaviour rather than every point of it;
3. each series keeps an exponentially weighted histogram of its past levels (128 bins of
   0.05: the smoothed level varies less than single surprises, and 0.1-wide bins lumped the
   top of its range together, so anomalies tied with the highest past level; the surprise is
   at most ``ln(2**(height + 1) - 1)``, 6.2 for height 8);
4. ``p`` is the upper-tail probability of the new level under that history: the conformal
   rank p-value ``(n * tail + 1) / (n + 1)`` (``tail`` = weight of past levels at least as
   high, ``n`` = effective history length) inside the body, and beyond the top
   ``tail_fraction`` of the history an exponential tail fitted to the excesses over that
   quantile (peaks-over-threshold with a generalised Pareto tail of shape 0, as in SPOT,
   Siffer et al., KDD 2017), so that levels beyond anything seen get probabilities
   below ``1 / n``, down to ``1 / (n + 1)**2`` at most (n observations cannot support less,
   and so a short history, just after warm-up, cannot give extreme scores);
5. ``score = min(1, -log10(p) / decades)``.

So a score ``s`` means "a recent run of raw scores at least this unusual is expected with
probability ``10**(-s * decades)`` at any one point given this series' history", the same on
every series. A log scale keeps the interesting range readable (on a probability scale every
alert would read 0.999...). Because the history includes recent anomalies, a persisting
anomaly stops scoring high after a while: a lasting shift is the alert policy's concern.

Examples
--------
>>> import numpy as np
>>> hist = np.zeros((1, N_BINS), np.float32)
>>> for a in np.random.default_rng(1).normal(2.0, 0.2, 2000):
...     hist = update_histogram(hist, np.array([a]), np.array([1 / 500]))
>>> hist = np.repeat(hist, 3, axis=0)
>>> p = tail_probability(hist, np.full(3, 500.0), np.array([2.0, 2.6, 4.0]), 0.05)
>>> p.round(4).tolist()
[0.4882, 0.0029, 0.0]
>>> score_from_probability(np.array([0.5, 1e-3, 1e-12]), decades=6.0).round(2).tolist()
[0.05, 0.5, 1.0]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "BIN_WIDTH",
    "N_BINS",
    "ordinary",
    "score_from_probability",
    "smoothed_surprise",
    "surprise",
    "tail_probability",
    "update_histogram",
]

FloatArray = npt.NDArray[np.float64]
HistArray = npt.NDArray[np.float32]

N_BINS = 128
BIN_WIDTH = 0.05
_CENTRES = (np.arange(N_BINS) + 0.5) * BIN_WIDTH
# From this many rows on, _upper sums all rows one bin at a time (measured crossover
# about 300 rows; 370 against 190 us for 800).
_ACROSS_ROWS = 256


def surprise(raw: FloatArray) -> FloatArray:
    """``-ln(1 - raw)``: the HST score as a log inverse density (0 for raw 0).

    Examples
    --------
    >>> surprise(np.array([0.0, 0.9])).round(3).tolist()
    [0.0, 2.303]
    """
    out: FloatArray = 0.0 - np.log(np.maximum(1.0 - raw, 1e-12))
    return out


def smoothed_surprise(
    previous: FloatArray, a: FloatArray, n_seen: npt.NDArray[np.integer], smoothing: float
) -> FloatArray:
    """Exponentially weighted mean of surprises: ``a`` itself when nothing was seen before.

    Examples
    --------
    >>> smoothed_surprise(np.array([0.0, 1.0]), np.array([2.0, 2.0]), np.array([0, 5]), 0.2)
    array([2. , 1.2])
    """
    level: FloatArray = np.where(n_seen > 0, previous + smoothing * (a - previous), a)
    return level


def _bins(a: FloatArray) -> npt.NDArray[np.intp]:
    return np.clip((a / BIN_WIDTH).astype(np.intp), 0, N_BINS - 1)


def update_histogram(hist: HistArray, a: FloatArray, alpha: FloatArray) -> HistArray:
    """Exponentially weighted histogram after observing surprises ``a`` (rows sum to 1).

    Computed in float32, the dtype histograms are stored in: a batch's (B, N_BINS)
    temporaries are half the size and the bytes stored are those computed.
    """
    weight = alpha.astype(np.float32)
    new: HistArray = hist * (np.float32(1.0) - weight)[:, None]
    new[np.arange(len(a)), _bins(a)] += weight
    return new


def _upper(hist: HistArray) -> HistArray:
    """``upper[:, k]``: the weight of bins >= k, each row summed from its top bin down.

    The sums are float32, added in the order of ``np.cumsum`` along a reversed row. numpy
    accumulates along a row one element at a time, so for many rows the same additions
    are made one bin at a time across all rows instead, on the transposed histograms.

    >>> hist = np.random.default_rng(0).random((300, N_BINS), dtype=np.float32)
    >>> by_row = np.cumsum(hist[:, ::-1], axis=1)[:, ::-1]
    >>> len(hist) >= _ACROSS_ROWS and bool((_upper(hist) == by_row).all())
    True
    """
    if len(hist) < _ACROSS_ROWS:
        return np.cumsum(hist[:, ::-1], axis=1)[:, ::-1]
    upper = hist.T.copy()
    for k in range(N_BINS - 2, -1, -1):
        np.add(upper[k + 1], upper[k], out=upper[k])
    across: HistArray = upper.T
    return across


def ordinary(hist: HistArray, a: FloatArray, tail_fraction: float) -> npt.NDArray[np.bool_]:
    """Whether each surprise ``a`` is in the body of its row's history: at least
    ``tail_fraction`` of the past levels are as high (below the tail that the exponential
    fit of :func:`tail_probability` covers).

    Examples
    --------
    >>> hist = np.zeros((2, N_BINS), np.float32)
    >>> hist[:, 10] = 1.0  # every past level was 0.5
    >>> ordinary(hist, np.array([0.3, 2.0]), 0.05).tolist()
    [True, False]
    """
    body: npt.NDArray[np.bool_] = _upper(hist)[np.arange(len(a)), _bins(a)] >= tail_fraction
    return body


def tail_probability(
    hist: HistArray,
    n_eff: FloatArray,
    a: FloatArray,
    tail_fraction: float,
    prior: FloatArray | None = None,
    prior_count: FloatArray | None = None,
) -> FloatArray:
    """Probability of a surprise at least ``a`` given each row's history (see module doc).

    Parameters
    ----------
    hist
        ``(B, N_BINS)`` histograms (rows sum to 1, or to 0 before any history).
    n_eff
        ``(B,)`` effective number of past surprises behind each histogram.
    a
        ``(B,)`` surprises to evaluate.
    tail_fraction
        History fraction above the quantile where the exponential tail takes over.
    prior, prior_count
        Optionally, an ``(N_BINS,)`` histogram and ``(B,)`` numbers of pseudo-observations
        from it that complete each row's history (:mod:`stream.detection.prior`): the row is
        judged on ``(n_eff * hist + prior_count * prior) / (n_eff + prior_count)`` with
        ``n_eff + prior_count`` observations. Only the rows needing the tail fit are blended
        bin by bin; the others need one bin of it.
    """
    rows = np.arange(len(a))
    bins = _bins(a)
    upper = _upper(hist)  # upper[:, k] = weight of bins >= k
    tail = upper[rows, bins].astype(np.float64)
    own = n_eff
    if prior is not None and prior_count is not None:
        # Only young rows (prior_count > 0) are blended: a full history is judged as it is.
        prior_upper = np.cumsum(prior[::-1])[::-1]
        n_eff = own + prior_count
        young = np.flatnonzero(prior_count > 0)
        tail[young] = (
            own[young] * tail[young] + prior_count[young] * prior_upper[bins[young]]
        ) / n_eff[young]
    p: FloatArray = (n_eff * tail + 1.0) / (n_eff + 1.0)
    # Extrapolate only where the history has (almost) nothing at least as high: rare, so the
    # tail is fitted for those rows only. Rows without history are left out: their p is 1,
    # and so is their floor below (every detector's first points, before any calibration).
    rare = np.flatnonzero((n_eff * tail < 1.0) & (n_eff > 0))
    if len(rare) == 0:
        return p
    up, ar, n = upper[rare].astype(np.float64), a[rare], n_eff[rare]
    h = hist[rare].astype(np.float64)
    if prior is not None and prior_count is not None:
        mine, theirs = (own[rare] / n)[:, None], (prior_count[rare] / n)[:, None]
        up = mine * up + theirs * prior_upper[None, :]
        h = mine * h + theirs * prior[None, :]
    sub = np.arange(len(rare))
    # Peaks over threshold: u = lower edge of the highest bin with upper weight >= fraction.
    k_u = np.maximum((up >= tail_fraction).sum(axis=1) - 1, 0)
    q_u = up[sub, k_u]
    u = k_u * BIN_WIDTH
    above = np.arange(N_BINS)[None, :] >= k_u[:, None]
    excess = ((_CENTRES[None, :] - u[:, None]) * h * above).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = np.where(q_u > 0, excess / q_u, BIN_WIDTH)
        beta = np.maximum(beta, BIN_WIDTH / 2)
        p_tail = q_u * np.exp(-(ar - u) / beta)
    beyond = (ar >= u + BIN_WIDTH) & (q_u > 0)
    # ... but never below 1 / (n + 1)**2: n observations cannot support a smaller
    # probability, and a short history (just after warm-up) must not give extreme scores.
    floor = 1.0 / (n + 1.0) ** 2
    p_rank = p[rare]
    p[rare] = np.where(beyond, np.maximum(np.minimum(p_rank, p_tail), floor), p_rank)
    return p


def score_from_probability(p: FloatArray, decades: float) -> FloatArray:
    """``min(1, -log10(p) / decades)``."""
    with np.errstate(divide="ignore"):
        score: FloatArray = np.clip(-np.log10(p) / decades, 0.0, 1.0) + 0.0  # no -0.0
    return score
