"""Schema 2 records: the messages of one partition in one Kafka record.

A record per series made every series a Kafka record (aiokafka appends each for a few
microseconds) and, for the workers, a framework event. Schema 2 of ``samples``
(``SamplesBatch``) and of ``scores`` (``ScoresBatch``) instead carry many already encoded
messages in one record without a key: each framed as field 15 (``series``, length-delimited),
then field 16 (``schema_version``) = 2. Protobuf concatenates fields freely, so framing the
bytes is all it takes; nothing is parsed again. Readers accept both versions: a record is
schema 2 when it decodes as the wrapper with ``schema_version`` 2, otherwise it is one bare
message of version 1 (whose fields are all below 15, so the wrapper sees none of them).
"""

from __future__ import annotations

import bisect
import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from aidevops.kafka.producer import MAX_MERGED_BYTES
from aidevops.pb import samples_pb2, scores_pb2, wire_views_pb2

__all__ = [
    "INDEX_SAMPLE_BYTES",
    "INDEX_TAGS",
    "MAX_PACKED_BYTES",
    "SAMPLES_RECORD_BYTES",
    "SCHEMA_2",
    "SERIES_TAG",
    "SamplesIndex",
    "decode_index",
    "decode_samples",
    "decode_scores",
    "field_heads",
    "pack",
    "pack_samples",
    "samples_tail",
]

SERIES_TAG = b"\x7a"
"""Field 15, length-delimited: the tag byte of each framed message."""
SCHEMA_2 = b"\x80\x01\x02"
"""Field 16 (varint) = 2: the wrapper's ``schema_version``."""
MAX_PACKED_BYTES = MAX_MERGED_BYTES
"""Largest schema 2 value: within one record batch, with room for the record framing."""
SAMPLES_RECORD_BYTES = 256 * 1024
"""Largest ``samples`` record the receiver writes or merges (unless one series is larger):
what a worker scores in one step (``stream.worker.scoring.STEP_BYTES``), so that a step's
work stays bounded however many requests a record joins."""


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


@functools.lru_cache(maxsize=4096)
def _series_head(length: int) -> bytes:
    """The tag and length of a ``series`` field; lengths repeat, so they are remembered."""
    return SERIES_TAG + _varint(length)


# The heads of every length below 16 KiB (series are a few hundred bytes), built once:
# indexing a list costs less than half of a cached call per series (about 0.7 MB).
_SHORT_HEADS = [SERIES_TAG + _varint(length) for length in range(1 << 14)]


def field_heads(values: Sequence[bytes]) -> list[bytes]:
    """The field head (tag and length) of each value.

    >>> field_heads([b"x" * 3, b"x" * 300]) == [b"\\x7a\\x03", b"\\x7a\\xac\\x02"]
    True
    >>> field_heads([b"x" * 20_000]) == [_series_head(20_000)]
    True
    """
    return _heads(list(map(len, values)))


def _heads(lengths: list[int]) -> list[bytes]:
    """The field heads of values of these lengths (:func:`field_heads`)."""
    try:
        return list(map(_SHORT_HEADS.__getitem__, lengths))
    except IndexError:
        return list(map(_series_head, lengths))


def pack(
    routes: Iterable[int], values: Sequence[bytes], max_bytes: int = MAX_PACKED_BYTES
) -> list[tuple[int, None, bytes]]:
    """Encoded messages as schema 2 records: one per route, in order, without a key.

    ``routes[i]`` is where ``values[i]`` goes (a partition). Returns ``(route, None,
    value)`` in the order routes first appear; a route's messages that would pass
    ``max_bytes`` together take several records, in order (a message larger than that
    travels alone).

    >>> batches = [scores_pb2.ScoreBatch(schema_version=1, series_id=i) for i in (1, 2, 3)]
    >>> packed = pack([0, 1, 0], [b.SerializeToString() for b in batches])
    >>> [(route, key) for route, key, _ in packed]
    [(0, None), (1, None)]
    >>> record = scores_pb2.ScoresBatch.FromString(packed[0][2])
    >>> record.schema_version, [b.series_id for b in record.series]
    (2, [1, 3])
    """
    # The common case in one cheap pass: each message framed by its (cached) field head,
    # per route; only a route over ``max_bytes`` is split, in a second pass.
    heads = field_heads(values)
    groups: defaultdict[int, list[bytes]] = defaultdict(list)
    for route, head, value in zip(routes, heads, values, strict=True):
        groups[route] += (head, value)
    out: list[tuple[int, None, bytes]] = []
    for route, parts in groups.items():
        parts.append(SCHEMA_2)
        joined = b"".join(parts)
        if len(joined) <= max_bytes:
            out.append((route, None, joined))
            continue
        chunk: list[bytes] = []
        size = len(SCHEMA_2)
        for index in range(0, len(parts) - 1, 2):
            head, value = parts[index], parts[index + 1]
            if chunk and size + len(head) + len(value) > max_bytes:
                chunk.append(SCHEMA_2)
                out.append((route, None, b"".join(chunk)))
                chunk, size = [], len(SCHEMA_2)
            chunk += (head, value)
            size += len(head) + len(value)
        chunk.append(SCHEMA_2)
        out.append((route, None, b"".join(chunk)))
    return out


