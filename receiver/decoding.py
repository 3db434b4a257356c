"""Turn a decompressed remote-write payload into Kafka records, one per series.

What the receiver decodes, and what it does not
-----------------------------------------------
Turning every label into Python strings costs several microseconds per series, more than
the rest of the receiver together. Prometheus sends the same series every scrape, so label
sets are checked once and remembered:

1. The whole payload is parsed once by the C protobuf runtime (upb). That checks the
   structure of every nested message and the UTF-8 of every string, without creating
   Python objects for them.
2. A second C parse with a *view* message (:mod:`aidevops.pb.wire_views`) returns each
   series as its raw bytes.
3. For each series a short scan finds where its labels end and counts samples, exemplars
   and histograms. The label bytes are looked up in a cache of validated label sets; only a
   miss decodes labels to strings, applies the rules of :mod:`receiver.labelset` and
   computes the series id.
4. The Kafka value is the series' own bytes followed by a few pre-encoded fields: fields
   1-4 of ``aidevops.v1.SeriesBatch`` are wire-identical to ``prometheus.TimeSeries`` and
   protobuf merges concatenated messages (see ``proto/aidevops/pb/samples.proto``).

Series that are not laid out the way Prometheus writes them (labels not first, unknown
fields) take the slow path: decoded and re-encoded, never cached. Remote-write 2.0 always
decodes, since its labels point into a per-request symbols table.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError as ProtobufDecodeError

from aidevops.errors import DecodeError
from aidevops.pb import remote_write_v1_pb2 as rw1
from aidevops.pb import remote_write_v2_pb2 as rw2
from aidevops.pb import samples_pb2, wire_views_pb2
from aidevops.staleness import STALE_NAN_BYTES, is_stale_marker
from receiver.labelset import LabelLimits, describe, series_id, validate
from receiver.negotiation import RemoteWriteProtocol

__all__ = [
    "SCHEMA_VERSION",
    "DecodedWrite",
    "Record",
    "RemoteWriteDecoder",
]

SCHEMA_VERSION = 1
# A sample's value is protobuf field 1, wire type fixed64: tag byte 0x09 then 8 bytes.
_STALE_FIELD = b"\x09" + STALE_NAN_BYTES
_FAMILY_SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created", "_info")
_SeriesBatch = samples_pb2.SeriesBatch

Record = tuple[int, bytes, bytes]
"""One Kafka record: (series id, key, value). A tuple because the fast path makes 500 a request."""


@dataclass(slots=True)
class DecodedWrite:
    """The records of one request and what they contain."""

    records: list[Record] = field(default_factory=list)
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


def _layout(raw: bytes) -> tuple[int, int, int, int, bool]:
    """Scan a serialized ``prometheus.TimeSeries`` that upb already checked.

    Returns ``(label_end, samples, exemplars, histograms, canonical)``: ``raw[:label_end]``
    holds every label when ``canonical`` (labels first, no field beyond 1-4).
    """
    pos = 0
    end = len(raw)
    while pos < end and raw[pos] == 0x0A:
        length = raw[pos + 1]
        if length < 0x80:
            pos += 2 + length
        else:
            length, pos = _varint(raw, pos + 1)
            pos += length
    label_end = pos
    samples = exemplars = histograms = 0
    canonical = True
    while pos < end:
        tag = raw[pos]
        # Fields 2-4 are length-delimited with one-byte tags; a short length is one byte too.
        if tag == 0x12 or tag == 0x1A or tag == 0x22:
            if tag == 0x12:
                samples += 1
            elif tag == 0x1A:
                exemplars += 1
            else:
                histograms += 1
            length = raw[pos + 1]
            if length < 0x80:
                pos += 2 + length
            else:
                length, pos = _varint(raw, pos + 1)
                pos += length
            continue
        canonical = False
        tag, pos = _varint(raw, pos)
        wire_type = tag & 7
        if wire_type == 2:
            length, pos = _varint(raw, pos)
            pos += length
        elif wire_type == 0:
            _, pos = _varint(raw, pos)
        elif wire_type == 1:
            pos += 8
        elif wire_type == 5:
            pos += 4
        else:  # groups: upb accepted them, we do not forward them
            break
    return label_end, samples, exemplars, histograms, canonical


def _labels(pairs: Sequence[rw1.Label]) -> list[tuple[str, str]]:
    return [(label.name, label.value) for label in pairs]


def _family_candidates(name: str) -> list[str]:
    candidates = [name]
    for suffix in _FAMILY_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            candidates.append(name[: -len(suffix)])
    return candidates


class RemoteWriteDecoder:
    """Decodes remote-write payloads; remembers validated label sets and metric metadata.

    One instance per receiver process. Not thread-safe (the receiver runs one event loop).

    Parameters
    ----------
    limits
        Label rules beyond the specification's (count and lengths).
    cache_size
        Most label sets remembered; when full, the older half is forgotten.

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

    def __init__(self, limits: LabelLimits | None = None, cache_size: int = 500_000):
        self.limits = limits or LabelLimits()
        self.cache_size = cache_size
        # label bytes -> (series id, key, encoded series_id field, metric name)
        self._series: dict[bytes, tuple[int, bytes, bytes, str]] = {}
        # (tenant, metric family) -> encoded type/unit/help fields
        self._families: dict[tuple[str, str], bytes] = {}
        # (tenant, metric name) -> encoded type/unit/help fields, b"" when unknown
        self._metadata_by_name: dict[tuple[str, str], bytes] = {}

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
            return self._decode_v2(payload, tenant, suffix)
        return self._decode_v1(payload, tenant, suffix)

    # -- remote-write 1.0 ------------------------------------------------------------------

    def _decode_v1(self, payload: bytes, tenant: str, suffix: bytes) -> DecodedWrite:
        try:
            request = rw1.WriteRequest.FromString(payload)
            view = wire_views_pb2.WriteRequestView.FromString(payload)
        except ProtobufDecodeError as exc:
            raise DecodeError(f"corrupt protobuf WriteRequest: {exc}") from None
        out = DecodedWrite(metadata=len(request.metadata))
        if not request.timeseries and not request.metadata and payload:
            raise DecodeError(
                "no series or metadata in a 1.0 WriteRequest: is it a 2.0 Request sent "
                "without proto=io.prometheus.write.v2.Request in Content-Type?"
            )
        if request.metadata:
            self._learn_metadata(tenant, request.metadata)
        cache = self._series
        records = out.records
        for index, raw in enumerate(view.timeseries):
            label_end, samples, exemplars, histograms, canonical = _layout(raw)
            entry = cache.get(raw[:label_end]) if canonical else None
            if entry is None or samples and histograms:
                entry, raw = self._admit_v1(request.timeseries[index], raw, label_end, canonical)
                if samples and histograms:
                    raise DecodeError(
                        "series has both float samples and native histograms: "
                        f"{describe(_labels(request.timeseries[index].labels))}"
                    )
            if not samples and not histograms and not exemplars:
                continue
            sid, key, id_field, name = entry
            meta = self._metadata_by_name.get((tenant, name))
            if meta is None:
                meta = self._resolve_metadata(tenant, name)
            if _STALE_FIELD in raw:
                stale = sum(
                    1 for s in request.timeseries[index].samples if is_stale_marker(s.value)
                )
                if stale:
                    out.stale_markers += stale
                    meta += _SeriesBatch(stale_markers=stale).SerializeToString()
            records.append((sid, key, b"".join((raw, id_field, meta, suffix))))
            out.samples += samples
            out.histograms += histograms
            out.exemplars += exemplars
        return out

    def _admit_v1(
        self, series: rw1.TimeSeries, raw: bytes, label_end: int, canonical: bool
    ) -> tuple[tuple[int, bytes, bytes, str], bytes]:
        """Slow path: check the labels; cache them when the layout allows; maybe re-encode."""
        labels = _labels(series.labels)
        validate(labels, self.limits)
        entry = self._entry(labels)
        if canonical:
            self._remember(raw[:label_end], entry)
            return entry, raw
        canonical_series = rw1.TimeSeries(
            labels=series.labels,
            samples=series.samples,
            exemplars=series.exemplars,
            histograms=series.histograms,
        )
        return entry, canonical_series.SerializeToString()

    def _entry(self, labels: list[tuple[str, str]]) -> tuple[int, bytes, bytes, str]:
        sid = series_id(labels)
        name = next(value for key, value in labels if key == "__name__")
        id_field = _SeriesBatch(series_id=sid).SerializeToString()
        return sid, sid.to_bytes(8, "big"), id_field, name

    def _remember(self, key: bytes, entry: tuple[int, bytes, bytes, str]) -> None:
        if not self.cache_size:
            return
        if len(self._series) >= self.cache_size:
            keep = itertools.islice(self._series.items(), len(self._series) // 2, None)
            self._series = dict(keep)
        self._series[key] = entry

    def _learn_metadata(self, tenant: str, metadata: Sequence[rw1.MetricMetadata]) -> None:
        changed = False
        for item in metadata:
            encoded = _SeriesBatch(
                metric_type=samples_pb2.MetricType.ValueType(item.type),
                unit=item.unit,
                help=item.help,
            ).SerializeToString()
            key = (tenant, item.metric_family_name)
            if self._families.get(key) != encoded:
                if len(self._families) >= max(self.cache_size, 1):
                    self._families.clear()
                self._families[key] = encoded
                changed = True
        if changed:
            self._metadata_by_name.clear()

    def _resolve_metadata(self, tenant: str, name: str) -> bytes:
        found = b""
        for family in _family_candidates(name):
            encoded = self._families.get((tenant, family))
            if encoded is not None:
                found = encoded
                break
        if len(self._metadata_by_name) >= max(self.cache_size, 1):
            self._metadata_by_name.clear()
        self._metadata_by_name[(tenant, name)] = found
        return found

    # -- remote-write 2.0 ------------------------------------------------------------------

    def _decode_v2(self, payload: bytes, tenant: str, suffix: bytes) -> DecodedWrite:
        try:
            request = rw2.Request.FromString(payload)
        except ProtobufDecodeError as exc:
            raise DecodeError(f"corrupt protobuf io.prometheus.write.v2.Request: {exc}") from None
        out = DecodedWrite()
        if payload and not request.timeseries and not request.symbols:
            raise DecodeError(
                "no symbols or series in a 2.0 Request: is it a 1.0 WriteRequest sent with "
                "the 2.0 Content-Type?"
            )
        symbols = list(request.symbols)
        if symbols and symbols[0] != "":
            raise DecodeError("symbols table must start with the empty string")
        for index, series in enumerate(request.timeseries):
            labels = self._resolve_refs(symbols, series.labels_refs, f"series {index}")
            validate(labels, self.limits)
            samples, histograms = len(series.samples), len(series.histograms)
            if samples and histograms:
                raise DecodeError(
                    f"series has both float samples and native histograms: {describe(labels)}"
                )
            if not samples and not histograms:
                raise DecodeError(f"series has no samples or histograms: {describe(labels)}")
            meta = series.metadata
            batch = _SeriesBatch(
                labels=[rw1.Label(name=k, value=v) for k, v in labels],
                samples=series.samples,
                histograms=series.histograms,
                metric_type=samples_pb2.MetricType.ValueType(meta.type),
                unit=self._symbol(symbols, meta.unit_ref, labels, "unit_ref"),
                help=self._symbol(symbols, meta.help_ref, labels, "help_ref"),
                created_timestamp=series.created_timestamp,
            )
            for exemplar in series.exemplars:
                pairs = self._resolve_refs(symbols, exemplar.labels_refs, describe(labels))
                batch.exemplars.append(
                    rw1.Exemplar(
                        labels=[rw1.Label(name=k, value=v) for k, v in pairs],
                        value=exemplar.value,
                        timestamp=exemplar.timestamp,
                    )
                )
            stale = sum(1 for s in series.samples if is_stale_marker(s.value))
            batch.stale_markers = stale
            _, key, id_field, _ = self._entry(labels)
            value = batch.SerializeToString() + id_field + suffix
            out.records.append((int.from_bytes(key, "big"), key, value))
            out.samples += samples
            out.histograms += histograms
            out.exemplars += len(series.exemplars)
            out.stale_markers += stale
        return out

    @staticmethod
    def _resolve_refs(symbols: list[str], refs: Sequence[int], where: str) -> list[tuple[str, str]]:
        if len(refs) % 2:
            raise DecodeError(f"odd number of label references in {where}")
        try:
            return [(symbols[refs[i]], symbols[refs[i + 1]]) for i in range(0, len(refs), 2)]
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
