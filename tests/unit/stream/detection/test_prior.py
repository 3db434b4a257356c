"""The calibration prior: what young series are judged by, fading as their own history fills."""

from __future__ import annotations

import dataclasses

import numpy as np

from stream.detection.bank import DetectorBank
from stream.detection.calibration import BIN_WIDTH, N_BINS, tail_probability
from stream.detection.config import DEFAULT_THRESHOLD, DetectorConfig
from stream.detection.prior import calibration_prior
from stream.detection.prior_simulation import simulate_prior

STEP = 60_000


def _scores(values: np.ndarray, prior: float) -> np.ndarray:
    """Scores of every column of ``values`` as one series each, with ``prior`` pseudo-points."""
    n_points, n_series = values.shape
    bank = DetectorBank(
        dataclasses.replace(DetectorConfig(), calibration_prior=prior), capacity=n_series
    )
    keys = list(range(n_series))
    scores = np.zeros_like(values)
    for t in range(n_points):
        scores[t] = bank.process(keys, np.full(n_series, t * STEP), values[t]).score
    return scores


def test_stored_prior_is_the_simulated_one() -> None:
    # Fails after a change to the features, trees or smoothing until the stored prior is
    # regenerated: python -m stream.detection.prior_simulation
    np.testing.assert_allclose(calibration_prior(), simulate_prior(), rtol=1e-5, atol=1e-9)


def test_prior_is_a_read_only_distribution() -> None:
    prior = calibration_prior()
    assert prior.min() >= 0 and abs(prior.sum() - 1.0) < 1e-9
    assert not prior.flags.writeable


def test_young_series_shift_is_judged_against_ordinary_series() -> None:
    # Heavy-ish tailed noise, 300 points past warm-up, then a 20-point shift of 3 units: the
    # series' own short history cannot make the shift rare, series in general can.
    rng = np.random.default_rng(11)
    values = 10.0 + rng.standard_t(5, (800, 30))
    values[700:720] += 3.0
    detected = {
        prior: int((_scores(values, prior)[700:720].max(axis=0) >= DEFAULT_THRESHOLD).sum())
        for prior in (0.0, DetectorConfig().calibration_prior)
    }
    assert detected[DetectorConfig().calibration_prior] >= detected[0.0] + 3, detected


def test_prior_fades_out_once_the_history_fills_the_span() -> None:
    config = DetectorConfig()
    values = np.random.default_rng(5).normal(0.0, 1.0, (2600, 2))
    with_prior, without = _scores(values, config.calibration_prior), _scores(values, 0.0)
    # Calibration starts at window_size + 1 points; its span is full calibration_span later.
    full = config.window_size + 1 + int(config.calibration_span)
    assert not np.array_equal(with_prior[: full - 1], without[: full - 1])
    np.testing.assert_array_equal(with_prior[full:], without[full:])


def test_tail_probability_with_prior_is_that_of_the_blended_history() -> None:
    rng = np.random.default_rng(2)
    n_rows = 200
    hist = np.zeros((n_rows, N_BINS), np.float32)
    for row in range(n_rows):  # each row its own spread of past levels
        levels = rng.gamma(4.0, rng.uniform(0.05, 0.4), 300)
        hist[row] = np.bincount(
            np.clip((levels / BIN_WIDTH).astype(int), 0, N_BINS - 1), minlength=N_BINS
        ) / len(levels)
    own = rng.choice([0.0, 30.0, 500.0, 1500.0, 2000.0], n_rows)
    count = np.clip(2000.0 - own, 0.0, 1000.0)
    levels = rng.uniform(0.0, 4.0, n_rows)  # inside the histories and far beyond
    prior = calibration_prior()
    got = tail_probability(hist, own, levels, 0.05, prior, count)
    total = own + count
    blended = ((own[:, None] * hist + count[:, None] * prior[None, :]) / total[:, None]).astype(
        np.float32
    )  # as histograms are stored
    want = tail_probability(blended, total, levels, 0.05)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert (got < 1e-3).sum() > 10 and (got > 0.1).sum() > 10  # both regimes were exercised
