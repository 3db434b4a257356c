"""Feature extraction: from a sample to the point in ``[0, 1]**2`` the shared trees see.

A series' *base value* ``x`` is its value (gauge) or its per-second rate (counter). The
detector sees two features of it:

* ``level``: ``x`` itself — catches values outside the usual range;
* ``delta``: ``x - x_prev`` — catches jumps, and together with ``level`` shapes that are
  unusual at a level (a flat line where the signal usually moves, a drop where it usually
  rises).

Each feature is standardised by its own exponentially weighted mean and variance (the
series' own recent range) and squashed into ``(0, 1)`` by a logistic, so that the random
splits of the shared trees (drawn on ``[0, 1]``) are valid for every series, whatever its
unit. Unlike a min-max scaler the mapping never clips: values far outside the usual range land
in the sparse outer cells of the trees.

Examples
--------
>>> import numpy as np
>>> squash(np.array([-100.0, 0.0, 100.0]), 2.0).round(3).tolist()
[0.0, 0.5, 1.0]
>>> increase, reset = counter_increase(np.array([10.0, 10.0]), np.array([15.0, 3.0]))
>>> increase.tolist(), reset.tolist()
([5.0, 3.0], [False, True])
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["FEATURES", "counter_increase", "ew_alpha", "ew_update", "squash", "standardise"]

#: Feature names, in the (sorted) order the shared trees index them.
FEATURES = ("delta", "level")

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def counter_increase(previous: FloatArray, value: FloatArray) -> tuple[FloatArray, BoolArray]:
    """Increase of a counter between two samples, with resets (a drop means a restart at 0).

    Returns
    -------
    ``(increase, reset)``: after a reset the increase is the new value itself.
    """
    reset = value < previous
    increase: FloatArray = np.where(reset, value, value - previous)
    return increase, reset


def ew_alpha(n_seen: npt.NDArray[np.integer], span: float) -> FloatArray:
    """Weight of the next observation: the plain mean at first, then ``1/span``.

    Examples
    --------
    >>> ew_alpha(np.array([0, 1, 9, 1000]), 10.0).tolist()
    [1.0, 0.5, 0.1, 0.1]
    """
    alpha: FloatArray = np.maximum(1.0 / (n_seen.astype(np.float64) + 1.0), 1.0 / span)
    return alpha


def ew_update(
    mean: FloatArray, var: FloatArray, x: FloatArray, alpha: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Exponentially weighted mean and variance after observing ``x`` (West, 1979).

    Examples
    --------
    >>> m, v = ew_update(np.array([0.0]), np.array([0.0]), np.array([2.0]), np.array([0.5]))
    >>> m.tolist(), v.tolist()
    ([1.0], [1.0])
    """
    diff = x - mean
    incr = alpha * diff
    new_mean: FloatArray = mean + incr
    new_var: FloatArray = (1.0 - alpha) * (var + diff * incr)
    return new_mean, new_var


def standardise(x: FloatArray, mean: FloatArray, var: FloatArray) -> FloatArray:
    """``(x - mean) / sd`` with a floor on ``sd`` relative to ``|mean|`` (constant series).

    Examples
    --------
    >>> standardise(np.array([3.0]), np.array([1.0]), np.array([4.0])).tolist()
    [1.0]
    """
    sd = np.maximum(np.sqrt(np.maximum(var, 0.0)), 1e-9 * np.abs(mean) + 1e-12)
    z: FloatArray = (x - mean) / sd
    return z


def squash(z: FloatArray, scale: float) -> FloatArray:
    """Logistic map of a z-score into ``(0, 1)``: ``1 / (1 + exp(-z / scale))``."""
    with np.errstate(over="ignore"):
        u: FloatArray = 1.0 / (1.0 + np.exp(-z / scale))
    return u
