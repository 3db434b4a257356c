"""Turn a decompressed remote-write payload into Kafka records, one per series.

What the receiver decodes, and what it does not
-----------------------------------------------
Turning every label into Python strings costs several microseconds per series, more than
the rest of the receiver together. Prometheus sends the same series every scrape, so label
sets are checked once per tenant and remembered:

1. A C parse (upb) with a *view* message (:mod:`aidevops.pb.wire_views`) returns each
   series as its raw bytes and checks the request's outer structure and its metadata.
2. For each series the end of its labels is guessed (the first bytes that start a float
   sample; a short scan when that fails). The label bytes are looked up in the tenant's
   cache of validated label sets, and the rest of the series is matched (one C
   regular-expression match) against the layout Prometheus gives plain float samples: a
   value that is not a staleness marker and a timestamp between 1971 and 2109. A series
   passing both is fully checked without building a Python object: a parser reading it
   from the start meets exactly the cached labels, then exactly those samples.
3. Any other series (first sight of a label set, zero values, staleness markers,
   histograms, exemplars, another field order) is checked on the C runtime's full parse of
   the request, made once per request and only when needed: labels against
   :mod:`receiver.labelset`, timestamps within :data:`MIN_TIMESTAMP_MS` and
   :data:`MAX_TIMESTAMP_MS`, counts from the parsed message.
4. The Kafka value is the series' own bytes followed by a few pre-encoded fields: fields
   1-4 of ``aidevops.v1.SeriesBatch`` are wire-identical to ``prometheus.TimeSeries`` and
   protobuf merges concatenated messages (see ``proto/aidevops/pb/samples.proto``).

Steps 2 and 4 are also written in C (``receiver/_wire.c``, built by ``setup.py`` where a
compiler is): a 1.0 request whose every series passes step 2, with nothing else in it, is
turned into its records there in one call, and :func:`receiver.publisher.samples_batches`
packs them in C too. The C code only reads this module's caches and answers None for any
other request, which then takes the steps above in Python; both give the same bytes.

Series that are not laid out the way Prometheus writes them (labels not first, unknown
fields or groups) are re-encoded from the parsed message, never forwarded as sent and never
cached. Remote-write 2.0 labels point into a per-request symbols table: its label sets are
validated once per tenant, keyed by their strings. A 2.0 sample is wire-identical to 1.0's, so
a 2.0 series of plain float samples is copied from a view too; any other is checked on the
full parse.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import getitem, itemgetter
from typing import Any, cast

import numpy as np
from google.protobuf.message import DecodeError as ProtobufDecodeError

from aidevops.errors import DecodeError
from aidevops.pb import remote_write_v1_pb2 as rw1
from aidevops.pb import remote_write_v2_pb2 as rw2
from aidevops.pb import samples_pb2, wire_views_pb2
from aidevops.staleness import STALE_NAN_BYTES, is_stale_marker
from receiver.cache import TenantCache
from receiver.labelset import LabelLimits, describe, series_id, validate
from receiver.negotiation import RemoteWriteProtocol

try:
    from receiver import _wire as wire
except ImportError:  # built by setup.py where a C compiler is; these Python steps otherwise
    wire = None  # type: ignore[assignment]

__all__ = [
    "MAX_TIMESTAMP_MS",
    "MIN_TIMESTAMP_MS",
    "SCHEMA_VERSION",
    "DecodedWrite",
    "DecoderLimits",
    "Record",
    "RemoteWriteDecoder",
    "wire",
]

SCHEMA_VERSION = 1
MIN_TIMESTAMP_MS = 0
"""Earliest sample, histogram or exemplar timestamp accepted: 1970-01-01T00:00:00Z."""
MAX_TIMESTAMP_MS = 253_402_300_799_999
"""Latest timestamp accepted: 9999-12-31T23:59:59.999Z, the end of RFC 3339 time."""

_FAMILY_SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created", "_info")
_SeriesBatch = samples_pb2.SeriesBatch
_STALE = re.escape(STALE_NAN_BYTES)
# A float sample as Prometheus encodes it: field 2 of 16 bytes holding the value (field 1,
# fixed64, not a staleness marker) and the timestamp (field 2) as a 6-byte varint, i.e.
# between 2^35 ms (1971-02-03) and 2^42 ms (2109-05-15). Zero values are omitted by
# proto3 encoders (9 bytes); both shapes need no further check. The _RAW_ forms are the
# Sample messages themselves (a 2.0 series' samples, as its view hands them over).
_RAW_FULL = rb"\x09(?!" + _STALE + rb").{8}\x10[\x80-\xff]{5}[\x00-\x7f]"
_RAW_ZERO = rb"\x10[\x80-\xff]{5}[\x00-\x7f]"
_FULL_SAMPLE = rb"\x12\x10" + _RAW_FULL
_ZERO_SAMPLE = rb"\x12\x07" + _RAW_ZERO
_FULL_SAMPLES = re.compile(rb"(?:" + _FULL_SAMPLE + rb")+", re.DOTALL)
_PLAIN_SAMPLES = re.compile(rb"(?:" + _FULL_SAMPLE + rb"|" + _ZERO_SAMPLE + rb")+", re.DOTALL)
_SAMPLE_PREFIX = b"\x12\x10\x09"  # field 2 (16 bytes), then field 1 (fixed64)
_FULL_SAMPLE_BYTES = 18  # its tag, length and 16 bytes
# The same layout as a numpy record, to check many samples at once: the tag and length
# (0x12 0x10), the value's tag (0x09), the value, the timestamp's tag (0x10), 4 + 1 bytes
# with the continuation bit, the last without.
_SAMPLE_RECORD = np.dtype(
    [
        ("tag", "<u2"),
        ("value_tag", "u1"),
        ("value", "<u8"),
        ("time_tag", "u1"),
        ("time", "<u4"),
        ("time_4", "u1"),
        ("time_5", "u1"),
    ]
)
_STALE_U64 = int.from_bytes(STALE_NAN_BYTES, "little")
# From about three samples a series on, numpy checks a request's samples faster than the
# regular expression does series by series (measured: 2,000 series x 10 samples, 1.5 ms
# against 0.44 ms; at 1 sample the expression is faster).
_VECTOR_TAIL_BYTES = 3 * _FULL_SAMPLE_BYTES
_ONE_SAMPLE = re.compile(_FULL_SAMPLE + rb"|" + _ZERO_SAMPLE, re.DOTALL)
# A zero sample written in full (the index's form): its tag and length, the value 0.0; the
# timestamp's 7 bytes follow.
_FULL_ZERO = b"\x12\x10\x09" + bytes(8)
# The estimated memory of a cached label set beyond its bytes (checked by a test).
_SERIES_ENTRY_OVERHEAD = 400
_METADATA_ENTRY_OVERHEAD = 320

Record = tuple[int, bytes, bytes]
"""One Kafka record: (series id, key, value). A tuple because the fast path makes 500 a request."""

_Entry = tuple[int, bytes, bytes, bytes]
"""A validated label set: (series id, Kafka key, encoded series_id field, metric name UTF-8)."""
_PLACEHOLDER: _Entry = (0, b"", b"", b"")
"""Stands for a series checked on its own, whose record replaces the one built with it."""
_SymbolicEntry = tuple[list[str], list[tuple[str, str]], bytes, int, bytes, bytes]
"""A validated 2.0 label set: (its strings in order, as pairs, its labels as 1.0 encodes them
(field 1 of TimeSeries and of SeriesBatch), series id, Kafka key, encoded series_id field)."""


@dataclass(frozen=True, slots=True)
class DecoderLimits:
    """Limits on what one request may carry and on what the decoder remembers."""

    labels: LabelLimits = field(default_factory=LabelLimits)
    help_bytes: int = 1024
    unit_bytes: int = 128
    series_cache_bytes: int = 128 * 1024 * 1024
    metadata_cache_bytes: int = 16 * 1024 * 1024


@dataclass(slots=True)
class DecodedWrite:
    """The records of one request and what they contain."""

    records: list[Record] = field(default_factory=list)
    # Per record, its samples in the index's form (aidevops.batches.pack_samples), or b""
    # (the worker reads that series itself); empty: no index for this request.
    index_samples: list[bytes] = field(default_factory=list)
    received_at: int = 0  # milliseconds, as in every record
    samples: int = 0
    histograms: int = 0
    exemplars: int = 0
    metadata: int = 0
    stale_markers: int = 0

    @property
    def series(self) -> int:
        return len(self.records)


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _label_end(raw: bytes) -> int:
    """Where the leading label fields (tag 0x0A) of a serialized series end.

    ``raw`` is not checked yet: a length running past the end gives a position past it.
    """
    pos = 0
    end = len(raw)
    while pos < end and raw[pos] == 0x0A:
        if pos + 1 >= end:
            return end + 1
        length = raw[pos + 1]
        if length < 0x80:
            pos += 2 + length
        else:
            try:
                length, pos = _varint(raw, pos + 1)
            except IndexError:
                return end + 1
            pos += length
    return pos


def _positions(items: list[Any], value: object) -> Iterator[int]:
    """Indices of ``value`` in ``items``, each found by C's search (cheap when they are few).

    >>> list(_positions([None, 1, None, 2], None))
    [0, 2]
    """
    start = 0
    while True:
        try:
            start = items.index(value, start) + 1
        except ValueError:
            return
        yield start - 1


def _common_tail(probes: Iterable[bytes]) -> int:
    """The most common length of plain samples after the labels among ``probes``.

    >>> one = b"\\x0a\\x04\\x0a\\x01a\\x12\\x01b" + b"\\x12\\x10\\x09" + bytes(15)
    >>> _common_tail([one, b"\\x0a\\x00", one])
    18
    """
    tails = [len(raw) - raw.find(_SAMPLE_PREFIX) for raw in probes if raw.find(_SAMPLE_PREFIX) > 0]
    return max(tails, key=tails.count) if tails else _FULL_SAMPLE_BYTES


def _plain_samples(samples: np.ndarray) -> np.ndarray:
    """Which of ``samples`` (``_SAMPLE_RECORD``) are plain float samples (``_FULL_SAMPLE``)."""
    plain = (samples["tag"] == 0x1012) & (samples["value_tag"] == 0x09)
    plain &= (samples["value"] != _STALE_U64) & (samples["time_tag"] == 0x10)
    plain &= (samples["time"] & 0x80808080) == 0x80808080
    plain &= (samples["time_4"] >= 0x80) & (samples["time_5"] < 0x80)
    return cast("np.ndarray", plain)


def _plain_tails(raws: list[bytes], guesses: list[int]) -> list[bool]:
    """Whether each ``raw[guess:]`` is one or more plain float samples (``_FULL_SAMPLES``).

    The same answer as ``_FULL_SAMPLES.fullmatch(raw, guess)`` (and False where ``guess``
    is not positive), for a whole request at once.

    >>> sample = b"\\x12\\x10\\x09" + bytes(8) + b"\\x10" + b"\\x80" * 5 + b"\\x01"
    >>> stale = b"\\x12\\x10\\x09" + STALE_NAN_BYTES + sample[11:]
    >>> raws = [b"L" + sample * 2, b"L" + sample + stale, b"L" + sample[:-1], b"L" + sample]
    >>> _plain_tails(raws, [1, 1, 1, 0])
    [True, False, False, False]
    """
    series = len(raws)
    tails = cast("list[bytes]", list(map(getitem, raws, map(slice, guesses, repeat(None)))))
    lengths = np.fromiter(map(len, tails), dtype=np.int64, count=series)
    whole = (lengths > 0) & (lengths % _FULL_SAMPLE_BYTES == 0)
    whole &= np.fromiter(guesses, dtype=np.int64, count=series) > 0
    if not whole.all():
        tails = list(compress(tails, whole.tolist()))
        lengths = lengths[whole]
    result = np.zeros(series, dtype=bool)
    if not tails:
        return cast("list[bool]", result.tolist())
    plain = _plain_samples(np.frombuffer(b"".join(tails), dtype=_SAMPLE_RECORD))
    rows = lengths // _FULL_SAMPLE_BYTES
    result[whole] = np.logical_and.reduceat(plain, np.cumsum(rows) - rows)
    return cast("list[bool]", result.tolist())


def _plain_ends(raws: list[bytes], lengths: np.ndarray, tail: int) -> list[bool]:
    """Whether each raw ends in ``tail`` bytes of plain float samples after at least one byte.

    The same answer as ``_FULL_SAMPLES.fullmatch(raw, len(raw) - tail)`` (False where that
    position is not positive), for a whole request at once and without a slice per series:
    the samples are gathered from the joined series. For short tails (a few samples), where
    gathering is cheap; ``lengths`` are those of ``raws`` and ``tail`` a multiple of 18.

    >>> sample = b"\\x12\\x10\\x09" + bytes(8) + b"\\x10" + b"\\x80" * 5 + b"\\x01"
    >>> stale = b"\\x12\\x10\\x09" + STALE_NAN_BYTES + sample[11:]
    >>> late = b"L" + sample[:-1] + b"\\x81"  # its timestamp runs on
    >>> raws = [b"L" + sample, b"L" + stale, late, sample, b"LL" + sample, b"L" + sample]
    >>> _plain_ends(raws, np.array(list(map(len, raws))), 18)
    [True, False, False, False, True, True]
    """
    series = len(raws)
    joined = np.frombuffer(b"".join(raws), dtype=np.uint8)
    if len(joined) < tail:
        return [False] * series
    # Series not longer than the tail are answered False; their (clipped) start is moot.
    # Ends never pass the joined length, so only the lower bound needs clipping (the ufunc
    # and the method skip numpy's Python-level wrappers of np.clip and np.cumsum).
    starts = np.maximum(lengths.cumsum() - tail, 0)
    samples = joined[starts[:, np.newaxis] + np.arange(tail)].reshape(-1).view(_SAMPLE_RECORD)
    plain = _plain_samples(samples)
    whole = plain.reshape(series, tail // _FULL_SAMPLE_BYTES).all(axis=1) & (lengths > tail)
    return cast("list[bool]", whole.tolist())


_INDEX_MIN_MS, _INDEX_END_MS = 1 << 35, 1 << 42
"""Timestamps whose varint takes the 6 bytes of the index's form: 1971-02-03 to 2109-05-15."""


