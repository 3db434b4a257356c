"""The samples index, from the receiver's decoder to the worker's engine.

Requests go through the real :class:`RemoteWriteDecoder` and :func:`samples_batches`; every
record is then scored twice, from its index as :meth:`ScoringService.step` reads it, and
decoded whole as before the index existed. Each output must be the same, byte for byte.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

from aidevops.batches import SamplesIndex, decode_index, decode_samples
from aidevops.pb import remote_write_v1_pb2 as rw1
from aidevops.pb.checkpoint_pb2 import SeriesCheckpoint
from aidevops.staleness import STALE_NAN
from receiver.decoding import RemoteWriteDecoder
from receiver.negotiation import RemoteWriteProtocol
from receiver.publisher import samples_batches
from stream.alerting.policy import AlertPolicy, PolicyConfig
from stream.detection import MetricKind
from stream.worker.engine import EngineOutput, ScoringEngine
from stream.worker.scoring import STEP_ROUNDS, usable_index
from tests.support.remote_write import v1_request, v1_series, v2_request

T0 = 1_700_000_000_000
STEP = 15_000
PARTITIONS = 4


def _labels(name: str, i: int) -> list[tuple[str, str]]:
    return [("__name__", name), ("instance", f"host-{i}:9100"), ("job", "node")]


def _requests(rounds: int, seed: int = 0) -> list[bytes]:
    """Rounds of a small node-exporter-like fleet with everything the index must handle.

    Gauges with exact zeros (which Prometheus encodes without their value), counters, a
    level shift that fires alerts, the platform's own ``anomaly_score`` (never scored),
    staleness markers, series that appear late, and rounds of two samples a series. The
    metadata comes with round 4, as Prometheus sends it on its own schedule: the gauges are
    first taken for untyped series, then retyped; the late joiner never gets any.
    """
    rng = np.random.default_rng(seed)
    totals = np.zeros(5)
    out = []
    for r in range(rounds):
        series = []
        two = r % 7 == 3  # a round sent late, with the next one: two samples a series
        stamps = [T0 + r * STEP] + ([T0 + r * STEP + STEP // 2] if two else [])
        for i in range(12):
            level = 5.0 + (8.0 if i < 3 and 480 <= r < 540 else 0.0)
            values = [
                0.0 if i >= 6 and rng.random() < 0.2 else float(level + rng.normal())
                for _ in stamps
            ]
            if i == 5 and r % 50 == 49:
                values[-1] = STALE_NAN  # the series ends, and comes back next round
            series.append(v1_series(_labels("node_load", i), zip(values, stamps, strict=True)))
        totals += rng.poisson(20, 5)
        for i, total in enumerate(totals):
            series.append(v1_series(_labels("http_requests_total", i), [(total, stamps[0])]))
        series.append(v1_series(_labels("anomaly_score", 0), [(0.5, stamps[0])]))
        if r >= 120:  # a late joiner
            series.append(v1_series(_labels("node_late", 0), [(rng.normal(), stamps[0])]))
        metadata = []
        if r == 4:
            metadata = [
                rw1.MetricMetadata(type=rw1.MetricMetadata.GAUGE, metric_family_name="node_load"),
                rw1.MetricMetadata(
                    type=rw1.MetricMetadata.COUNTER, metric_family_name="http_requests_total"
                ),
            ]
        out.append(v1_request(series, metadata))
    return out


def _as_v2(body: bytes) -> bytes:
    """The same series and samples as remote-write 2.0 (metadata is left out: 2.0 carries it
    per series, and without it every series waits for it, then takes the index path)."""
    request = rw1.WriteRequest.FromString(body)
    return v2_request(
        (
            [(label.name, label.value) for label in series.labels],
            [(sample.value, sample.timestamp) for sample in series.samples],
        )
        for series in request.timeseries
    )


def _engine() -> ScoringEngine:
    return ScoringEngine(AlertPolicy(PolicyConfig()), clock=lambda: 1000.0)


def _outputs(out: EngineOutput) -> tuple[Any, ...]:
    return out.samples, out.scores, out.alerts, out.exported, out.oldest_received_at


@pytest.mark.parametrize("protocol", [RemoteWriteProtocol.V1, RemoteWriteProtocol.V2])
def test_each_indexed_series_holds_exactly_its_own_samples(protocol: RemoteWriteProtocol) -> None:
    decoder = RemoteWriteDecoder()
    indexed = 0
    for r, body in enumerate(_requests(60)):
        if protocol is RemoteWriteProtocol.V2:
            body = _as_v2(body)
        decoded = decoder.decode(protocol, body, "default", 1000 + r)
        for _, _, value in samples_batches(
            decoded.records, PARTITIONS, index_samples=decoded.index_samples, received_at=1000 + r
        ):
            index = decode_index(value)
            assert index is not None and index.received_at == 1000 + r
            members = decode_samples(value)
            assert index.series_ids.tolist() == [m.series_id for m in members]
            offset = 0
            for member, count in zip(members, index.counts.tolist(), strict=True):
                own = [(s.timestamp, np.float64(s.value).tobytes()) for s in member.samples]
                if count == 0:  # read from the series itself: a marker, or first seen (1.0)
                    first_seen = r == 0 and protocol is RemoteWriteProtocol.V1
                    assert any(v == np.float64(STALE_NAN).tobytes() for _, v in own) or first_seen
                    continue
                got = zip(
                    index.timestamps[offset : offset + count].tolist(),
                    [v.tobytes() for v in index.values[offset : offset + count]],
                    strict=True,
                )
                assert list(got) == own
                offset += count
                indexed += 1
    assert indexed > 1000  # zeros included: they are written in full for the index


@pytest.mark.parametrize(
    ("merge", "protocol"),
    [(1, RemoteWriteProtocol.V1), (3, RemoteWriteProtocol.V1), (3, RemoteWriteProtocol.V2)],
)
def test_scoring_from_the_index_gives_the_outputs_of_scoring_the_series(
    merge: int, protocol: RemoteWriteProtocol
) -> None:
    """``merge`` requests' records of a partition joined into one, as the producer does."""
    decoder = RemoteWriteDecoder()
    from_index, from_series = _engine(), _engine()
    taken = fallen_back = 0
    take_index = from_index._take_index

    def counted(*args: Any) -> bool:
        nonlocal taken, fallen_back
        ok = take_index(*args)
        taken += ok
        fallen_back += not ok
        return ok

    from_index._take_index = counted  # type: ignore[method-assign,assignment]
    requests = _requests(600)
    if protocol is RemoteWriteProtocol.V2:
        requests = [_as_v2(body) for body in requests]
    for body in (requests[0], requests[120]):  # the receiver knows every series already,
        decoder.decode(protocol, body, "default", T0)  # as after a worker restart
    fired = 0
    for start in range(0, len(requests), merge):
        joined: dict[int, bytes] = {}
        for r, body in enumerate(requests[start : start + merge], start):
            received = T0 + r * STEP
            decoded = decoder.decode(protocol, body, "default", received)
            for p, _, value in samples_batches(
                decoded.records,
                PARTITIONS,
                index_samples=decoded.index_samples,
                received_at=received,
            ):
                joined[p] = joined.get(p, b"") + value
        items = [(p, usable_index(value) or decode_samples(value)) for p, value in joined.items()]
        expected = from_series.process([(p, value) for p, value in joined.items()])
        got = from_index.process(items)
        assert _outputs(got) == _outputs(expected)
        fired += len(expected.alerts)
    assert fired > 0
    assert taken > 0.7 * (taken + fallen_back)  # most records were scored from the index
    assert fallen_back > 0  # and the others (new series) from their series
    checkpoints = sorted(from_index.collect_dirty())
    assert checkpoints == sorted(from_series.collect_dirty())
    kinds = Counter(SeriesCheckpoint.FromString(data).kind for _, _, data in checkpoints)
    if protocol is RemoteWriteProtocol.V1:
        # node_load retyped by its metadata, http_requests_total declared, node_late a guess
        assert kinds == {MetricKind.GAUGE: 12, MetricKind.COUNTER: 5, MetricKind.UNTYPED: 1}


