"""The calibration prior: how unusual the smoothed surprise of an *ordinary* series gets.

Calibration judges a series' smoothed surprise against the series' own history (see
:mod:`stream.detection.calibration`). A young series has little of it: with ``n`` past
levels a new highest level has rank p-value ``1 / (n + 1)``, so below about 1,600 points
of history no level can reach the default threshold unless it lies far out in the fitted
tail. That is honest, but it leaves a series nearly blind for its first day at a 60 s scrape
and for the whole of a short hourly one, which is how most series meet the detector.

What the young series does not know yet, the detector knows about series in general:
the features are scaled z-scores, so the surprise of an ordinary, well-behaved series has
about the same distribution whatever its units. Calibration therefore completes a history
shorter than its span with up to ``calibration_prior`` pseudo-observations from that
distribution (:func:`stream.detection.calibration.tail_probability`), fading out as the series'
own history fills the span. A young series' level beyond anything an ordinary series
produces is then rare from the start, while a series that routinely goes further (heavier
tails, drifts) soon carries that in its own history and stops being judged by the prior.

The prior is the histogram of smoothed-surprise levels of simulated ordinary series run
through the detector itself (:mod:`stream.detection.prior_simulation`): white Gaussian noise
and Poisson counts (means 5 and 50), the light-tailed stationary series a metric without
anomalies most often looks like. It is stored here for the default detector parameters
(regenerate it with ``python -m stream.detection.prior_simulation`` after changing the
detector; a test checks it). Banks configured otherwise (tests, experiments: production
exposes only the warm-up, which does not shape it) use it as an approximation.

On the development set (``benchmarks/nab_eval.py``), with 1,000 pseudo-points: scored on
1,600-point stretches (``--cold-start``), standard 26.3 -> 42.6 and reward-low-FP 25.5 -> 39.8
at the shipped threshold; on whole files 59.9 -> 57.7 (FP per 1,000 points 0.09 -> 0.16).
A prior mixing in heavy-tailed and drifting series (Laplace, Student t, lognormal, random
walk, AR(1)) judged young series more leniently and scored lower on both (33.1 and 54.1).

The price is paid by young series unlike the prior: through the alert policy, in their first
two days at a 60 s scrape (``benchmarks/detection_false_alerts.py --series 40``, warm-up 400),
Student t(3) noise raised 0.037 false alerts per series per day and AR(1) noise with
coefficient 0.9 0.138 (0 and 0.075 without the prior); Laplace noise, Gaussian noise and
Poisson counts none either way. Light-tailed young series are judged *more* leniently than
by their own short history, whose fitted tail is over-confident: 40 such Gaussian series
crossed 0.4 16 times in points 400-2,400 with the prior, 31 times without.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from stream.detection.calibration import N_BINS

__all__ = ["DEFAULT_PRIOR", "calibration_prior"]

FloatArray = npt.NDArray[np.float64]

#: Bin weights of the prior for the default parameters, from bin 0 up (the bins above are 0).
DEFAULT_PRIOR: tuple[float, ...] = (
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    1.4881e-05,
    0.000818452,
    0.0127232,
    0.0727902,
    0.178839,
    0.237374,
    0.199129,
    0.135134,
    0.0790774,
    0.0420536,
    0.0211235,
    0.0106027,
    0.00524554,
    0.00249256,
    0.00133929,
    0.000840774,
    0.000223214,
    8.92857e-05,
    8.18452e-05,
    7.44048e-06,
)


def _histogram() -> FloatArray:
    prior = np.zeros(N_BINS)
    prior[: len(DEFAULT_PRIOR)] = DEFAULT_PRIOR
    total = prior.sum()
    return prior / total if total > 0 else prior


_PRIOR = _histogram()
_PRIOR.flags.writeable = False


def calibration_prior() -> FloatArray:
    """The prior histogram (``N_BINS`` weights summing to 1; read-only)."""
    return _PRIOR