def _index_form(counts: list[int], values: list[float], stamps: list[int]) -> list[bytes]:
    """Each series' samples in the index's 18-byte form, as Prometheus' 1.0 encoding lays
    them out; ``b""`` for a series with a count of 0 or any NaN (its bits are the series').

    >>> form = _index_form([1, 0], [2.5], [1_700_000_000_000])
    >>> rw1.TimeSeries.FromString(form[0]).samples[0].value, form[1]
    (2.5, b'')
    """
    samples = np.empty(len(values), dtype=_SAMPLE_RECORD)
    floats = np.asarray(values, dtype="<f8")
    samples["tag"], samples["value_tag"], samples["time_tag"] = 0x1012, 0x09, 0x10
    samples["value"] = floats.view("<u8")
    times = np.asarray(stamps, dtype=np.uint64)
    groups = [(times >> np.uint64(7 * k)) & np.uint64(0x7F) for k in range(6)]
    samples["time"] = sum(
        ((group | np.uint64(0x80)) << np.uint64(8 * k)) for k, group in enumerate(groups[:4])
    )
    samples["time_4"], samples["time_5"] = groups[4] | np.uint64(0x80), groups[5]
    encoded = samples.tobytes()
    sizes = np.asarray(counts, dtype=np.int64)
    ends = np.cumsum(sizes)
    starts = ends - sizes
    held = sizes > 0
    nan = np.isnan(floats)
    if nan.any():
        some = np.flatnonzero(held)  # each one's samples run up to the next one's start
        held[some[np.logical_or.reduceat(nan, starts[some])]] = False
    return [
        encoded[start:end] if kept else b""
        for start, end, kept in zip(
            (starts * _FULL_SAMPLE_BYTES).tolist(),
            (ends * _FULL_SAMPLE_BYTES).tolist(),
            held.tolist(),
            strict=True,
        )
    ]


