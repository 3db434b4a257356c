"""The backtest CLI core: one score per row, from the production pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stream.detection.backtest import backtest, main
from stream.detection.bank import DetectorBank
from stream.detection.config import DEFAULT_THRESHOLD


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
