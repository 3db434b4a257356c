"""Lossless, compact binary packing of scored points: what a bucket item's ``points`` holds.

DynamoDB bills one write unit per started kilobyte of item, so the cost target
(<= 5,000 WCU per million scored samples) means a stored point may cost at most ~5 bytes,
labels and keys included. Prometheus data is very regular, and this codec exploits it:

* points are sorted by timestamp, one point per timestamp;
* timestamps are stored as delta-of-delta (a steady scrape interval becomes zeros);
* values and scores are stored as *decimal integers* when that is exact (ALP-style:
  ``0.371`` is ``371 * 10**-3``; every double whose shortest repr has at most 15
  significant decimals round-trips), either raw or as deltas, whichever compresses better;
  values that are not (NaN, infinities, ``-0.0``, 1/3, ...) are kept as exceptions with
  their exact bits;
* each integer column is zig-zagged to unsigned 64-bit, byte-shuffled (all low bytes,
  then all second bytes, ...) and deflated, so the constant high bytes vanish.

Decoding returns exactly the floats that were encoded, bit for bit. The same points always
encode to the same bytes (given one zlib build), which is what makes replays idempotent.

Examples
--------
>>> pts = [ScorePoint(1_700_000_000_000 + 15_000 * i, 0.5 + i / 1000, i / 100, 0)
...        for i in range(100)]
>>> blob = pack_points(pts)
>>> unpack_points(blob) == pts
True
>>> len(blob) < 200
True
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Iterable, Sequence
from typing import NamedTuple

__all__ = [
    "FORMAT_VERSION",
    "WORST_CASE_BYTES_PER_POINT",
    "ScorePoint",
    "pack_points",
    "packed_count",
    "unpack_points",
]

FORMAT_VERSION = 1
_MAX_EXPONENT = 15
_EXACT_INT_LIMIT = float(2**53)
_RAW, _DELTA, _DELTA2 = 0, 1, 2
_U64 = (1 << 64) - 1
# Per point at worst: 8 (timestamp) + 2 x (8 column + 4 exception position + 8 exception bits)
# + 8 (flags); zlib adds at most ~0.1 % plus a few bytes per column, covered by the margin.
WORST_CASE_BYTES_PER_POINT = 60


class ScorePoint(NamedTuple):
    """One stored point of a series: what ``read_scores`` returns.

    ``feature`` and ``raw_score`` of the Kafka message are not stored: they are random-looking
    doubles that would triple the bytes per point; the ``scores`` topic keeps them.
    """

    timestamp: int
    """Milliseconds since the Unix epoch."""
    value: float
    """The sample as received."""
    score: float
    """Calibrated anomaly score in [0, 1]."""
    flags: int
    """Bitwise OR of ``aidevops.v1.ScoreFlag``."""


def _zigzag(n: int) -> int:
    return ((n << 1) ^ (n >> 63)) & _U64


def _unzigzag(z: int) -> int:
    return (z >> 1) ^ -(z & 1)


def _shuffle(words: Sequence[int]) -> bytes:
    raw = struct.pack(f"<{len(words)}Q", *words)
    return b"".join(raw[i::8] for i in range(8))


def _unshuffle(planes: bytes, n: int) -> list[int]:
    raw = bytearray(8 * n)
    for i in range(8):
        raw[i::8] = planes[i * n : (i + 1) * n]
    return list(struct.unpack(f"<{n}Q", raw))


def _deflate(data: bytes) -> bytes:
    # Raw deflate: the zlib header and checksum would cost 6 bytes per column.
    packer = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    return packer.compress(data) + packer.flush()


def _deltas(ints: Sequence[int], order: int) -> list[int]:
    out = list(ints)
    for _ in range(order):
        out = out[:1] + [b - a for a, b in zip(out, out[1:], strict=False)]
    return out


def _undeltas(ints: list[int], order: int) -> list[int]:
    out = ints
    for _ in range(order):
        acc = 0
        summed = []
        for d in out:
            acc += d
            summed.append(acc)
        out = summed
    return out


def _encode_ints(ints: Sequence[int], modes: Iterable[int]) -> bytes:
    """Smallest of the candidate encodings; 1 mode byte, then the zlib'd shuffled words."""
    best = b""
    for mode in modes:
        body = _deflate(_shuffle([_zigzag(d) for d in _deltas(ints, mode)]))
        candidate = bytes([mode]) + struct.pack("<I", len(body)) + body
        if not best or len(candidate) < len(best):
            best = candidate
    return best


