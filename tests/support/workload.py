"""A seeded mixed workload for the scoring engine, and one hash of everything it outputs.

Performance work on the detector bank and the engine must not change a single output bit.
:func:`engine_digest` runs :func:`mixed_rounds` through a :class:`ScoringEngine` with the
real detectors and alert policy and hashes every ``scores`` and ``alerts`` record, every
checkpoint (collected dirty ones, retired ones and snapshots of whole partitions) and the
``/metrics`` exports, in order. ``tests/unit/stream/worker/test_engine_digest.py`` compares
it with a stored value; ``benchmarks/engine.py --digest`` prints it.

The workload has what the engine's paths branch on: gauges with level shifts (alerts fire
and resolve), counters with resets, ``up`` series with outages, native histograms,
staleness markers and the series' return, replays, several samples of a series in one
record, schema-1 and schema-2 records, a malformed record, the platform's own metrics
(never scored), controls (an exclusion and a per-series threshold), idle series retired to
their checkpoints and restored from them. It runs long enough for the trees to score
and calibration to be alert-grade.
"""

from __future__ import annotations

import hashlib

import numpy as np

from aidevops.pb import remote_write_v1_pb2, samples_pb2
from aidevops.staleness import STALE_NAN
from stream.alerting.policy import AlertPolicy, PolicyConfig
from stream.storage.controls import Control, ControlSet
from stream.storage.matchers import parse_matchers
from stream.worker.engine import EngineOutput, ScoringEngine
from tests.support.series import STEP, T0

__all__ = ["PARTITIONS", "ROUNDS", "engine_digest", "mixed_rounds"]

PARTITIONS = 4
ROUNDS = 700
_SERIES = 64
_GAUGE = samples_pb2.METRIC_TYPE_GAUGE
_COUNTER = samples_pb2.METRIC_TYPE_COUNTER
_HISTOGRAM = samples_pb2.METRIC_TYPE_HISTOGRAM


def _shape(sid: int) -> tuple[str, int, str]:
    """(metric name, metric type, instance) of series ``sid``."""
    if sid < 24:
        return f"node_gauge_{sid % 5}", _GAUGE, f"h{sid}"
    if sid < 36:
        return "http_requests_total", _COUNTER, f"h{sid}"
    if sid < 42:
        return "up", _GAUGE, f"h{sid}"
    if sid < 48:
        return "request_seconds", _HISTOGRAM, f"h{sid}"
    if sid < 50:
        return "aidevops_worker_messages_total", _COUNTER, f"h{sid}"
    if sid < 52:
        return "node_gauge_x", _GAUGE, "excluded"
    if sid < 56:
        return "node_gauge_s", _GAUGE, "sensitive"
    return f"node_gauge_{sid % 3}", _GAUGE, f"h{sid}"  # go stale, come back, catch up