# A 2.0 sample as Prometheus encodes it, unframed: _FULL_SAMPLE or _ZERO_SAMPLE without
# their field tag and length.
_V2_FULL = 16  # the value's tag and 8 bytes, the timestamp's tag and 6 bytes
_V2_SAMPLE = re.compile(_RAW_FULL + rb"|" + _RAW_ZERO, re.DOTALL)


def _plain_v2_samples(samples: Sequence[bytes]) -> bool:
    """Whether each of a 2.0 series' raw samples is a plain float sample (zero or not).

    >>> one = b"\\x09" + bytes(8) + b"\\x10" + b"\\x80" * 5 + b"\\x01"
    >>> _plain_v2_samples([one, one[9:]]), _plain_v2_samples([one[:-1]])
    (True, False)
    """
    return all(map(_V2_SAMPLE.fullmatch, samples))


def _frame_samples(samples: Sequence[bytes]) -> bytes:
    """Plain raw samples as SeriesBatch field 2 (each framed by its tag and length)."""
    if all(len(sample) == _V2_FULL for sample in samples):
        return b"\x12\x10" + b"\x12\x10".join(samples)
    return b"".join(
        (b"\x12\x10" if len(sample) == _V2_FULL else b"\x12\x07") + sample for sample in samples
    )


def _full_zeros(samples: Sequence[bytes]) -> bytes:
    """Plain raw samples in the index's form: zeros (value omitted) written in full."""
    return b"".join(
        b"\x12\x10" + sample if len(sample) == _V2_FULL else _FULL_ZERO + sample
        for sample in samples
    )


