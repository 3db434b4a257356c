"""A River ``HalfSpaceTrees`` whose tree structure is shared and whose masses are compact.

Examples
--------
The doctest of River's own ``HalfSpaceTrees``, with identical output:

>>> X = [0.5, 0.45, 0.43, 0.44, 0.445, 0.45, 0.0]
>>> hst = CompactHalfSpaceTrees(n_trees=5, height=3, window_size=3, seed=42)
>>> for x in X[:3]:
...     hst.learn_one({"x": x})
>>> for x in X:
...     features = {"x": x}
...     hst.learn_one(features)
...     print(f"Anomaly score for x={x:.3f}: {hst.score_one(features):.3f}")
Anomaly score for x=0.500: 0.107
Anomaly score for x=0.450: 0.071
Anomaly score for x=0.430: 0.107
Anomaly score for x=0.440: 0.107
Anomaly score for x=0.445: 0.107
Anomaly score for x=0.450: 0.071
Anomaly score for x=0.000: 0.853
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
from river import base

from stream.detection.forest import MAX_WINDOW_SIZE, Forest, shared_forest

__all__ = ["CompactHalfSpaceTrees"]

_ROW0 = np.zeros(1, dtype=np.intp)


class CompactHalfSpaceTrees(base.AnomalyDetector):
    """Half-space trees (Tan, Ting & Liu, 2011) with River's exact algorithm and scores.

    Differences from :class:`river.anomaly.HalfSpaceTrees`, none of which changes a score:

    * the tree structure comes from :func:`~stream.detection.forest.shared_forest`, so every
      instance with the same ``n_trees``, ``height``, ``seed`` and feature names shares it;
    * masses are uint8 leaf arrays (``window_size`` is limited to 255);
    * features must all be present in every ``x`` (River routes a missing feature to the
      heavier child; a Prometheus feature vector is never partial, so that path is not needed);
    * ``seed`` must be an int, because a shared structure must be reproducible.

    Features are expected in ``[0, 1]``, River's default ``limits``.

    Parameters
    ----------
    n_trees
        Number of trees.
    height
        Height of each tree (``2**height`` leaves).
    window_size
        Observations per mass window (at most 255).
    seed
        Seed of the shared random structure.
    """

    def __init__(
        self, n_trees: int = 10, height: int = 8, window_size: int = 250, seed: int = 42
    ) -> None:
        if not 1 <= window_size <= MAX_WINDOW_SIZE:
            raise ValueError(f"window_size must be in [1, {MAX_WINDOW_SIZE}]")
        if n_trees < 1 or height < 1:
            raise ValueError("n_trees and height must be at least 1")
        self.n_trees = n_trees
        self.height = height
        self.window_size = window_size
        self.seed = seed
        self._forest: Forest | None = None
        leaves = 1 << height
        self._r_cum = np.zeros((1, n_trees, leaves + 1), dtype=np.uint8)
        self._l_leaf = np.zeros((1, n_trees, leaves), dtype=np.uint8)
        self._counter = 0
        self._first_window = True

    def _row(self, x: dict[Hashable, Any], forest: Forest) -> np.ndarray[Any, np.dtype[np.float64]]:
        return np.array([[float(x[name]) for name in forest.features]], dtype=np.float64)

    def learn_one(self, x: dict[Hashable, Any]) -> None:
        """Add ``x`` to the latest window's masses; pivot the window when it is full."""
        if self._forest is None:
            self._forest = shared_forest(self.n_trees, self.height, tuple(x), self.seed)
        forest = self._forest
        leaves = forest.leaf_indices(self._row(x, forest))[0]
        self._l_leaf[0, np.arange(self.n_trees), leaves] += 1
        self._counter += 1
        if self._counter == self.window_size:
            np.cumsum(self._l_leaf[0], axis=-1, out=self._r_cum[0, :, 1:])
            self._l_leaf[...] = 0
            self._counter = 0
            self._first_window = False

    def score_one(self, x: dict[Hashable, Any]) -> float:
        """River's score: 0 during the first window, else in ``[0, 1]``, high = anomalous."""
        if self._first_window or self._forest is None:
            return 0.0
        forest = self._forest
        leaves = forest.leaf_indices(self._row(x, forest))
        return float(forest.raw_scores(self._r_cum, _ROW0, leaves, self.window_size)[0])
