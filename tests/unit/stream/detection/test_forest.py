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
