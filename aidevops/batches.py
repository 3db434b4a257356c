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

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from aidevops.kafka.producer import MAX_MERGED_BYTES
from aidevops.pb import samples_pb2, scores_pb2

__all__ = [
    "MAX_PACKED_BYTES",
    "SCHEMA_2",
    "SERIES_TAG",
    "decode_samples",
    "decode_scores",
    "field_heads",
    "pack",
]

SERIES_TAG = b"\x7a"
"""Field 15, length-delimited: the tag byte of each framed message."""
SCHEMA_2 = b"\x80\x01\x02"
"""Field 16 (varint) = 2: the wrapper's ``schema_version``."""
MAX_PACKED_BYTES = MAX_MERGED_BYTES
"""Largest schema 2 value: within one record batch, with room for the record framing."""


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
    try:
        return list(map(_SHORT_HEADS.__getitem__, map(len, values)))
    except IndexError:
        return list(map(_series_head, map(len, values)))


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
