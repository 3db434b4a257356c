"""Score buckets: which item a point belongs to, and the DynamoDB items of one bucket.

A *bucket* is one series over one fixed time window (``bucket_ms``, aligned to the epoch).
Its points are sorted by timestamp and cut into *chunks* of at most
:func:`points_per_chunk` points; each chunk is one item::

    pk          S  "<tenant>#<series id, 16 hex digits>"
    sk          S  "<bucket start ms, 13 digits>#<chunk, 5 digits>"
    tenant      S, series_id S (hex), labels M (S values), bucket_start N, bucket_end N,
    chunk       N, chunks N (chunk 0 only: how many chunks the bucket has),
    count N, first_ts N, last_ts N, max_score N (of the chunk; absent if all NaN),
    points      B  (see :mod:`stream.storage.codec`), expires_at N (TTL, epoch seconds)

The chunk size is a worst-case bound (incompressible doubles, every value an exception), so
no item can exceed :data:`ITEM_BUDGET_BYTES` (350 KB, under DynamoDB's 400 KB limit) whatever
the bucket holds. Real data packs to 2-4 bytes per point, so one bucket is normally one item.
Items are a pure function of the bucket's point set, so writing the same points again
yields identical items.

Examples
--------
>>> bucket_start(1_700_000_123_456, 3_600_000)
1699999200000
>>> sort_key(1699999200000, 0)
'1699999200000#00000'
>>> series_pk("default", 0xDEADBEEF)
'default#00000000deadbeef'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from stream.storage.codec import WORST_CASE_BYTES_PER_POINT, ScorePoint, pack_points

__all__ = [
    "ITEM_BUDGET_BYTES",
    "LABELS_BUDGET_BYTES",
    "bucket_items",
    "bucket_start",
    "item_size",
    "parse_sort_key",
    "points_per_chunk",
    "series_pk",
    "sort_key",
    "stored_labels",
]

ITEM_BUDGET_BYTES = 350_000
LABELS_BUDGET_BYTES = 128_000
# Key and bookkeeping attributes: names plus the largest numbers and strings they can hold.
_FIXED_OVERHEAD_BYTES = 1_024


def bucket_start(timestamp_ms: int, bucket_ms: int) -> int:
    """Start of the bucket holding ``timestamp_ms`` (floor; negative times work too)."""
    return timestamp_ms - timestamp_ms % bucket_ms


def series_pk(tenant: str, series_id: int) -> str:
    """Partition key of a series."""
    return f"{tenant}#{series_id:016x}"


def sort_key(start_ms: int, chunk: int) -> str:
    """Sort key of a chunk; strings sort by time because the width is fixed."""
    return f"{start_ms:013d}#{chunk:05d}"


def parse_sort_key(sk: str) -> tuple[int, int]:
    """Inverse of :func:`sort_key`.

    >>> parse_sort_key('1699999200000#00003')
    (1699999200000, 3)
    """
    start, chunk = sk.split("#")
    return int(start), int(chunk)


def _utf8(text: str) -> int:
    return len(text.encode("utf-8"))


def stored_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """Labels as stored: sorted by name, cut at :data:`LABELS_BUDGET_BYTES` in total.

    Prometheus limits make the cut theoretical; it only keeps an item under 400 KB when a
    receiver was configured without label limits.

    >>> stored_labels({"job": "node", "__name__": "up"})
    {'__name__': 'up', 'job': 'node'}
    """
    out: dict[str, str] = {}
    used = 0
    for name in sorted(labels):
        size = _utf8(name) + _utf8(labels[name]) + 1
        if used + size > LABELS_BUDGET_BYTES:
            break
        out[name] = labels[name]
        used += size
    return out


def points_per_chunk(labels: Mapping[str, str]) -> int:
    """Most points one chunk may hold so that the item stays within the budget.

    >>> points_per_chunk({"__name__": "up"})
    5816
    """
    labels_size = 3 + sum(_utf8(k) + _utf8(v) + 1 for k, v in labels.items())
    room = ITEM_BUDGET_BYTES - _FIXED_OVERHEAD_BYTES - labels_size
    return max(1, room // WORST_CASE_BYTES_PER_POINT)


def _number(value: int | float) -> dict[str, str]:
    return {"N": repr(value)}


def bucket_items(
    tenant: str,
    series_id: int,
    labels: Mapping[str, str],
    start_ms: int,
    bucket_ms: int,
    points: Sequence[ScorePoint],
    retention_days: int,
) -> list[dict[str, Any]]:
    """The items of one bucket holding ``points`` (deduplicated by timestamp, last wins).

    >>> pts = [ScorePoint(1_000 * i, float(i), 0.1 * i, 0) for i in range(3)]
    >>> [item["sk"]["S"] for item in bucket_items("t", 1, {}, 0, 60_000, pts, 30)]
    ['0000000000000#00000']
    """
    kept = stored_labels(labels)
    by_ts = {p.timestamp: p for p in points}
    ordered = [by_ts[t] for t in sorted(by_ts)]
    per_chunk = points_per_chunk(kept)
    n_chunks = max(1, math.ceil(len(ordered) / per_chunk))
    end_ms = start_ms + bucket_ms
    expires_at = end_ms // 1000 + retention_days * 86_400
    pk = series_pk(tenant, series_id)
    items = []
    for chunk in range(n_chunks):
        part = ordered[chunk * per_chunk : (chunk + 1) * per_chunk]
        item: dict[str, Any] = {
            "pk": {"S": pk},
            "sk": {"S": sort_key(start_ms, chunk)},
            "tenant": {"S": tenant},
            "series_id": {"S": f"{series_id:016x}"},
            "labels": {"M": {k: {"S": v} for k, v in kept.items()}},
            "bucket_start": _number(start_ms),
            "bucket_end": _number(end_ms),
            "chunk": _number(chunk),
            "count": _number(len(part)),
            "points": {"B": pack_points(part)},
            "expires_at": _number(expires_at),
        }
        if chunk == 0:
            item["chunks"] = _number(n_chunks)
        if part:
            item["first_ts"] = _number(part[0].timestamp)
            item["last_ts"] = _number(part[-1].timestamp)
        finite = [p.score for p in part if not math.isnan(p.score)]
        if finite and all(math.isfinite(s) for s in finite):
            item["max_score"] = _number(max(finite))
        items.append(item)
    return items


def _value_size(value: Mapping[str, Any]) -> int:
    (kind, payload), *_ = value.items()
    if kind == "S":
        return _utf8(payload)
    if kind == "B":
        return len(payload)
    if kind == "N":
        digits = len(payload.lstrip("-").replace(".", "").replace("e", "").lstrip("0")) or 1
        return min(21, (digits + 1) // 2 + 1)
    if kind == "BOOL" or kind == "NULL":
        return 1
    if kind == "M":
        return 3 + sum(_utf8(k) + _value_size(v) + 1 for k, v in payload.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in payload)
    if kind in ("SS",):
        return sum(_utf8(s) for s in payload)
    raise ValueError(f"unsupported attribute type {kind}")


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """DynamoDB's size of an item in bytes (names plus values; numbers approximated upward).

    >>> item_size({"pk": {"S": "abc"}, "n": {"N": "12345"}})
    10
    """
    return sum(_utf8(name) + _value_size(value) for name, value in item.items())
