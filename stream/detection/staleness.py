"""Prometheus staleness markers: the NaN whose bits are ``0x7ff0000000000002``.

A staleness marker ends a series (the target vanished or the rule stopped producing it). It is
never scored, and the next sample starts fresh feature state. Any other NaN is an ordinary
(non-finite) sample value.

Examples
--------
>>> import struct
>>> marker = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]
>>> is_stale_marker(marker), is_stale_marker(float("nan")), is_stale_marker(1.0)
(True, False, False)
>>> stale_mask(np.array([marker, float("nan"), 2.0])).tolist()
[True, False, False]
"""

from __future__ import annotations

import struct

import numpy as np
import numpy.typing as npt

__all__ = ["STALE_NAN_BITS", "STALE_NAN", "is_stale_marker", "stale_mask"]

STALE_NAN_BITS = 0x7FF0000000000002
#: The marker as a Python float (its bits survive copies, struct and numpy float64 arrays).
STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]


def is_stale_marker(value: float) -> bool:
    """Whether ``value`` is the staleness marker (bit-exact, not just any NaN)."""
    return value != value and struct.pack("<d", value) == struct.pack("<Q", STALE_NAN_BITS)


def stale_mask(values: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Element-wise :func:`is_stale_marker` over a float64 array."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    mask: npt.NDArray[np.bool_] = bits == np.uint64(STALE_NAN_BITS)
    return mask
