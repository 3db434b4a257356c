"""The shared forest's tabulated leaf lookup reaches the leaves a walk of the trees reaches."""

from __future__ import annotations

import numpy as np
import pytest

from stream.detection.forest import _walk, shared_forest


@pytest.mark.parametrize(
    ("n_trees", "height", "n_features"), [(25, 8, 2), (10, 8, 2), (5, 3, 1), (7, 6, 3)]
)
def test_leaf_indices_equal_a_walk_of_the_trees(n_trees: int, height: int, n_features: int) -> None:
    forest = shared_forest(n_trees, height, tuple(f"f{i}" for i in range(n_features)), 42)
    rng = np.random.default_rng(0)
    points = [rng.random((5000, n_features)), rng.normal(0.5, 2.0, (500, n_features))]
    # values exactly on thresholds (the comparison is >=), on both sides of them, and
    # the values a walk sends one way at every node: NaN and -inf left, +inf right
    on = rng.choice(forest.threshold.ravel(), (2000, n_features))
    points += [on, np.nextafter(on, -np.inf), np.nextafter(on, np.inf)]
    odd = np.array([np.nan, -np.inf, np.inf, 0.0, -0.0, 1.0])
    points.append(rng.choice(odd, (200, n_features)))
    u = np.concatenate(points)
    assert forest._cells is not None  # tabulated, not walked
    np.testing.assert_array_equal(
        forest.leaf_indices(u), _walk(u, forest.feature, forest.threshold)
    )
    assert forest.leaf_indices(u).dtype == np.intp


def test_raw_scores_of_many_rows_equal_those_of_each_row_alone() -> None:
    """Rows are scored in slices through reused buffers: no slice may leak into another."""
    forest = shared_forest(25, 8, ("delta", "level"), 42)
    rng = np.random.default_rng(1)
    n_series, window = 40, 128
    l_leaf = np.zeros((n_series, forest.n_trees, forest.n_leaves), dtype=np.int64)
    for s in range(n_series):  # spread windows and concentrated ones (long paths)
        spread = rng.random((window, 2)) if s % 2 else rng.normal(0.5, 0.01, (window, 2))
        leaves = forest.leaf_indices(spread)
        for t in range(forest.n_trees):
            l_leaf[s, t] = np.bincount(leaves[:, t], minlength=forest.n_leaves)
    r_cum = np.zeros((n_series, forest.n_trees, forest.n_leaves + 1), dtype=np.uint8)
    r_cum[..., 1:] = np.cumsum(l_leaf, axis=-1)
    rows = rng.integers(0, n_series, 1000)
    leaves = forest.leaf_indices(rng.random((1000, 2)))
    together = forest.raw_scores(r_cum, rows, leaves, window)
    alone = [
        forest.raw_scores(r_cum, rows[i : i + 1], leaves[i : i + 1], window) for i in range(1000)
    ]
    np.testing.assert_array_equal(together, np.concatenate(alone))
    assert len(forest.raw_scores(r_cum, rows[:0], leaves[:0], window)) == 0