def _decode_ints(blob: memoryview, n: int) -> tuple[list[int], memoryview]:
    mode = blob[0]
    (size,) = struct.unpack_from("<I", blob, 1)
    body = zlib.decompress(blob[5 : 5 + size], -15)
    ints = _undeltas([_unzigzag(z) for z in _unshuffle(body, n)], mode)
    return ints, blob[5 + size :]


def _is_exact(v: float, i: int, scale: float) -> bool:
    return i / scale == v and (v != 0.0 or math.copysign(1.0, v) > 0)


def _decimal_exponent(values: Sequence[float]) -> int:
    """The smallest ``e`` with ``v == round(v * 10**e) / 10**e`` for as many values as possible."""
    exponent = 0
    for v in values:
        if not math.isfinite(v):
            continue
        for e in range(exponent, _MAX_EXPONENT + 1):
            scale = 10.0**e
            scaled = v * scale
            if abs(scaled) >= _EXACT_INT_LIMIT:
                break
            if _is_exact(v, round(scaled), scale):
                exponent = e
                break
    return exponent


def _encode_floats(values: Sequence[float]) -> bytes:
    exponent = _decimal_exponent(values)
    scale = 10.0**exponent
    ints: list[int] = []
    exceptions: list[tuple[int, float]] = []
    for pos, v in enumerate(values):
        i = 0
        if math.isfinite(v) and abs(v * scale) < _EXACT_INT_LIMIT:
            i = round(v * scale)
        if not _is_exact(v, i, scale):
            exceptions.append((pos, v))
            i = ints[-1] if ints else 0  # keeps deltas small around the gap
        ints.append(i)
    head = struct.pack("<BI", exponent, len(exceptions))
    positions = struct.pack(f"<{len(exceptions)}I", *(p for p, _ in exceptions))
    bits = struct.pack(f"<{len(exceptions)}d", *(v for _, v in exceptions))
    return head + positions + bits + _encode_ints(ints, (_RAW, _DELTA))


def _decode_floats(blob: memoryview, n: int) -> tuple[list[float], memoryview]:
    exponent, n_exc = struct.unpack_from("<BI", blob)
    offset = 5
    positions = struct.unpack_from(f"<{n_exc}I", blob, offset)
    offset += 4 * n_exc
    bits = struct.unpack_from(f"<{n_exc}d", blob, offset)
    offset += 8 * n_exc
    ints, rest = _decode_ints(blob[offset:], n)
    scale = 10.0**exponent
    values = [i / scale for i in ints]
    for pos, v in zip(positions, bits, strict=True):
        values[pos] = v
    return values, rest


def pack_points(points: Iterable[ScorePoint]) -> bytes:
    """Encode points (any order; for one timestamp the last one given wins) into bytes.

    Examples
    --------
    >>> a = ScorePoint(1000, 1.0, 0.25, 1)
    >>> b = ScorePoint(2000, float("nan"), 0.5, 0)
    >>> c = ScorePoint(1000, 2.0, 0.75, 0)
    >>> [p.value for p in unpack_points(pack_points([a, b, c]))]
    [2.0, nan]
    """
    by_ts = {p.timestamp: p for p in points}
    ordered = [by_ts[t] for t in sorted(by_ts)]
    n = len(ordered)
    return b"".join(
        [
            struct.pack("<BI", FORMAT_VERSION, n),
            _encode_ints([p.timestamp for p in ordered], (_DELTA2,)),
            _encode_floats([p.value for p in ordered]),
            _encode_floats([p.score for p in ordered]),
            _encode_ints([p.flags for p in ordered], (_RAW,)),
        ]
    )


def packed_count(blob: bytes) -> int:
    """How many points ``blob`` holds, without decoding them.

    >>> packed_count(pack_points([ScorePoint(1, 0.0, 0.0, 0)]))
    1
    """
    version, n = struct.unpack_from("<BI", blob)
    if version != FORMAT_VERSION:
        raise ValueError(f"unknown points format version {version}")
    return int(n)


def unpack_points(blob: bytes) -> list[ScorePoint]:
    """Decode :func:`pack_points` output, oldest first.

    >>> unpack_points(pack_points([]))
    []
    """
    n = packed_count(blob)
    view = memoryview(blob)[5:]
    timestamps, view = _decode_ints(view, n)
    values, view = _decode_floats(view, n)
    scores, view = _decode_floats(view, n)
    flags, view = _decode_ints(view, n)
    return [ScorePoint(*row) for row in zip(timestamps, values, scores, flags, strict=True)]
