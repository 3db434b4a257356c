"""Prometheus semantics: counters, resets, staleness, ``up``, non-finite values, replays."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stream.detection.bank import DetectorBank
from stream.detection.config import DetectorConfig
from stream.detection.flags import ScoreFlag
from stream.detection.metric_kind import MetricKind, resolve_kind
from stream.detection.staleness import STALE_NAN, is_stale_marker

SMALL = DetectorConfig(n_trees=5, window_size=20, warmup=40)
STEP = 15_000  # ms


def _bank(kind: MetricKind) -> DetectorBank:
    bank = DetectorBank(SMALL)
    bank.add("s", kind)
    return bank


def _one(bank: DetectorBank, ts: int, value: float) -> tuple[float, float, int, bool, bool]:
    """score, feature (NaN -> -1.0 so tuples compare), flags, emitted, stale."""
    out = bank.process(["s"], np.array([ts]), np.array([value]))
    feature = float(out.feature[0])
    return (
        float(out.score[0]),
        -1.0 if math.isnan(feature) else feature,
        int(out.flags[0]),
        bool(out.emitted[0]),
        bool(out.stale[0]),
    )


def test_counter_is_scored_on_its_rate() -> None:
    bank = _bank(MetricKind.COUNTER)
    first = _one(bank, 0, 100.0)
    assert first[1] == -1.0 and first[2] == ScoreFlag.WARMUP  # only primes the rate
    assert _one(bank, STEP, 130.0)[1] == pytest.approx(2.0)  # 30 in 15 s
    assert _one(bank, 2 * STEP, 160.0)[1] == pytest.approx(2.0)


def test_counter_reset_uses_the_value_since_the_reset() -> None:
    bank = _bank(MetricKind.COUNTER)
    _one(bank, 0, 1000.0)
    _one(bank, STEP, 1030.0)
    _, rate, flags, _, _ = _one(bank, 2 * STEP, 15.0)  # restarted: 15 since the reset
    assert rate == pytest.approx(1.0)
    assert flags & ScoreFlag.RESET
    _, rate, flags, _, _ = _one(bank, 3 * STEP, 45.0)
    assert rate == pytest.approx(2.0) and not flags & ScoreFlag.RESET


def test_staleness_marker_is_not_scored_and_restarts_feature_state() -> None:
    assert is_stale_marker(STALE_NAN) and not is_stale_marker(math.nan)
    bank = _bank(MetricKind.COUNTER)
    for i in range(50):
        _one(bank, i * STEP, 10.0 * i)
    score, _, _, emitted, stale = _one(bank, 50 * STEP, STALE_NAN)
    assert (emitted, stale, score) == (False, True, 0.0)
    # Back an hour later with a much higher value: no rate across the gap.
    _, feature, flags, emitted, _ = _one(bank, 300 * STEP, 99_999.0)
    assert emitted and feature == -1.0 and flags == ScoreFlag.WARMUP
    assert _one(bank, 301 * STEP, 100_009.0)[1] == pytest.approx(10.0 / 15.0)


def test_up_zero_is_an_outage_at_once() -> None:
    bank = _bank(resolve_kind("up"))
    assert _one(bank, 0, 0.0) == (1.0, 0.0, ScoreFlag.OUTAGE, True, False)  # no warm-up
    assert _one(bank, STEP, 1.0) == (0.0, 1.0, ScoreFlag.NONE, True, False)
    assert _one(bank, 2 * STEP, 0.0) == (1.0, 0.0, ScoreFlag.OUTAGE, True, False)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_values_do_not_poison_the_model(bad: float) -> None:
    clean, dirty = _bank(MetricKind.GAUGE), _bank(MetricKind.GAUGE)
    rng = np.random.default_rng(0)
    values = rng.normal(5.0, 1.0, 120)
    for i, value in enumerate(values):
        expected = _one(clean, 2 * i * STEP, float(value))
        if i % 10 == 5:
            score, _, flags, emitted, _ = _one(dirty, (2 * i - 1) * STEP, bad)
            assert (score, flags, emitted) == (0.0, ScoreFlag.WARMUP, True)
        assert _one(dirty, 2 * i * STEP, float(value)) == expected


def test_warmup_flags_until_enough_points() -> None:
    bank = _bank(MetricKind.GAUGE)
    rng = np.random.default_rng(1)
    flags = [_one(bank, i * STEP, float(v))[2] for i, v in enumerate(rng.normal(0, 1, 60))]
    # The first sample primes the delta; then `warmup` learnt points.
    assert all(f & ScoreFlag.WARMUP for f in flags[: SMALL.warmup + 1])
    assert not any(f & ScoreFlag.WARMUP for f in flags[SMALL.warmup + 1 :])


def test_replays_are_ignored_and_change_nothing() -> None:
    replayed, fresh = _bank(MetricKind.COUNTER), _bank(MetricKind.COUNTER)
    for i in range(80):
        expected = _one(fresh, i * STEP, 3.0 * i)
        assert _one(replayed, i * STEP, 3.0 * i) == expected
        if i % 7 == 6:  # at-least-once redelivery of the last few samples
            for j in range(i - 3, i + 1):
                assert _one(replayed, j * STEP, 3.0 * j)[3] is False


def test_likely_counter_that_is_not_monotonic_becomes_a_gauge() -> None:
    assert resolve_kind("queue_sum") == MetricKind.LIKELY_COUNTER
    bank = DetectorBank(SMALL)
    bank.add("s", MetricKind.LIKELY_COUNTER)
    values = [10.0, 12.0, 9.0, 11.0, 8.0]  # two decreases within a few samples
    for i, value in enumerate(values):
        bank.process(["s"], np.array([i * STEP]), np.array([value]))
    assert bank.kind("s") == MetricKind.GAUGE
    declared = DetectorBank(SMALL)
    declared.add("s", MetricKind.COUNTER)
    for i, value in enumerate(values):
        declared.process(["s"], np.array([i * STEP]), np.array([value]))
    assert declared.kind("s") == MetricKind.COUNTER


def test_an_untyped_series_is_a_counter_until_it_decreases_as_a_gauge() -> None:
    assert resolve_kind("node_vmstat_pgpgin") == MetricKind.UNTYPED
    assert resolve_kind("node_vmstat_pgpgin", metric_type=2) == MetricKind.GAUGE
    rising = _bank(MetricKind.UNTYPED)
    for i in range(50):
        _one(rising, i * STEP, 1_000.0 + 30.0 * i)
    assert _one(rising, 50 * STEP, 2_500.0)[1] == pytest.approx(2.0)  # scored on its rate
    _, rate, flags, _, _ = _one(rising, 51 * STEP, 15.0)  # to near 0: the exporter restarted
    assert rate == pytest.approx(1.0) and flags & ScoreFlag.RESET
    assert rising.kind("s") == MetricKind.UNTYPED
    # A gauge shows itself at its first ordinary decrease, and starts afresh as one.
    gauge = _bank(MetricKind.UNTYPED)
    for i, value in enumerate([40.0, 42.0, 45.0, 44.0]):
        _one(gauge, i * STEP, value)
    assert gauge.kind("s") == MetricKind.GAUGE
    assert _one(gauge, 4 * STEP, 46.0)[1] == pytest.approx(46.0)  # the value, not a rate
    # A name-only likely counter needs two decreases: one is not enough for it.
    likely = _bank(MetricKind.LIKELY_COUNTER)
    for i, value in enumerate([40.0, 42.0, 45.0, 44.0]):
        _one(likely, i * STEP, value)
    assert likely.kind("s") == MetricKind.LIKELY_COUNTER


def test_eviction_frees_the_row_for_a_new_series() -> None:
    bank = DetectorBank(SMALL, capacity=1)
    bank.process(["a"], np.array([STEP]), np.array([1.0]))
    bank.evict("a")
    assert "a" not in bank and len(bank) == 0
    bank.process(["b"], np.array([0]), np.array([1.0]))  # older timestamp: a fresh detector
    assert bank.keys() == ["b"]