INDEX_SAMPLE_BYTES = 18
"""A sample in ``index_samples``: 0x12 0x10, 0x09 + 8 value bytes, 0x10 + a 6-byte varint."""
INDEX_TAGS = (b"\x8a\x01", b"\x92\x01", b"\x9a\x01")
"""The tags of the index's fields 17-19 (length-delimited): series ids, counts, samples."""
_IDS_TAG, _COUNTS_TAG, _SAMPLES_TAG = INDEX_TAGS
_RECEIVED_TAG = b"\xa0\x01"  # field 20, varint


def samples_tail(received_at: int) -> bytes:
    """What ends every ``samples`` record: ``received_at`` (field 20), then :data:`SCHEMA_2`."""
    return _RECEIVED_TAG + _varint(received_at) + SCHEMA_2


def _field(tag: bytes, value: bytes) -> bytes:
    return b"".join((tag, _varint(len(value)), value))


def pack_samples(
    series_ids: npt.NDArray[np.uint64],
    values: Sequence[bytes],
    samples: Sequence[bytes],
    received_at: int,
    partitions: int,
    max_bytes: int = MAX_PACKED_BYTES,
) -> list[tuple[int, None, bytes]]:
    """:func:`pack` for ``samples``, with the index (see ``SamplesBatch`` in samples.proto).

    ``values[i]`` is series ``series_ids[i]``, routed to partition ``series_ids[i] %
    partitions``; ``samples[i]`` its samples in the index's 18-byte form, or ``b""`` for
    "read the series itself". Returns records in partition order, each partition's series
    in request order. Columnar on purpose: a request's series are sorted by partition once
    (numpy), and each record's parts are joined slices, with no step per series in Python.

    >>> from aidevops.pb import remote_write_v1_pb2 as rw1
    >>> one = samples_pb2.SeriesBatch(series_id=7).SerializeToString()
    >>> sample = rw1.TimeSeries(samples=[rw1.Sample(value=1.0, timestamp=1_700_000_000_000)])
    >>> sample = sample.SerializeToString()  # a series of one sample, without labels
    >>> ids = np.array([7, 7], dtype=np.uint64)
    >>> [(route, key, value)] = pack_samples(ids, [one, one], [sample, b""], 1_700_000_000_000, 4)
    >>> index = decode_index(value)
    >>> route, index.series_ids.tolist(), index.counts.tolist(), index.values.tolist()
    (3, [7, 7], [1, 0], [1.0])
    >>> index.timestamps.tolist(), index.received_at
    ([1700000000000], 1700000000000)
    """
    n = len(values)
    if n == 0:
        return []
    routes = (series_ids % np.uint64(partitions)).astype(np.int64)
    order = np.argsort(routes, kind="stable")
    ranked = routes[order]
    pick = order.tolist()
    # Every member's field head and bytes, interleaved, in partition order.
    values = _take(values, pick)
    lengths = list(map(len, values))
    heads = _heads(lengths)
    members: list[bytes] = [b""] * (2 * n)
    members[0::2], members[1::2] = heads, values
    kept = _take(samples, pick)
    sample_bytes = np.fromiter(map(len, kept), dtype=np.int64, count=n)
    value_bytes = np.asarray(lengths, dtype=np.int64)
    head_bytes = 2 + (value_bytes >= 1 << 7) + (value_bytes >= 1 << 14) + (value_bytes >= 1 << 21)
    ids = series_ids[order].astype(">u8").tobytes()
    counts = (sample_bytes // INDEX_SAMPLE_BYTES).astype("<u4").tobytes()
    joined = b"".join(kept)
    sample_ends = np.cumsum(sample_bytes).tolist()
    # Each member's share of a record: itself, its id, count and samples (12 + samples).
    cumulative = np.cumsum(head_bytes + value_bytes + sample_bytes + 12).tolist()
    tail = samples_tail(received_at)
    budget = max_bytes - len(tail) - 32  # the index fields' heads
    bounds = np.searchsorted(ranked, np.arange(partitions + 1)).tolist()
    out: list[tuple[int, None, bytes]] = []
    for route in range(partitions):
        first, stop = bounds[route], bounds[route + 1]
        while first < stop:
            # The members while the record stays within max_bytes (at least one).
            used = cumulative[first - 1] if first else 0
            end = max(first + 1, bisect.bisect_right(cumulative, used + budget, first, stop))
            low = sample_ends[first - 1] if first else 0
            parts = list(members[2 * first : 2 * end])
            parts += (
                _field(_IDS_TAG, ids[8 * first : 8 * end]),
                _field(_COUNTS_TAG, counts[4 * first : 4 * end]),
                _field(_SAMPLES_TAG, joined[low : sample_ends[end - 1]]),
                tail,
            )
            out.append((route, None, b"".join(parts)))
            first = end
    return out


def _take(items: Sequence[bytes], positions: list[int]) -> list[bytes]:
    """``items`` at ``positions``, in order (one C call, not a step per item)."""
    if len(positions) == 1:
        return [items[positions[0]]]
    return list(itemgetter(*positions)(items))


class SamplesIndex(NamedTuple):
    """The index of a ``samples`` record (:func:`decode_index`), with the record itself."""

    raw: bytes
    series_ids: npt.NDArray[np.uint64]
    counts: npt.NDArray[np.int64]
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    received_at: int
    """The oldest ``received_at`` of the requests joined in the record (ms; 0: unknown)."""

    @property
    def complete(self) -> bool:
        """Whether every series' samples are in the index (no count of 0)."""
        return bool(self.counts.all())


_VARINT_SHIFTS = np.array([0, 7, 14, 21, 28, 35], dtype=np.int64)


def decode_index(raw: bytes) -> SamplesIndex | None:
    """The index of a ``samples`` record; None when it has none or it is inconsistent.

    Raises
    ------
    google.protobuf.message.DecodeError
        The bytes are not a ``samples`` record.
    """
    view = wire_views_pb2.SamplesBatchView.FromString(raw)
    if not view.index_series_ids or view.schema_version < 2:
        return None
    n = len(view.series)
    ids_bytes = b"".join(view.index_series_ids)
    counts_bytes = b"".join(view.index_sample_counts)
    if len(ids_bytes) != 8 * n or len(counts_bytes) != 4 * n:
        return None
    counts = np.frombuffer(counts_bytes, dtype="<u4").astype(np.int64)
    samples = b"".join(view.index_samples)
    if len(samples) != INDEX_SAMPLE_BYTES * int(counts.sum()):
        return None
    rows = np.frombuffer(samples, dtype=np.uint8).reshape(-1, INDEX_SAMPLE_BYTES)
    stamp = rows[:, 12:18]
    if not (
        (rows[:, 0] == 0x12).all()
        and (rows[:, 1] == 0x10).all()
        and (rows[:, 2] == 0x09).all()
        and (rows[:, 11] == 0x10).all()
        and (stamp[:, :5] >= 0x80).all()
        and (stamp[:, 5] < 0x80).all()
    ):
        return None
    timestamps = ((stamp.astype(np.int64) & 0x7F) << _VARINT_SHIFTS).sum(axis=1)
    values = rows[:, 3:11].copy().view("<f8").reshape(-1)
    received = view.index_received_at
    return SamplesIndex(
        raw,
        np.frombuffer(ids_bytes, dtype=">u8").astype(np.uint64),
        counts,
        timestamps,
        values,
        min(received) if received else 0,
    )


def _members(raw: bytes, wrapper: Any, bare: Any) -> Any:
    """The messages of a record: ``wrapper.series`` if it reads as schema 2, else one ``bare``."""
    record = wrapper.FromString(raw)
    if record.schema_version >= 2:
        return record.series
    return [bare.FromString(raw)]


def decode_samples(raw: bytes) -> Sequence[samples_pb2.SeriesBatch]:
    """The series of one ``samples`` record: schema 2 (a ``SamplesBatch``) or 1 (one bare one).

    >>> one = samples_pb2.SeriesBatch(schema_version=1, tenant="t", series_id=7)
    >>> [b.series_id for b in decode_samples(one.SerializeToString())]
    [7]
    >>> two = samples_pb2.SamplesBatch(schema_version=2, series=[one, one])
    >>> [b.series_id for b in decode_samples(two.SerializeToString())]
    [7, 7]

    Raises
    ------
    google.protobuf.message.DecodeError
        The bytes are not a ``samples`` record.
    """
    members: Sequence[samples_pb2.SeriesBatch] = _members(
        raw, samples_pb2.SamplesBatch, samples_pb2.SeriesBatch
    )
    return members


def decode_scores(raw: bytes) -> Sequence[scores_pb2.ScoreBatch]:
    """The series of one ``scores`` record: schema 2 (a ``ScoresBatch``) or 1 (one bare one).

    >>> one = scores_pb2.ScoreBatch(schema_version=1, tenant="t", series_id=7, stale=True)
    >>> [b.series_id for b in decode_scores(one.SerializeToString())]
    [7]
    >>> two = scores_pb2.ScoresBatch(schema_version=2, series=[one, one])
    >>> [b.series_id for b in decode_scores(two.SerializeToString())]
    [7, 7]

    Raises
    ------
    google.protobuf.message.DecodeError
        The bytes are not a ``scores`` record.
    """
    members: Sequence[scores_pb2.ScoreBatch] = _members(
        raw, scores_pb2.ScoresBatch, scores_pb2.ScoreBatch
    )
    return members
