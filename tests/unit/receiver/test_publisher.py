"""Samples schema 2: a request's series packed per partition, in order, within a size."""

from __future__ import annotations

from aidevops.pb import samples_pb2
from receiver.publisher import samples_batches


def _record(sid: int, size: int = 0) -> tuple[int, bytes, bytes]:
    batch = samples_pb2.SeriesBatch(series_id=sid, tenant="t", help="h" * size)
    return sid, sid.to_bytes(8, "big"), batch.SerializeToString()


def test_each_partition_gets_its_series_in_request_order() -> None:
    records = [_record(sid) for sid in (5, 1, 9, 13, 2)]
    packed = samples_batches(records, 4)
    assert [(partition, key) for partition, key, _ in packed] == [(1, None), (2, None)]
    series = {
        partition: [b.series_id for b in samples_pb2.SamplesBatch.FromString(value).series]
        for partition, _, value in packed
    }
    assert series == {1: [5, 1, 9, 13], 2: [2]}
    for _, _, value in packed:
        assert samples_pb2.SamplesBatch.FromString(value).schema_version == 2


def test_a_partition_over_the_size_takes_several_records_in_order() -> None:
    records = [_record(sid * 4, size=300) for sid in range(10)]
    packed = samples_batches(records, 4, max_bytes=1000)
    assert len(packed) > 1 and all(len(value) <= 1000 for _, _, value in packed)
    order = [
        b.series_id for _, _, v in packed for b in samples_pb2.SamplesBatch.FromString(v).series
    ]
    assert order == [sid * 4 for sid in range(10)]


def test_a_series_larger_than_the_size_still_travels_alone() -> None:
    packed = samples_batches([_record(0, size=2000), _record(4)], 4, max_bytes=1000)
    assert [len(samples_pb2.SamplesBatch.FromString(v).series) for _, _, v in packed] == [1, 1]