def _canonical(raw: bytes, label_end: int) -> bool:
    """Whether a series that upb accepted holds labels first, then only fields 2-4.

    Only then is ``raw[:label_end]`` every label, and ``raw`` safe to forward as it is.
    """
    pos = label_end
    end = len(raw)
    while pos < end:
        tag = raw[pos]
        if tag != 0x12 and tag != 0x1A and tag != 0x22:
            return False
        length = raw[pos + 1]
        if length < 0x80:
            pos += 2 + length
        else:
            length, pos = _varint(raw, pos + 1)
            pos += length
    return True


def _labels(pairs: Iterable[rw1.Label]) -> list[tuple[str, str]]:
    return [(label.name, label.value) for label in pairs]


def _family_candidates(name: str) -> list[str]:
    candidates = [name]
    for suffix in _FAMILY_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            candidates.append(name[: -len(suffix)])
    return candidates


def _check_times(times: Iterable[int], what: str, labels: Sequence[tuple[str, str]]) -> None:
    for timestamp in times:
        if not MIN_TIMESTAMP_MS <= timestamp <= MAX_TIMESTAMP_MS:
            raise DecodeError(
                f"{what} timestamp {timestamp} is outside 1970-01-01..9999-12-31 "
                f"in series {describe(labels)}"
            )


