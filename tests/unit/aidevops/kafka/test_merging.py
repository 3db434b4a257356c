"""Merged records (aidevops.kafka.producer._MergingBuilder) in aiokafka's real batch builder.

Each test builds a record batch as aiokafka's sender would (``_build``) and reads it back
with aiokafka's own reader, so what a consumer would get is checked byte for byte.
"""

from __future__ import annotations

from typing import Any

from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatch

from aidevops.kafka.producer import MAX_BATCH_BYTES, MAX_MERGED_BYTES, _MergingBuilder


def _builder() -> _MergingBuilder:
    # As AIOKafkaProducer.create_batch makes it for our producers (no compression here).
    return _MergingBuilder.adopt(BatchBuilder(MAX_BATCH_BYTES, 0))


def _records(builder: _MergingBuilder) -> list[tuple[Any, bytes]]:
    buffer = bytes(builder._build())
    assert len(buffer) <= MAX_BATCH_BYTES
    return [(record.key, record.value) for record in DefaultRecordBatch(buffer)]


def test_merged_values_become_one_record_in_their_place() -> None:
    builder = _builder()
    assert builder.merge(b"a1") and builder.merge(b"a2")
    assert builder.record_count() == 1  # not empty: aiokafka's sender would otherwise drop it
    assert builder.append(key=b"k", value=b"keyed", timestamp=None) is not None
    assert builder.merge(b"b1")
    assert builder.record_count() == 3
    assert _records(builder) == [(None, b"a1a2"), (b"k", b"keyed"), (None, b"b1")]


def test_nothing_joins_a_batch_once_built() -> None:
    builder = _builder()
    assert builder.merge(b"a")
    assert _records(builder) == [(None, b"a")]
    assert not builder.merge(b"late")
    assert builder.append(key=None, value=b"late", timestamp=None) is None


def test_a_full_batch_refuses_the_value_and_keeps_what_it_took() -> None:
    builder = _builder()
    part = b"x" * 300_000
    taken = [builder.merge(part) for _ in range(4)]
    assert taken == [True, True, True, False]  # 1.2 MB would pass the batch
    assert not builder.merge(b"small")  # closed: the caller starts a new batch
    assert _records(builder) == [(None, part * 3)]


def test_a_merged_record_stays_within_one_records_limit() -> None:
    builder = _builder()
    big = b"y" * (MAX_MERGED_BYTES // 2 + 1)
    assert builder.merge(big) and builder.merge(big)  # the first is sealed alone
    assert _records(builder) == [(None, big), (None, big)]


def test_a_value_as_large_as_a_batch_travels_alone_in_a_fresh_batch() -> None:
    builder = _builder()
    huge = b"z" * (MAX_BATCH_BYTES - 100)
    assert builder.merge(huge)  # a fresh batch always takes its first record
    assert not builder.merge(b"z")
    assert _records(builder) == [(None, huge)]


def test_a_merged_record_stays_within_the_limit_it_is_given() -> None:
    builder = _builder()
    taken = [builder.merge(bytes([65 + i]) * 100, limit=250) for i in range(5)]
    assert taken == [True] * 5  # the batch has room: each full record is sealed, not refused
    assert _records(builder) == [
        (None, b"A" * 100 + b"B" * 100),
        (None, b"C" * 100 + b"D" * 100),
        (None, b"E" * 100),
    ]
