"""A fault that comes back: the peak score of a second identical fault against the first's.

    .venv/bin/python benchmarks/detection_repeats.py [--shift 10] [--length 90] [--seeds 4]

Gaussian noise (15 s apart) gets a level shift of ``--shift`` standard deviations for
``--length`` points at point 1,500, and the same shift again ``gap`` points after the first
began, for several gaps. Both go through ``aidevops backtest``'s code (the production
detector at its shipped defaults); printed per gap: the peak score of each fault (the
median over ``--seeds`` series) and how many of the second faults reached the shipped
threshold. A detector that learnt the first fault as part of the series' normal history
scores the second lower. Beside the shipped configuration: the same without quarantine
(``censor_probability`` 0: every point is learnt), and with a shorter memory of its feature
scaling (``feature_span``), the one memory that quarantine leaves to learn the fault.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from stream.detection.backtest import backtest  # noqa: E402
from stream.detection.config import DEFAULT_THRESHOLD, DetectorConfig  # noqa: E402

START = 1_500
GAPS = (300, 600, 1_500, 3_000, 6_000)
CONFIGS = {
    "shipped": DetectorConfig(),
    "no quarantine": DetectorConfig(censor_probability=0.0),
    "feature_span 100": DetectorConfig(feature_span=100.0),
}


def peaks(
    config: DetectorConfig, gap: int, shift: float, length: int, seed: int
) -> tuple[float, float]:
    """Peak scores of the first and the second fault of one seeded series."""
    rng = np.random.default_rng(seed)
    values = 100.0 + rng.normal(0.0, 1.0, START + gap + length + 50)
    for begin in (START, START + gap):
        values[begin : begin + length] -= shift
    scores = np.array(
        backtest([(1_600_000_000 + 15 * i, v) for i, v in enumerate(values)], config=config)
    )
    first = scores[START : START + length].max()
    second = scores[START + gap : START + gap + length].max()
    return float(first), float(second)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shift", type=float, default=10.0, help="in standard deviations")
    parser.add_argument("--length", type=int, default=90, help="points each fault lasts")
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args(argv)
    if args.length < 1 or args.seeds < 1 or args.length > min(GAPS):
        parser.error(f"--length must be in [1, {min(GAPS)}] and --seeds at least 1")
    print(
        f"{args.shift:g} sd shift for {args.length} points at point {START}, again gap points "
        f"later; median peak score over {args.seeds} series, first / second fault"
    )
    for label, config in CONFIGS.items():
        cells = []
        for gap in GAPS:
            runs = [peaks(config, gap, args.shift, args.length, s) for s in range(args.seeds)]
            first = statistics.median(a for a, _ in runs)
            second = statistics.median(b for _, b in runs)
            hit = sum(b >= DEFAULT_THRESHOLD for _, b in runs)
            cells.append(f"gap {gap}: {first:.2f}/{second:.2f} ({hit}/{len(runs)})")
        print(f"{label:22s} " + "  ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