def mixed_rounds(rounds: int = ROUNDS, seed: int = 0) -> list[list[tuple[int, bytes]]]:
    """The workload: per round, the (partition, value) records a worker would consume."""
    rng = np.random.default_rng(seed)
    base = rng.normal(10.0, 2.0, _SERIES)
    counter = np.zeros(_SERIES)
    histogram = np.zeros((_SERIES, 2))  # count, sum
    sent: dict[int, list[bytes]] = {sid: [] for sid in range(_SERIES)}
    out: list[list[tuple[int, bytes]]] = []
    held: dict[int, list[tuple[int, float]]] = {}  # catching-up series: samples held back
    for r in range(rounds):
        records = {p: samples_pb2.SamplesBatch(schema_version=2) for p in range(PARTITIONS)}
        bare: list[tuple[int, bytes]] = []
        for sid in range(_SERIES):
            name, metric_type, instance = _shape(sid)
            ts = T0 + r * STEP
            samples: list[tuple[int, float]] = [(ts, 0.0)]
            histograms: list[remote_write_v1_pb2.Histogram] = []
            if metric_type == _COUNTER:
                if rng.random() < 0.01:
                    counter[sid] = 0.0  # a reset
                counter[sid] += max(0.0, rng.normal(30.0, 5.0))
                samples = [(ts, counter[sid])]
            elif name == "up":
                samples = [(ts, 0.0 if 300 <= r % 350 < 305 + sid % 3 else 1.0)]
            elif metric_type == _HISTOGRAM:
                n = rng.poisson(20.0) + (40 if 550 <= r < 560 else 0)
                histogram[sid] += (n, n * rng.normal(0.2, 0.02))
                if rng.random() < 0.005:
                    histogram[sid] = 0.0  # a reset
                histograms.append(
                    remote_write_v1_pb2.Histogram(
                        count_int=int(histogram[sid, 0]), sum=histogram[sid, 1], timestamp=ts
                    )
                )
                samples = []
            else:
                level = base[sid] + (12.0 if sid % 6 == 0 and 480 <= r < 540 else 0.0)
                samples = [(ts, level + rng.normal(0.0, 1.0))]
            if sid >= 56:
                if r % 200 == 150 + sid - 56:
                    samples = [(ts, float(STALE_NAN))]
                elif 150 + sid - 56 < r % 200 < 160 + sid - 56:
                    continue  # ended: nothing until it comes back
                if sid >= 60 and r % 97 in (10, 11):
                    held.setdefault(sid, []).extend(samples)
                    continue
                samples = held.pop(sid, []) + samples  # several samples in one batch
            batch = samples_pb2.SeriesBatch(
                schema_version=1,
                tenant="t",
                series_id=sid,
                metric_type=metric_type,  # type: ignore[arg-type]
                received_at=T0 + r * STEP + sid,
                labels=[
                    remote_write_v1_pb2.Label(name="__name__", value=name),
                    remote_write_v1_pb2.Label(name="instance", value=instance),
                    remote_write_v1_pb2.Label(name="job", value="node"),
                ],
            )
            for t, v in samples:
                batch.samples.add(timestamp=t, value=v)
            batch.histograms.extend(histograms)
            data = batch.SerializeToString()
            sent[sid].append(data)
            if sid % 16 == 5:
                bare.append((sid % PARTITIONS, data))  # a schema-1 record
            else:
                records[sid % PARTITIONS].series.append(batch)
            if rng.random() < 0.02 and len(sent[sid]) > 3:  # a replay of an older batch
                bare.append((sid % PARTITIONS, sent[sid][-int(rng.integers(2, 4))]))
        round_ = [(p, record.SerializeToString()) for p, record in records.items()] + bare
        if r == rounds // 2:
            round_.append((0, b"\xff\xff not a record"))
        out.append(round_)
    return out


def _controls() -> ControlSet:
    return ControlSet(
        [
            Control("t", parse_matchers('{instance="excluded"}'), exclude=True),
            Control("t", parse_matchers('{instance="sensitive"}'), threshold=0.2),
        ]
    )


def engine_digest(rounds: list[list[tuple[int, bytes]]]) -> str:
    """SHA-256 of every output of a fresh engine fed ``rounds`` (see the module's docstring)."""
    now = [float(T0 // 1000)]
    engine = ScoringEngine(AlertPolicy(PolicyConfig()), idle_seconds=100.0, clock=lambda: now[0])
    engine.set_controls(_controls())
    h = hashlib.sha256()

    def take(output: EngineOutput) -> None:
        h.update(b"S%d|M%d|R%d" % (output.samples, output.malformed, output.oldest_received_at))
        for records in (output.scores, output.alerts, engine.take_retired()):
            for partition, key, value in records:
                h.update(b"%d|%s|%s" % (partition, key.hex().encode(), value.hex().encode()))
        for sid, value, last, episode, ended in output.exported:
            h.update(b"%d|%s|%r|%d|%d" % (sid, value.hex().encode(), last, episode, ended))

    for r, records in enumerate(rounds):
        now[0] += STEP / 1000
        take(engine.process(records))
        for partition, key, value in engine.retire_idle():
            h.update(b"I%d|%s|%s" % (partition, key.hex().encode(), value.hex().encode()))
        if r % 50 == 49:
            for partition, key, value in engine.collect_dirty(limit=40):
                h.update(b"C%d|%s|%s" % (partition, key.hex().encode(), value.hex().encode()))
        if r % 175 == 174:
            for partition in range(PARTITIONS):
                for value in engine.partition_checkpoints(partition):
                    h.update(b"P%d|%s" % (partition, value.hex().encode()))
            take(engine.apply_controls(engine.set_controls(_controls())))
    h.update(b"live %d dormant %d" % (engine.live_series, engine.dormant_series))
    return h.hexdigest()
