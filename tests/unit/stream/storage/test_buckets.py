from __future__ import annotations

import random

from stream.storage.buckets import (
    ITEM_BUDGET_BYTES,
    bucket_items,
    item_size,
    points_per_chunk,
)
from stream.storage.codec import ScorePoint, unpack_points


def test_full_bucket_of_incompressible_points_splits_under_400kb() -> None:
    rng = random.Random(5)
    labels = {f"label_{i:02d}": "v" * 2048 for i in range(60)}  # receiver's worst case
    n = 3 * points_per_chunk(labels) + 17
    pts = [ScorePoint(i, rng.uniform(-1e12, 1e12), rng.random(), 7) for i in range(n)]
    items = bucket_items("t", 1, labels, 0, 3_600_000, pts, 30)
    assert len(items) == 4
    assert max(item_size(i) for i in items) <= ITEM_BUDGET_BYTES
    assert sum(len(unpack_points(i["points"]["B"])) for i in items) == n
    assert items[0]["chunks"] == {"N": "4"}


def test_items_are_a_function_of_the_point_set() -> None:
    pts = [ScorePoint(1000 * i, float(i), 0.5, 0) for i in range(100)]
    a = bucket_items("t", 9, {"job": "x"}, 0, 3_600_000, pts, 30)
    b = bucket_items("t", 9, {"job": "x"}, 0, 3_600_000, list(reversed(pts)) + pts[:10], 30)
    assert a == b
    assert a[0]["max_score"] == {"N": "0.5"}