class RemoteWriteDecoder:
    """Decodes remote-write payloads; remembers validated label sets and metric metadata.

    One instance per receiver process. Not thread-safe (the receiver runs one event loop).
    Everything remembered is per tenant and bounded in bytes (:class:`DecoderLimits`).

    Parameters
    ----------
    limits
        Label rules beyond the specification's, metadata text lengths, cache sizes.

    Examples
    --------
    >>> ts = rw1.TimeSeries(labels=[rw1.Label(name="__name__", value="up")],
    ...                     samples=[rw1.Sample(value=1.0, timestamp=1000)])
    >>> payload = rw1.WriteRequest(timeseries=[ts]).SerializeToString()
    >>> decoded = RemoteWriteDecoder().decode(RemoteWriteProtocol.V1, payload, "acme", 5)
    >>> decoded.series, decoded.samples
    (1, 1)
    >>> batch = _SeriesBatch.FromString(decoded.records[0][2])
    >>> batch.tenant, batch.labels[0].value, batch.samples[0].value
    ('acme', 'up', 1.0)
    """

    def __init__(
        self, limits: DecoderLimits | None = None, index: bool = True, native: bool = True
    ):
        self.limits = limits or DecoderLimits()
        # Whether DecodedWrite.index_samples is filled (AIDEVOPS_SAMPLES_INDEX)
        self.index = index
        # receiver._wire, when built: the common 1.0 request in C (the same records)
        self._wire = wire if native else None
        # label bytes -> (series id, key, encoded series_id field, metric name), per tenant
        self.series_cache: TenantCache[_Entry] = TenantCache(
            self.limits.series_cache_bytes, _SERIES_ENTRY_OVERHEAD, lambda e: len(e[3])
        )
        # 2.0: label strings joined by NUL -> _SymbolicEntry, per tenant (the strings are
        # compared on a hit: NUL may occur in a value)
        self.symbolic_series: TenantCache[_SymbolicEntry] = TenantCache(
            self.limits.series_cache_bytes, _SERIES_ENTRY_OVERHEAD, lambda e: 3 * len(e[2])
        )
        # metric family -> encoded type/unit/help fields, per tenant
        self.families: TenantCache[bytes] = TenantCache(
            self.limits.metadata_cache_bytes // 2, _METADATA_ENTRY_OVERHEAD, len
        )
        # metric name -> encoded type/unit/help fields (b"" when unknown), per tenant; the
        # bytes are those of ``families``, so only the name is counted
        self._metadata_by_name: TenantCache[bytes] = TenantCache(
            self.limits.metadata_cache_bytes // 2, _METADATA_ENTRY_OVERHEAD
        )

    def decode(
        self, protocol: RemoteWriteProtocol, payload: bytes, tenant: str, received_at_ms: int
    ) -> DecodedWrite:
        """Decode and check a whole request; raise :class:`DecodeError` on the first problem.

        Nothing is published for a request that fails: remote-write senders drop a request
        answered with 400, so accepting part of it silently would lose data unnoticed.
        """
        suffix = _SeriesBatch(
            schema_version=SCHEMA_VERSION,
            tenant=tenant,
            protocol=samples_pb2.Protocol.ValueType(protocol),
            received_at=received_at_ms,
        ).SerializeToString()
        if protocol is RemoteWriteProtocol.V2:
            return self._decode_v2(payload, tenant, suffix, received_at_ms)
        return self._decode_v1(payload, tenant, suffix, received_at_ms)

    # -- remote-write 1.0 ------------------------------------------------------------------

    def _decode_v1(
        self, payload: bytes, tenant: str, suffix: bytes, received_at: int
    ) -> DecodedWrite:
        if self._wire is not None:
            # Every series a cached label set with plain samples and known metadata, nothing
            # else in the request: the steps below, in C. Any other request: None.
            plain = self._wire.plain_v1(
                payload,
                self.series_cache.for_tenant(tenant),
                self._metadata_by_name.for_tenant(tenant),
                suffix,
                STALE_NAN_BYTES,
                self.index,
            )
            if plain is not None:
                return DecodedWrite(plain[0], plain[1], received_at, plain[2])
        try:
            view = wire_views_pb2.WriteRequestView.FromString(payload)
        except ProtobufDecodeError as exc:
            raise DecodeError(f"corrupt protobuf WriteRequest: {exc}") from None
        out = DecodedWrite(metadata=len(view.metadata), received_at=received_at)
        if not view.timeseries and not view.metadata and payload:
            raise DecodeError(
                "no series or metadata in a 1.0 WriteRequest: is it a 2.0 Request sent "
                "without proto=io.prometheus.write.v2.Request in Content-Type?"
            )
        if view.metadata:
            self._learn_metadata(tenant, view.metadata)
        cache = self.series_cache.for_tenant(tenant)
        raws = list(view.timeseries)
        if not raws:
            return out
        # Guess where each series' labels end. The guess is safe because it is verified: if
        # raw[:guess] is a cached (validated, canonical) label region and the rest matches
        # plain samples, a parser reading from the start meets exactly those labels, then
        # exactly those samples. First guess, with no scan: every series ends in as many
        # sample bytes as most of three probes do (Prometheus sends most series of a request
        # with the same number of samples); where that fails, at the first bytes that start
        # a plain sample. The steps run for the whole request at once (map), which halves the
        # interpreter's work.
        tail = _common_tail((raws[0], raws[len(raws) // 2], raws[-1]))
        lengths = np.fromiter(map(len, raws), dtype=np.int64, count=len(raws))
        guesses = cast("list[int]", (lengths - tail).tolist())
        heads = cast("Iterator[bytes]", map(getitem, raws, map(slice, guesses)))
        entries = list(map(cache.get, heads))
        matches: list[object]
        if tail < _VECTOR_TAIL_BYTES and tail % _FULL_SAMPLE_BYTES == 0:
            matches, failed = list(_plain_ends(raws, lengths, tail)), False
        elif tail < _VECTOR_TAIL_BYTES:
            matches, failed = list(map(_FULL_SAMPLES.fullmatch, raws, guesses)), None
        else:
            matches, failed = list(_plain_tails(raws, guesses)), False
        odd: list[int] = []
        # Bytes after every series' guessed label end: ``tail`` each until a guess moves.
        plain_bytes = tail * len(raws)
        if None in entries or failed in matches:
            retry = {*_positions(entries, None), *_positions(matches, failed)}
            for index in sorted(retry):
                raw = raws[index]
                guess = raw.find(_SAMPLE_PREFIX)
                plain_bytes += guesses[index] - guess
                guesses[index] = guess
                entries[index] = cache.get(raw[:guess]) if guess > 0 else None
                matches[index] = _FULL_SAMPLES.fullmatch(raw, guess) if guess > 0 else None
                if entries[index] is None or matches[index] is None:
                    odd.append(index)
        # The plain series (all but ``odd``) in one go; each odd one in its place after.
        found = entries.copy()
        for index in odd:
            entries[index] = _PLACEHOLDER
        records: list[Record | None] = list(
            self._plain_records(tenant, raws, cast("list[_Entry]", entries), suffix)
        )
        # The index: each plain series' samples are its bytes after the labels, as sent.
        if self.index:
            plain = cast("list[bytes]", list(map(getitem, raws, map(slice, guesses, repeat(None)))))
        else:
            plain = [b""] * len(raws)
        request: rw1.WriteRequest | None = None
        for index in odd:
            raw, guess, entry = raws[index], guesses[index], found[index]
            plain_bytes -= len(raw) - guess
            # Find the labels' end exactly; then zero-valued samples are still plain;
            # anything else is checked on the full parse.
            label_end = guess if entry is not None and guess > 0 else _label_end(raw)
            if entry is None:
                entry = self.series_cache.for_tenant(tenant).get(raw[:label_end])
            if entry is not None and _PLAIN_SAMPLES.fullmatch(raw, label_end):
                records[index] = next(self._plain_records(tenant, [raw], [entry], suffix))
                # 18-byte samples and 9-byte zero samples: count them one by one, and
                # write the zero ones in full for the index.
                shapes = [match.group()[2:] for match in _ONE_SAMPLE.finditer(raw, label_end)]
                out.samples += len(shapes)
                plain[index] = _full_zeros(shapes)
                continue
            plain[index] = b""
            if request is None:
                try:
                    request = rw1.WriteRequest.FromString(payload)
                except ProtobufDecodeError as exc:
                    raise DecodeError(f"corrupt protobuf WriteRequest: {exc}") from None
            series = request.timeseries[index]
            records[index] = self._checked_v1(series, raw, label_end, tenant, suffix, out)
        # Every plain series holds whole 18-byte samples after its labels.
        out.samples += plain_bytes // _FULL_SAMPLE_BYTES
        # Only an odd series can be left without a record (a label set alone): no full scan.
        if any(records[index] is None for index in odd):
            kept = [i for i, record in enumerate(records) if record is not None]
            out.records = [cast("Record", records[i]) for i in kept]
            plain = [plain[i] for i in kept]
        else:
            out.records = cast("list[Record]", records)
        if self.index:
            out.index_samples = plain
        return out

    def _plain_records(
        self, tenant: str, raws: list[bytes], entries: list[_Entry], suffix: bytes
    ) -> Iterator[Record]:
        """The records of series forwarded as sent, each followed by its own fields."""
        by_name = self._metadata_by_name.for_tenant(tenant)
        metas = list(map(by_name.get, map(itemgetter(3), entries)))
        if None in metas:
            for index, meta in enumerate(metas):
                if meta is None:
                    name = entries[index][3]
                    known = self._metadata_by_name.for_tenant(tenant).get(name)
                    metas[index] = self._resolve_metadata(tenant, name) if known is None else known
        values = map(
            b"".join,
            zip(raws, map(itemgetter(2), entries), cast("list[bytes]", metas), repeat(suffix)),
        )
        return zip(map(itemgetter(0), entries), map(itemgetter(1), entries), values, strict=True)

    def _checked_v1(
        self,
        series: rw1.TimeSeries,
        raw: bytes,
        label_end: int,
        tenant: str,
        suffix: bytes,
        out: DecodedWrite,
    ) -> Record | None:
        """Slow path: check everything on the parsed series; cache its labels when canonical.

        Returns its record (None for a label set alone); counts go to ``out``.
        """
        labels = _labels(series.labels)
        canonical = label_end <= len(raw) and _canonical(raw, label_end)
        entry = self.series_cache.for_tenant(tenant).get(raw[:label_end]) if canonical else None
        if entry is None:
            validate(labels, self.limits.labels)
            entry = self._entry(tenant, labels)
            if canonical:
                self.series_cache.put(tenant, raw[:label_end], entry)
        samples, histograms = len(series.samples), len(series.histograms)
        exemplars = len(series.exemplars)
        if samples and histograms:
            raise DecodeError(
                f"series has both float samples and native histograms: {describe(labels)}"
            )
        if not samples and not histograms and not exemplars:
            return None  # a label set alone carries nothing to score
        _check_times((s.timestamp for s in series.samples), "sample", labels)
        _check_times((h.timestamp for h in series.histograms), "histogram", labels)
        _check_times((e.timestamp for e in series.exemplars), "exemplar", labels)
        if not canonical:
            raw = rw1.TimeSeries(
                labels=series.labels,
                samples=series.samples,
                exemplars=series.exemplars,
                histograms=series.histograms,
            ).SerializeToString()
        sid, key, id_field, name = entry
        meta = self._metadata_by_name.for_tenant(tenant).get(name)
        if meta is None:
            meta = self._resolve_metadata(tenant, name)
        stale = sum(1 for s in series.samples if is_stale_marker(s.value))
        if stale:
            out.stale_markers += stale
            meta += _SeriesBatch(stale_markers=stale).SerializeToString()
        out.samples += samples
        out.histograms += histograms
        out.exemplars += exemplars
        return sid, key, b"".join((raw, id_field, meta, suffix))

    def _entry(self, tenant: str, labels: list[tuple[str, str]]) -> _Entry:
        sid = series_id(tenant, labels)
        name = next(value for key, value in labels if key == "__name__").encode()
        id_field = _SeriesBatch(series_id=sid).SerializeToString()
        return sid, sid.to_bytes(8, "big"), id_field, name

    def _check_metadata_text(self, help_text: str, unit: str, where: str) -> None:
        limits = self.limits
        if len(help_text.encode()) > limits.help_bytes:
            raise DecodeError(
                f"metadata help text longer than {limits.help_bytes} bytes for {where}"
            )
        if len(unit.encode()) > limits.unit_bytes:
            raise DecodeError(f"metadata unit longer than {limits.unit_bytes} bytes for {where}")

    def _learn_metadata(self, tenant: str, metadata: Sequence[rw1.MetricMetadata]) -> None:
        for item in metadata:
            self._check_metadata_text(
                item.help, item.unit, f"metric family {item.metric_family_name[:200]!r}"
            )
        changed = False
        known = self.families.for_tenant(tenant)
        for item in metadata:
            encoded = _SeriesBatch(
                metric_type=samples_pb2.MetricType.ValueType(item.type),
                unit=item.unit,
                help=item.help,
            ).SerializeToString()
            family = item.metric_family_name.encode()
            if known.get(family) != encoded:
                self.families.put(tenant, family, encoded)
                known = self.families.for_tenant(tenant)
                changed = True
        if changed:
            self._metadata_by_name.clear()

    def _resolve_metadata(self, tenant: str, name: bytes) -> bytes:
        found = b""
        families = self.families.for_tenant(tenant)
        for family in _family_candidates(name.decode()):
            encoded = families.get(family.encode())
            if encoded is not None:
                found = encoded
                break
        self._metadata_by_name.put(tenant, name, found)
        return found

    # -- remote-write 2.0 ------------------------------------------------------------------

    def _decode_v2(
        self, payload: bytes, tenant: str, suffix: bytes, received_at: int
    ) -> DecodedWrite:
        """Remote-write 2.0. A series of plain float samples (as 1.0's fast path defines
        them, zeros included) with no histogram, exemplar or created timestamp is copied
        from the view: its samples are wire-identical to a SeriesBatch's. Any other series is
        checked on the C runtime's full parse of the request, made once and only if needed.
        """
        try:
            view = wire_views_pb2.RequestV2View.FromString(payload)
        except ProtobufDecodeError as exc:
            raise DecodeError(f"corrupt protobuf io.prometheus.write.v2.Request: {exc}") from None
        out = DecodedWrite(received_at=received_at)
        if payload and not view.timeseries and not view.symbols:
            raise DecodeError(
                "no symbols or series in a 2.0 Request: is it a 1.0 WriteRequest sent with "
                "the 2.0 Content-Type?"
            )
        symbols = list(view.symbols)
        if symbols and symbols[0] != "":
            raise DecodeError("symbols table must start with the empty string")
        known = self.symbolic_series.for_tenant(tenant)
        limits = self.limits
        index_samples: list[bytes] = []
        metadata: dict[tuple[int, int, int], bytes] = {}  # (type, help, unit refs) -> fields
        request: rw2.Request | None = None
        for index, series in enumerate(view.timeseries):
            # Label sets repeat from request to request: validated and hashed once (a miss
            # costs about 20 us a series, a hit a few).
            flat = self._strings(symbols, series.labels_refs, f"series {index}")
            cache_key = "\x00".join(flat).encode()
            entry = known.get(cache_key)
            if entry is None or entry[0] != flat:
                pairs = list(zip(flat[0::2], flat[1::2], strict=True))
                validate(pairs, limits.labels)
                sid, key, id_field, _ = self._entry(tenant, pairs)
                encoded = rw1.TimeSeries(
                    labels=[rw1.Label(name=k, value=v) for k, v in pairs]
                ).SerializeToString()
                entry = (flat, pairs, encoded, sid, key, id_field)
                self.symbolic_series.put(tenant, cache_key, entry)
                known = self.symbolic_series.for_tenant(tenant)
            _, labels, label_fields, sid, key, id_field = entry
            samples = series.samples
            plain = (
                samples
                and not series.histograms
                and not series.exemplars
                and not series.created_timestamp
                and _plain_v2_samples(samples)
            )
            if plain:
                meta = series.metadata
                refs_key = (meta.type, meta.help_ref, meta.unit_ref)
                fields = metadata.get(refs_key)
                if fields is None:
                    unit, help_text = self._unit_and_help(
                        symbols, meta.unit_ref, meta.help_ref, labels
                    )
                    fields = _SeriesBatch(
                        metric_type=samples_pb2.MetricType.ValueType(meta.type),
                        unit=unit,
                        help=help_text,
                    ).SerializeToString()
                    metadata[refs_key] = fields
                framed = _frame_samples(samples)
                # The labels first, then the samples, as SeriesBatch serializes them.
                value = b"".join((label_fields, framed, fields, id_field, suffix))
                out.records.append((sid, key, value))
                out.samples += len(samples)
                if self.index:
                    full = len(framed) == _FULL_SAMPLE_BYTES * len(samples)
                    index_samples.append(framed if full else _full_zeros(samples))
                continue
            if request is None:
                try:
                    request = rw2.Request.FromString(payload)
                except ProtobufDecodeError as exc:
                    raise DecodeError(
                        f"corrupt protobuf io.prometheus.write.v2.Request: {exc}"
                    ) from None
            value, held = self._checked_v2(
                request.timeseries[index], labels, label_fields, symbols, out
            )
            out.records.append((sid, key, b"".join((value, id_field, suffix))))
            index_samples.append(held)
        if self.index:
            out.index_samples = index_samples
        return out

    def _checked_v2(
        self,
        series: rw2.TimeSeries,
        labels: list[tuple[str, str]],
        label_fields: bytes,
        symbols: list[str],
        out: DecodedWrite,
    ) -> tuple[bytes, bytes]:
        """Slow path: a 2.0 series checked on its parsed message.

        Returns its SeriesBatch bytes (without the series id and the request's fields) and
        its samples in the index's form (``b""``: none there); counts go to ``out``.
        """
        samples, histograms = len(series.samples), len(series.histograms)
        if samples and histograms:
            raise DecodeError(
                f"series has both float samples and native histograms: {describe(labels)}"
            )
        if not samples and not histograms:
            raise DecodeError(f"series has no samples or histograms: {describe(labels)}")
        _check_times((s.timestamp for s in series.samples), "sample", labels)
        _check_times((h.timestamp for h in series.histograms), "histogram", labels)
        _check_times((e.timestamp for e in series.exemplars), "exemplar", labels)
        if series.created_timestamp:
            _check_times((series.created_timestamp,), "created", labels)
        meta = series.metadata
        unit, help_text = self._unit_and_help(symbols, meta.unit_ref, meta.help_ref, labels)
        batch = _SeriesBatch(
            samples=series.samples,
            histograms=series.histograms,
            metric_type=samples_pb2.MetricType.ValueType(meta.type),
            unit=unit,
            help=help_text,
            created_timestamp=series.created_timestamp,
        )
        for exemplar in series.exemplars:
            strings = self._strings(symbols, exemplar.labels_refs, describe(labels))
            pairs = list(zip(strings[0::2], strings[1::2], strict=True))
            batch.exemplars.append(
                rw1.Exemplar(
                    labels=[rw1.Label(name=k, value=v) for k, v in pairs],
                    value=exemplar.value,
                    timestamp=exemplar.timestamp,
                )
            )
        stale = sum(1 for s in series.samples if is_stale_marker(s.value))
        batch.stale_markers = stale
        held = b""
        times = [s.timestamp for s in series.samples] if self.index else []
        if times and not stale and _INDEX_MIN_MS <= min(times) <= max(times) < _INDEX_END_MS:
            held = _index_form([samples], [s.value for s in series.samples], times)[0]
        out.samples += samples
        out.histograms += histograms
        out.exemplars += len(series.exemplars)
        out.stale_markers += stale
        # The labels first, as SeriesBatch would serialize them: the same bytes.
        return label_fields + batch.SerializeToString(), held

    def _unit_and_help(
        self, symbols: list[str], unit_ref: int, help_ref: int, labels: list[tuple[str, str]]
    ) -> tuple[str, str]:
        """A 2.0 series' metadata unit and help, resolved and checked against the limits."""
        unit = self._symbol(symbols, unit_ref, labels, "unit_ref")
        help_text = self._symbol(symbols, help_ref, labels, "help_ref")
        self._check_metadata_text(help_text, unit, f"series {describe(labels)}")
        return unit, help_text

    @staticmethod
    def _strings(symbols: list[str], refs: Sequence[int], where: str) -> list[str]:
        """The label names and values ``refs`` point to, in order (name, value, ...)."""
        if len(refs) % 2:
            raise DecodeError(f"odd number of label references in {where}")
        try:
            return list(map(symbols.__getitem__, refs))
        except IndexError:
            raise DecodeError(
                f"label reference out of range of {len(symbols)} symbols in {where}"
            ) from None

    @staticmethod
    def _symbol(symbols: list[str], ref: int, labels: list[tuple[str, str]], what: str) -> str:
        if ref == 0 and not symbols:
            return ""
        if ref >= len(symbols):
            raise DecodeError(
                f"{what} {ref} out of range of {len(symbols)} symbols in series {describe(labels)}"
            )
        return symbols[ref]
