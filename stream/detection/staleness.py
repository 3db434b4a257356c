"""Prometheus staleness markers: the NaN whose bits are ``0x7ff0000000000002``.

A staleness marker ends a series (the target vanished or the rule stopped producing it). It is
never scored, and the next sample starts fresh feature state. Any other NaN is an ordinary
(non-finite) sample value.

Examples
--------
>>> stale_mask(np.array([STALE_NAN, float("nan"), 2.0])).tolist()
[True, False, False]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from aidevops.staleness import STALE_NAN, STALE_NAN_BITS, is_stale_marker

__all__ = ["STALE_NAN_BITS", "STALE_NAN", "is_stale_marker", "stale_mask"]


def stale_mask(values: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Element-wise :func:`is_stale_marker` over a float64 array."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    mask: npt.NDArray[np.bool_] = bits == np.uint64(STALE_NAN_BITS)
    return mask
