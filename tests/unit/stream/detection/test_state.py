"""Per-series state serialization: compact, checked, and an exact round trip."""

from __future__ import annotations

import zlib

import cramjam
import numpy as np
import pytest

from stream.detection.bank import DetectorBank, DetectorStateError
from stream.detection.config import DetectorConfig
from stream.detection.detector import SeriesDetector
from stream.detection.flags import ScoreFlag
from stream.detection.metric_kind import MetricKind

STEP = 15_000


def _values(n: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    values = np.cumsum(rng.poisson(20, n)).astype(np.float64)
    values[n // 2 :] -= values[n // 2 - 1]  # a counter reset half way
    return values


def test_round_trip_gives_identical_subsequent_scores() -> None:
    values = _values(900)
    original = DetectorBank()
    original.add("s", MetricKind.COUNTER)
    for i in range(600):
        original.process(["s"], np.array([i * STEP]), np.array([values[i]]))
    state = original.state_bytes("s")
    assert len(state) < 20_000
    restored = DetectorBank(capacity=1)
    restored.load_state("s", state)
    assert restored.kind("s") == MetricKind.COUNTER
    for i in range(600, 900):
        a = original.process(["s"], np.array([i * STEP]), np.array([values[i]]))
        b = restored.process(["s"], np.array([i * STEP]), np.array([values[i]]))
        assert all(np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b, strict=True))
    assert restored.state_bytes("s") == original.state_bytes("s")


def test_series_detector_round_trip() -> None:
    detector = SeriesDetector(kind=MetricKind.COUNTER)
    values = _values(700)
    for i in range(500):
        detector.process_one(i * STEP, float(values[i]))
    restored = SeriesDetector.from_bytes(detector.to_bytes(), kind=MetricKind.COUNTER)
    for i in range(500, 700):
        assert restored.process_one(i * STEP, values[i]) == detector.process_one(
            i * STEP, values[i]
        )


def test_state_from_other_parameters_is_refused() -> None:
    bank = DetectorBank(DetectorConfig(n_trees=5))
    bank.process(["s"], np.array([0]), np.array([1.0]))
    with pytest.raises(DetectorStateError):
        DetectorBank(DetectorConfig(n_trees=6)).load_state("s", bank.state_bytes("s"))
    with pytest.raises(DetectorStateError):
        DetectorBank(DetectorConfig(seed=1)).load_state("s", bank.state_bytes("s"))


def test_corrupt_state_is_refused() -> None:
    bank = DetectorBank(DetectorConfig(n_trees=5))
    bank.process(["s"], np.array([0]), np.array([1.0]))
    state = bank.state_bytes("s")
    with pytest.raises(DetectorStateError):
        bank.load_state("t", state[:-5])
    with pytest.raises(DetectorStateError):
        bank.load_state("t", b"garbage")
    assert "t" not in bank


def _as_version_1(bank: DetectorBank, key: str) -> bytes:
    """What a version 1 worker wrote: the fields up to feat_var, then 64 float32 bins."""
    slot = bank._slots[key]
    names = [f.name for f in bank._fields]
    kept = bank._fields[: names.index("feat_var") + 1]
    body = b"".join(bank._arrays[f.name][slot].tobytes() for f in kept)
    body += np.full(64, 1 / 64, dtype=np.float32).tobytes()
    header = bank._header(version=1)
    return header + zlib.compress(body, 1)


def test_version_1_state_keeps_the_trees_and_recalibrates() -> None:
    values = np.random.default_rng(3).normal(10.0, 1.0, 1200)
    old = DetectorBank(capacity=1)
    for i in range(1000):
        old.process(["s"], np.array([i * STEP]), np.array([values[i]]))
    restored = DetectorBank(capacity=1)
    restored.load_state("s", _as_version_1(old, "s"))
    for name in ("r_cum", "l_leaf", "last_ts", "prev_x", "feat_mean", "feat_var"):
        assert np.array_equal(restored._arrays[name][0], old._arrays[name][0])
    replay = restored.process(["s"], np.array([999 * STEP]), np.array([values[999]]))
    assert not replay.emitted[0]  # the replay guard survived
    config = restored.config
    flags = [
        int(restored.process(["s"], np.array([i * STEP]), np.array([values[i]])).flags[0])
        for i in range(1000, 1200)
    ]
    recalibrating = config.warmup - config.window_size
    assert all(f & ScoreFlag.WARMUP for f in flags[:recalibrating])
    assert not any(f & ScoreFlag.WARMUP for f in flags[recalibrating:])
    with pytest.raises(DetectorStateError):  # a truncated version 1 state is still refused
        restored.load_state("t", _as_version_1(old, "s")[:-3])


@pytest.mark.parametrize("version", [3, 4])
def test_a_state_from_before_the_weekly_profile_keeps_everything_else(version: int) -> None:
    values = np.random.default_rng(5).normal(10.0, 1.0, 900)
    old = DetectorBank(capacity=1)
    for i in range(600):
        old.process(["s"], np.array([i * 300_000]), np.array([values[i]]))
    slot = old._slots["s"]
    names = [f.name for f in old._fields]
    kept = old._fields[: names.index("cal_hist") + 1]
    body = b"".join(old._arrays[f.name][slot].tobytes() for f in kept)
    packed = zlib.compress(body, 1) if version == 3 else cramjam.lz4.compress_block(body)
    restored = DetectorBank(capacity=1)
    restored.load_state("s", old._header(version=version) + bytes(packed))
    for field in kept:
        assert np.array_equal(restored._arrays[field.name][0], old._arrays[field.name][slot])
    assert not restored._arrays["week_weight"][0].any()
    assert old._arrays["week_weight"][slot].any()  # what the old state did not have
    a = restored.process(["s"], np.array([600 * 300_000]), np.array([values[600]]))
    assert a.emitted[0] and not a.flags[0] & ScoreFlag.WARMUP
    with pytest.raises(DetectorStateError):
        restored.load_state("t", old._header(version=version) + bytes(packed)[:-4])


def _older_state(old: DetectorBank, slot: int, version: int, last_field: str) -> bytes:
    """``old``'s row as a state of ``version``, whose last field was ``last_field``; the
    fields after it are set in ``old`` to what loading such a state assumes."""
    names = [f.name for f in old._fields]
    kept = old._fields[: names.index(last_field) + 1]
    body = b"".join(old._arrays[f.name][slot].tobytes() for f in kept)
    for field in old._fields[len(kept) :]:
        old._arrays[field.name][slot] = 0
    if "gain_mean" not in [f.name for f in kept]:
        old._arrays["gain_mean"][slot] = old._arrays["x_mean"][slot]
    return old._header(version=version) + bytes(cramjam.lz4.compress_block(body))


def test_a_version_5_state_checks_its_gains_around_its_running_mean() -> None:
    ts = np.arange(700, dtype=np.int64) * 300_000
    values = 10.0 + np.random.default_rng(6).normal(0.0, 1.0, len(ts))
    old = DetectorBank(capacity=1)
    old.process(["s"] * 600, ts[:600], values[:600])
    slot = old._slots["s"]
    packed = _older_state(old, slot, 5, "week_weight")
    restored = DetectorBank(capacity=1)
    restored.load_state("s", packed)
    for field in old._fields:
        assert np.array_equal(restored._arrays[field.name][0], old._arrays[field.name][slot])
    assert restored._arrays["gain_mean"][0] != 0.0
    later = restored.process(["s"] * 100, ts[600:], values[600:])
    assert np.array_equal(later.score, old.process(["s"] * 100, ts[600:], values[600:]).score)
    with pytest.raises(DetectorStateError):
        restored.load_state("t", packed[:-4])


def test_a_version_6_state_learns_its_spreads_afresh() -> None:
    """Three days of a nightly job at 60 s, as a state from before the bins' spreads: it
    loads, keeps everything it had, and learns the spreads from then on."""
    ts = np.arange(4 * 1440, dtype=np.int64) * 60_000
    minute = (ts % 86_400_000) / 60_000
    values = 5.0 + 85.0 * ((minute >= 120) & (minute < 123))
    values += np.random.default_rng(8).normal(0.0, 1.0, len(ts))
    old = DetectorBank(capacity=1)
    cut = 3 * 1440
    old.process(["s"] * cut, ts[:cut], values[:cut])
    slot = old._slots["s"]
    assert old._arrays["season_dev"][slot].max() > 2.0  # what the old state did not have
    restored = _loads_as_it_was(old, _older_state(old, slot, 6, "gain_mean"), ts, values, cut)
    assert restored._arrays["dev_mean"][0] > 0.0


def test_a_version_7_state_has_no_quarantined_run_open() -> None:
    """A state saved in the middle of a fault, from before the scaling was held through
    one: it loads with no run open (the scaling it has is the one it goes on with)."""
    ts = np.arange(1_600, dtype=np.int64) * 15_000
    values = 10.0 + np.random.default_rng(9).normal(0.0, 1.0, len(ts))
    values[1_500:1_520] += 20.0
    old = DetectorBank(capacity=1)
    cut = 1_510
    old.process(["s"] * cut, ts[:cut], values[:cut])
    slot = old._slots["s"]
    assert old._arrays["held_run"][slot] > 0  # what the old state did not have
    _loads_as_it_was(old, _older_state(old, slot, 7, "visit_bin"), ts, values, cut)


def _loads_as_it_was(
    old: DetectorBank, packed: bytes, ts: np.ndarray, values: np.ndarray, cut: int
) -> DetectorBank:
    """A bank restored from ``packed`` (``old``'s series "s" as an older state): it holds
    what ``old`` holds, scores the rest of ``values`` as ``old`` does, and refuses the
    state truncated."""
    slot = old._slots["s"]
    restored = DetectorBank(capacity=1)
    restored.load_state("s", packed)
    for field in old._fields:
        assert np.array_equal(restored._arrays[field.name][0], old._arrays[field.name][slot])
    later = restored.process(["s"] * (len(ts) - cut), ts[cut:], values[cut:])
    again = old.process(["s"] * (len(ts) - cut), ts[cut:], values[cut:])
    assert np.array_equal(later.score, again.score)
    with pytest.raises(DetectorStateError):
        restored.load_state("t", packed[:-4])
    return restored