def test_an_index_that_does_not_match_its_series_is_ignored() -> None:
    decoder = RemoteWriteDecoder()
    body = v1_request([v1_series(_labels("node_load", i)) for i in range(3)])
    decoder.decode(RemoteWriteProtocol.V1, body, "default", 1)  # first seen: not indexed
    decoded = decoder.decode(RemoteWriteProtocol.V1, body, "default", 1)
    [(_, _, value)] = samples_batches(
        decoded.records, 1, index_samples=decoded.index_samples, received_at=1
    )
    index = decode_index(value)
    assert isinstance(index, SamplesIndex) and index.complete
    one_short = value.replace(b"\x92\x01\x0c", b"\x92\x01\x08", 1)  # 2 counts for 3 series
    assert (
        decode_index(
            one_short[: value.index(b"\x92\x01") + 3] + one_short[value.index(b"\x92\x01") + 7 :]
        )
        is None
    )
    sample = value.index(b"\x12\x10\x09", value.index(b"\x9a\x01"))
    garbled = value[:sample] + b"\x13" + value[sample + 1 :]
    assert decode_index(garbled) is None
    many = rw1.TimeSeries(
        labels=[rw1.Label(name="__name__", value="x")],
        samples=[rw1.Sample(value=1.0, timestamp=T0 + i) for i in range(STEP_ROUNDS + 1)],
    )
    decoder.decode(RemoteWriteProtocol.V1, v1_request([many]), "default", 1)
    decoded = decoder.decode(RemoteWriteProtocol.V1, v1_request([many]), "default", 1)
    [(_, _, value)] = samples_batches(
        decoded.records, 1, index_samples=decoded.index_samples, received_at=1
    )
    assert decode_index(value) is not None
    assert usable_index(value) is None  # more than a step's worth: decoded whole, and split
