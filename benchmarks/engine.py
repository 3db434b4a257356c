"""Scoring engine benchmark: samples/s of the framework-free core, no Kafka, no Faust.

    .venv/bin/python benchmarks/engine.py [--series 2000] [--rounds 30] [--history 0]
    .venv/bin/python benchmarks/engine.py --digest

Schema-2 records (one per partition per round) of ``--series`` series with 9 labels and one
sample each, as the receiver writes a remote-write request with one sample per series,
scored by :class:`stream.worker.engine.ScoringEngine` with the real detectors and alert
policy. The first five rounds warm the series up and are not timed.

Without ``--history`` every timed sample is one of a series' first points, which the
detector only learns (no half-space-tree score before ``window_size`` points, no alert-grade
score before ``warmup``). ``--history 500`` first has each series' detector learn 500 earlier
points (straight through the detector bank, untimed), so the timed rounds are the steady
state of long-lived series.

``--digest`` times nothing: it prints the hash of every output of a seeded mixed workload
(:mod:`tests.support.workload`), which ``tests/unit/stream/worker/test_engine_digest.py``
holds; a change that must not alter any output leaves it as it is.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aidevops.pb import remote_write_v1_pb2, samples_pb2  # noqa: E402
from stream.alerting.policy import AlertPolicy, PolicyConfig  # noqa: E402
from stream.worker.engine import ScoringEngine  # noqa: E402
from tests.support.workload import engine_digest, mixed_rounds  # noqa: E402

PARTITIONS = 8
T0 = 1_700_000_000_000


def _round(series: int, round_: int, rng: np.random.Generator) -> list[tuple[int, bytes]]:
    records = {p: samples_pb2.SamplesBatch(schema_version=2) for p in range(PARTITIONS)}
    for sid in range(series):
        batch = records[sid % PARTITIONS].series.add(
            schema_version=1, tenant="default", series_id=sid, metric_type=2
        )
        batch.labels.extend(
            [
                remote_write_v1_pb2.Label(name="__name__", value=f"node_metric_{sid % 50}"),
                remote_write_v1_pb2.Label(name="instance", value=f"host-{sid // 50}:9100"),
                remote_write_v1_pb2.Label(name="job", value="node"),
            ]
            + [remote_write_v1_pb2.Label(name=f"l{j}", value=f"value-{sid}-{j}") for j in range(6)]
        )
        batch.samples.add(value=float(rng.normal()), timestamp=T0 + round_ * 15_000)
    return [(p, r.SerializeToString()) for p, r in records.items()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--history", type=int, default=0)
    parser.add_argument("--digest", action="store_true", help="print the outputs' hash only")
    args = parser.parse_args()
    if args.digest:
        print(engine_digest(mixed_rounds()))
        return 0
    rng = np.random.default_rng(0)
    rounds = [_round(args.series, r, rng) for r in range(args.rounds)]
    engine = ScoringEngine(AlertPolicy(PolicyConfig()))
    ids = list(range(args.series))
    for r in range(-args.history, 0):
        stamps = np.full(args.series, T0 + r * 15_000, dtype=np.int64)
        engine.bank.process(ids, stamps, rng.normal(size=args.series))
    for records in rounds[:5]:
        engine.process(records)
    scored = 0
    started = time.perf_counter()
    for records in rounds[5:]:
        scored += engine.process(records).samples
    elapsed = time.perf_counter() - started
    print(f"engine: {scored:,} samples in {elapsed:.2f}s: {scored / elapsed:,.0f} samples/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
