"""The River estimator contract, checked on every detector class."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import pytest
from river import base

from stream.detection.detector import SeriesDetector
from stream.detection.hst import CompactHalfSpaceTrees


def _hst_inputs(seed: int) -> list[dict[Hashable, Any]]:
    rng = np.random.default_rng(seed)
    return [{"a": float(a), "b": float(b)} for a, b in rng.uniform(0, 1, (120, 2))]


def _series_inputs(seed: int) -> list[dict[Hashable, Any]]:
    rng = np.random.default_rng(seed)
    values = rng.normal(10.0, 1.0, 320)
    values[-1] = 25.0
    return [{"timestamp": i * 15_000, "value": float(v)} for i, v in enumerate(values)]


DETECTORS: list[tuple[Callable[..., base.AnomalyDetector], dict[str, Any], Any]] = [
    (CompactHalfSpaceTrees, {"n_trees": 3, "height": 4, "window_size": 20}, _hst_inputs),
    (SeriesDetector, {"n_trees": 5, "window_size": 50, "warmup": 100}, _series_inputs),
]
IDS = [d[0].__name__ for d in DETECTORS]


def _scores(detector: base.AnomalyDetector, xs: list[dict[Hashable, Any]]) -> list[float]:
    scores = []
    for x in xs:
        scores.append(detector.score_one(x))
        detector.learn_one(x)
    return scores


@pytest.mark.parametrize(("cls", "params", "inputs"), DETECTORS, ids=IDS)
def test_is_a_river_anomaly_detector(cls: Any, params: dict[str, Any], inputs: Any) -> None:
    assert isinstance(cls(**params), base.AnomalyDetector)


@pytest.mark.parametrize(("cls", "params", "inputs"), DETECTORS, ids=IDS)
def test_params_are_stored_unchanged(cls: Any, params: dict[str, Any], inputs: Any) -> None:
    detector = cls(seed=7, **params)
    _scores(detector, inputs(0))
    stored = detector._get_params()
    for name, value in {**params, "seed": 7}.items():
        assert stored[name] == value


@pytest.mark.parametrize(("cls", "params", "inputs"), DETECTORS, ids=IDS)
def test_clone_is_fresh_and_equivalent(cls: Any, params: dict[str, Any], inputs: Any) -> None:
    trained = cls(seed=3, **params)
    xs = inputs(1)
    expected = _scores(trained, xs)
    clone = trained.clone()
    assert clone is not trained
    assert clone._get_params() == trained._get_params()
    assert _scores(clone, xs) == expected  # untrained: replays the same history exactly


@pytest.mark.parametrize(("cls", "params", "inputs"), DETECTORS, ids=IDS)
def test_seed_determines_everything(cls: Any, params: dict[str, Any], inputs: Any) -> None:
    xs = inputs(2)
    first = _scores(cls(seed=11, **params), xs)
    assert _scores(cls(seed=11, **params), xs) == first
    assert _scores(cls(seed=12, **params), xs) != first


@pytest.mark.parametrize(("cls", "params", "inputs"), DETECTORS, ids=IDS)
def test_learn_and_score_types(cls: Any, params: dict[str, Any], inputs: Any) -> None:
    detector = cls(**params)
    for x in inputs(3):
        score = detector.score_one(x)
        assert isinstance(score, float)
        assert 0.0 <= score <= 1.0 and not math.isnan(score)
        assert detector.learn_one(x) is None


@pytest.mark.parametrize(("cls", "params", "inputs"), DETECTORS, ids=IDS)
def test_score_one_does_not_learn(cls: Any, params: dict[str, Any], inputs: Any) -> None:
    xs = inputs(4)
    detector = cls(**params)
    for x in xs[:-1]:
        detector.learn_one(x)
    before = detector.score_one(xs[-1])
    for _ in range(3):
        assert detector.score_one(xs[-1]) == before
