"""The compact HST gives River's scores exactly, and the batch API gives the per-series ones."""

from __future__ import annotations

import numpy as np
import pytest
from river import anomaly

from stream.detection.bank import DetectorBank
from stream.detection.config import DetectorConfig
from stream.detection.detector import SeriesDetector
from stream.detection.forest import shared_forest
from stream.detection.hst import CompactHalfSpaceTrees


@pytest.mark.parametrize(
    ("n_trees", "height", "window_size", "n_features"),
    [(10, 8, 250, 2), (5, 3, 3, 1), (7, 6, 40, 3)],
)
def test_compact_hst_scores_equal_rivers(
    n_trees: int, height: int, window_size: int, n_features: int
) -> None:
    rng = np.random.default_rng(n_trees)
    data = rng.beta(2.0, 5.0, (6 * window_size + 17, n_features))
    data[::37] = rng.uniform(0.0, 1.0, (len(data[::37]), n_features))  # some outliers
    river_hst = anomaly.HalfSpaceTrees(
        n_trees=n_trees, height=height, window_size=window_size, seed=5
    )
    compact = CompactHalfSpaceTrees(n_trees=n_trees, height=height, window_size=window_size, seed=5)
    expected, got = [], []
    for row in data:
        x = {f"f{j}": float(v) for j, v in enumerate(row)}
        expected.append(float(river_hst.score_one(x)))
        got.append(compact.score_one(x))
        river_hst.learn_one(x)
        compact.learn_one(x)
    assert got == expected  # bit for bit
    assert len(set(got)) > 10  # and not trivially so


def test_shared_structure_is_rivers() -> None:
    river_hst = anomaly.HalfSpaceTrees(n_trees=4, height=5, seed=9)
    river_hst.learn_one({"y": 0.5, "x": 0.5})
    forest = shared_forest(4, 5, ("y", "x"), 9)
    for t, root in enumerate(river_hst.trees):
        assert forest.features[forest.feature[t, 0]] == root.feature
        assert forest.threshold[t, 0] == root.threshold
        left = root.children[0]
        assert forest.threshold[t, 1] == left.threshold


def _series(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.normal(100.0 * (seed + 1), 5.0 * (seed + 1), n)
    values[n // 2 :] += 40.0 * (seed + 1)
    return values


def test_batch_api_equals_per_series_api() -> None:
    config = DetectorConfig(n_trees=6, window_size=40, warmup=90)
    n, n_series = 400, 3
    per_series = []
    for k in range(n_series):
        detector = SeriesDetector(n_trees=6, window_size=40, warmup=90)
        points = [detector.process_one(i * 1000, float(v)) for i, v in enumerate(_series(k, n))]
        per_series.append([(p.score, p.raw_score, int(p.flags)) for p in points if p])
    # One batch holding every series, interleaved, several samples per series per batch.
    bank = DetectorBank(config, capacity=1)
    got: list[list[tuple[float, float, int]]] = [[] for _ in range(n_series)]
    for start in range(0, n, 25):
        keys, ts, vals = [], [], []
        for i in range(start, start + 25):
            for k in range(n_series):
                keys.append(f"series-{k}")
                ts.append(i * 1000)
                vals.append(_series(k, n)[i])
        out = bank.process(keys, np.array(ts), np.array(vals))
        for j, key in enumerate(keys):
            k = int(key.rsplit("-", 1)[1])
            got[k].append((float(out.score[j]), float(out.raw_score[j]), int(out.flags[j])))
    for k in range(n_series):
        np.testing.assert_array_equal(np.array(got[k]), np.array(per_series[k]))
