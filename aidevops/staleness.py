"""Prometheus' staleness marker: the NaN whose bits are exactly ``0x7ff0000000000002``.

It ends a series (the target vanished, the rule stopped producing it). Any other NaN is an
ordinary sample value, so the marker is recognised by its bits, never by ``isnan``. The
receiver counts markers, the workers end series on them, ``aidevops tail`` shows them.

>>> is_stale_marker(STALE_NAN), is_stale_marker(float("nan")), is_stale_marker(1.0)
(True, False, False)
"""

from __future__ import annotations

import struct

__all__ = ["STALE_NAN", "STALE_NAN_BITS", "STALE_NAN_BYTES", "is_stale_marker"]

STALE_NAN_BITS = 0x7FF0000000000002
#: Its eight bytes as a little-endian double is encoded (protobuf's fixed64 layout).
STALE_NAN_BYTES = struct.pack("<Q", STALE_NAN_BITS)
#: The marker as a Python float (its bits survive copies, struct and numpy float64 arrays).
STALE_NAN: float = struct.unpack("<d", STALE_NAN_BYTES)[0]


def is_stale_marker(value: float) -> bool:
    """Whether ``value`` is the staleness marker (bit-exact, not just any NaN)."""
    return value != value and struct.pack("<d", value) == STALE_NAN_BYTES
