"""Schema 2 records: framing by hand that the real protobuf parser reads, both versions decoded."""

from __future__ import annotations

import numpy as np
import pytest
from google.protobuf.message import DecodeError

from aidevops.batches import decode_samples, decode_scores, pack
from aidevops.pb import samples_pb2, scores_pb2


def _batch(series_id: int, points: int = 1, stale: bool = False, name: str = "up") -> bytes:
    b = scores_pb2.ScoreBatch(schema_version=1, tenant="t", series_id=series_id, stale=stale)
    b.labels.add(name="__name__", value=name)
    for i in range(points):
        b.points.add(timestamp=1000 * i, value=float(i), score=i / 10, flags=i % 3)
    return b.SerializeToString()


def test_a_schema_1_record_is_one_bare_score_batch() -> None:
    raw = _batch(7, points=3, stale=True)
    # parsed as the wrapper it has no series and no version: fields 1-7 are all unknown
    wrapper = scores_pb2.ScoresBatch.FromString(raw)
    assert wrapper.schema_version == 0 and not wrapper.series
    (batch,) = decode_scores(raw)
    assert batch == scores_pb2.ScoreBatch.FromString(raw)
    assert batch.stale and [p.timestamp for p in batch.points] == [0, 1000, 2000]


def test_packed_bytes_are_the_scores_batch_protobuf_builds() -> None:
    values = [_batch(1), _batch(2, points=0, stale=True), _batch(3, points=2, name="x" * 200)]
    ((route, key, raw),) = pack([5, 5, 5], values)
    assert (route, key) == (5, None)
    built = scores_pb2.ScoresBatch(
        schema_version=2, series=[scores_pb2.ScoreBatch.FromString(v) for v in values]
    )
    assert scores_pb2.ScoresBatch.FromString(raw) == built
    assert raw == built.SerializeToString()  # field order too: series first, then version
    assert [b.SerializeToString() for b in decode_scores(raw)] == values


def test_each_route_keeps_its_series_in_order() -> None:
    values = [_batch(i) for i in range(10)]
    packed = pack([i % 3 for i in range(10)], values)
    assert [route for route, _, _ in packed] == [0, 1, 2]
    by_route = {route: [b.series_id for b in decode_scores(v)] for route, _, v in packed}
    assert by_route == {0: [0, 3, 6, 9], 1: [1, 4, 7], 2: [2, 5, 8]}


def test_a_route_over_the_size_is_split_in_order() -> None:
    values = [_batch(i, points=5) for i in range(20)]
    packed = pack([0] * 20, values, max_bytes=1000)
    assert len(packed) > 1 and all(len(v) <= 1000 for _, _, v in packed)
    assert [b.series_id for _, _, v in packed for b in decode_scores(v)] == list(range(20))
    assert all(scores_pb2.ScoresBatch.FromString(v).schema_version == 2 for _, _, v in packed)


def test_long_series_take_a_longer_length_prefix() -> None:
    big = _batch(1, name="n" * 20_000)  # past the precomputed heads
    ((_, _, raw),) = pack([0], [big])
    assert [b.SerializeToString() for b in decode_scores(raw)] == [big]


def test_bytes_that_are_no_scores_record_raise() -> None:
    with pytest.raises(DecodeError):
        decode_scores(b"\xff\xff\xff")


def test_a_partition_over_the_size_takes_several_indexed_records_in_order() -> None:
    from aidevops.batches import decode_index, pack_samples
    from aidevops.pb import remote_write_v1_pb2 as rw1

    ids = np.array([i * 4 + (i % 2) for i in range(40)], dtype=np.uint64)  # partitions 0 and 1
    members = [samples_pb2.SeriesBatch(series_id=int(i), help="x" * 100) for i in ids]
    values = [m.SerializeToString() for m in members]
    samples = [
        rw1.TimeSeries(
            samples=[
                rw1.Sample(value=float(i), timestamp=1_700_000_000_000 + k) for k in range(i % 3)
            ]
        ).SerializeToString()
        for i in range(40)
    ]
    packed = pack_samples(ids, values, samples, 5, partitions=4, max_bytes=1_000)
    assert [route for route, _, _ in packed] == sorted(route for route, _, _ in packed)
    assert len(packed) > 4 and all(len(value) <= 1_000 for _, _, value in packed)
    seen: dict[int, list[int]] = {0: [], 1: []}
    for route, key, value in packed:
        assert key is None
        index = decode_index(value)
        assert index is not None and index.received_at == 5
        got = [b.series_id for b in decode_samples(value)]
        assert index.series_ids.tolist() == got
        assert index.counts.tolist() == [int(i) // 4 % 3 for i in got]  # i % 3 samples, i = id // 4
        assert index.values.tolist() == [float(i // 4) for i in got for _ in range(i // 4 % 3)]
        seen[route] += got
    assert seen == {r: [int(i) for i in ids if int(i) % 4 == r] for r in (0, 1)}
