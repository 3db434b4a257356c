"""The backtest CLI core: one score per row, from the production pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aidevops.pb import scores_pb2
from stream.detection.backtest import backtest, main
from stream.detection.bank import DetectorBank
from stream.detection.config import DEFAULT_THRESHOLD
from stream.detection.metric_kind import MetricKind


def _write(path: Path, rows: list[tuple[str, float]]) -> Path:
    path.write_text("timestamp,value\n" + "".join(f"{t},{v}\n" for t, v in rows))
    return path


def test_main_prints_one_score_per_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(10.0, 1.0, 1500)
    values[1400] = 40.0
    rows = [
        (f"2014-04-{1 + i // 1440:02d} {i // 60 % 24:02d}:{i % 60:02d}:00", float(v))
        for i, v in enumerate(values)
    ]
    assert main([str(_write(tmp_path / "s.csv", rows))]) == 0
    scores = [float(line) for line in capsys.readouterr().out.splitlines()]
    assert len(scores) == len(rows)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores[1400] >= DEFAULT_THRESHOLD
    assert scores[1400] >= np.percentile(scores, 99.5)


def test_backtest_equals_the_bank_and_accepts_unix_times() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(3.0, 0.5, 500)
    seconds = [(1_400_000_000 + 60 * i, float(v)) for i, v in enumerate(values)]
    millis = [(str(1_400_000_000_000 + 60_000 * i), str(v)) for i, v in enumerate(values)]
    bank = DetectorBank()
    out = bank.process(["x"] * len(values), np.arange(len(values)) * 60_000, values)
    assert backtest(seconds) == backtest(millis) == out.score.tolist()


def test_counter_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [(str(1_400_000_000 + 15 * i), float(100 * i)) for i in range(10)]
    assert main([str(_write(tmp_path / "c.csv", rows)), "--counter"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 10


def test_bad_input_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("time,val\n1,2\n")
    assert main([str(bad)]) == 2
    assert "timestamp,value" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.csv")]) == 2


def test_kind_untyped_replays_what_the_worker_scores_for_a_series_without_a_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from stream.alerting.policy import AlertPolicy, PolicyConfig
    from stream.worker.engine import ScoringEngine
    from tests.support.series import STEP, T0, series_message

    rng = np.random.default_rng(2)
    values = np.cumsum(rng.poisson(20, 700)).astype(float)
    values[400:] -= values[399] - 3.0  # the exporter restarted: a reset, not a gauge
    engine = ScoringEngine(AlertPolicy(PolicyConfig()), clock=lambda: 1000.0)
    worker: list[float] = []
    for i, value in enumerate(values):
        out = engine.process([(0, series_message(7, "node_vmstat_pgfault", [value], i, 0))])
        worker += [p.score for _, _, raw in out.scores for p in _points(raw)] or [0.0]
    rows = [(str((T0 + i * STEP) // 1000), float(v)) for i, v in enumerate(values)]
    assert main([str(_write(tmp_path / "u.csv", rows)), "--kind", "untyped"]) == 0
    replayed = [float(line) for line in capsys.readouterr().out.splitlines()]
    assert replayed == pytest.approx(worker, abs=1e-6)  # the CSV keeps 6 decimals
    assert backtest(rows, kind=None) != backtest(rows, kind=MetricKind.UNTYPED)


def _points(raw: bytes) -> list[scores_pb2.ScoredPoint]:
    return list(scores_pb2.ScoreBatch.FromString(raw).points)
