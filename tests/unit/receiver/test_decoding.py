"""The decoding core: what each request turns into, and what it is refused for."""

from __future__ import annotations

import struct

import pytest

from aidevops.errors import DecodeError
from aidevops.pb import remote_write_v1_pb2 as rw1
from aidevops.pb import samples_pb2
from receiver.decoding import DecodedWrite, DecoderLimits, RemoteWriteDecoder
from receiver.labelset import LabelLimits, series_id
from receiver.negotiation import RemoteWriteProtocol
from tests.support.remote_write import STALE_NAN, v1_request, v1_series, v2_request

V1, V2 = RemoteWriteProtocol.V1, RemoteWriteProtocol.V2
NODE = [("__name__", "node_load1"), ("instance", "a:9100"), ("job", "node")]


def batches(decoded: object) -> list[samples_pb2.SeriesBatch]:
    return [samples_pb2.SeriesBatch.FromString(v) for _, _, v in decoded.records]  # type: ignore[attr-defined]


def bits(value: float) -> int:
    result: int = struct.unpack("<Q", struct.pack("<d", value))[0]
    return result


def test_v1_series_becomes_one_keyed_batch_with_every_field() -> None:
    payload = v1_request([v1_series(NODE, [(0.5, 1000), (0.75, 16000)])])
    decoded = RemoteWriteDecoder().decode(V1, payload, "team-a", 99)
    [(sid, key, _)] = decoded.records
    [batch] = batches(decoded)
    assert sid == series_id("team-a", NODE) == batch.series_id
    assert key == sid.to_bytes(8, "big")
    assert [(label.name, label.value) for label in batch.labels] == NODE
    assert [(s.value, s.timestamp) for s in batch.samples] == [(0.5, 1000), (0.75, 16000)]
    assert (batch.tenant, batch.schema_version, batch.received_at) == ("team-a", 1, 99)
    assert batch.protocol == samples_pb2.PROTOCOL_REMOTE_WRITE_1
    assert (decoded.series, decoded.samples) == (1, 2)


def test_cached_label_sets_produce_the_same_bytes_as_the_first_decode() -> None:
    decoder = RemoteWriteDecoder()
    payload = v1_request([v1_series(NODE), v1_series([*NODE[:2], ("job", "other")])])
    first = decoder.decode(V1, payload, "t", 1)
    second = decoder.decode(V1, payload, "t", 1)
    assert first.records == second.records
    assert len({sid for sid, _, _ in first.records}) == 2


def test_cache_is_bounded_in_bytes() -> None:
    decoder = RemoteWriteDecoder(DecoderLimits(series_cache_bytes=10_000))
    for i in range(200):
        decoder.decode(
            V1, v1_request([v1_series([("__name__", f"m{i}"), ("a", "x" * 100)])]), "t", 1
        )
    assert 0 < decoder.series_cache.bytes <= 10_000
    assert 5 < len(decoder.series_cache) < 200


def test_series_written_in_a_different_field_order_is_reencoded() -> None:
    series = v1_series(NODE)
    # Samples first, then labels: valid protobuf, not how Prometheus lays it out.
    labels_only = rw1.TimeSeries(labels=series.labels).SerializeToString()
    samples_only = rw1.TimeSeries(samples=series.samples).SerializeToString()
    raw = samples_only + labels_only
    payload = b"\x0a" + bytes([len(raw)]) + raw
    decoder = RemoteWriteDecoder()
    [batch] = batches(decoder.decode(V1, payload, "t", 1))
    assert [(label.name, label.value) for label in batch.labels] == NODE
    assert batch.series_id == series_id("t", NODE)
    assert not len(decoder.series_cache), "a non-canonical layout must not be cached"


def test_unknown_fields_in_a_series_are_not_forwarded() -> None:
    raw = v1_series(NODE).SerializeToString() + b"\x88\x01\x05"  # field 17 (our tenant), varint
    payload = b"\x0a" + bytes([len(raw)]) + raw
    [batch] = batches(RemoteWriteDecoder().decode(V1, payload, "real-tenant", 1))
    assert batch.tenant == "real-tenant"
    assert len(batch.samples) == 1


def test_staleness_marker_keeps_its_bits_and_is_counted() -> None:
    payload = v1_request([v1_series(NODE, [(1.0, 1000), (STALE_NAN, 2000)])])
    decoded = RemoteWriteDecoder().decode(V1, payload, "t", 1)
    [batch] = batches(decoded)
    assert bits(batch.samples[1].value) == 0x7FF0000000000002
    assert batch.stale_markers == 1 == decoded.stale_markers


def test_ordinary_nan_and_infinities_are_accepted_and_not_stale() -> None:
    values = [(float("nan"), 1), (float("inf"), 2), (float("-inf"), 3)]
    decoded = RemoteWriteDecoder().decode(V1, v1_request([v1_series(NODE, values)]), "t", 1)
    [batch] = batches(decoded)
    assert bits(batch.samples[0].value) == bits(float("nan"))
    assert [s.value for s in batch.samples[1:]] == [float("inf"), float("-inf")]
    assert batch.stale_markers == 0


def test_metadata_from_an_earlier_request_types_later_series() -> None:
    decoder = RemoteWriteDecoder()
    meta = rw1.MetricMetadata(
        type=rw1.MetricMetadata.COUNTER, metric_family_name="http_requests", help="Requests."
    )
    decoder.decode(V1, v1_request([], metadata=[meta]), "t", 1)
    name = [("__name__", "http_requests_total"), ("job", "api")]
    [batch] = batches(decoder.decode(V1, v1_request([v1_series(name)]), "t", 1))
    assert batch.metric_type == samples_pb2.METRIC_TYPE_COUNTER
    assert batch.help == "Requests."
    # Another tenant's metadata does not leak.
    [other] = batches(decoder.decode(V1, v1_request([v1_series(name)]), "u", 1))
    assert other.metric_type == samples_pb2.METRIC_TYPE_UNSPECIFIED


def test_histograms_and_exemplars_are_published_not_dropped() -> None:
    hist = rw1.Histogram(count_int=3, sum=1.5, schema=0, timestamp=5)
    series = rw1.TimeSeries(
        labels=[rw1.Label(name="__name__", value="rpc_seconds")], histograms=[hist]
    )
    exemplar_only = rw1.TimeSeries(
        labels=[rw1.Label(name="__name__", value="rpc_total")],
        exemplars=[rw1.Exemplar(labels=[rw1.Label(name="trace_id", value="ab")], value=1)],
    )
    decoded = RemoteWriteDecoder().decode(V1, v1_request([series, exemplar_only]), "t", 1)
    first, second = batches(decoded)
    assert first.histograms[0].count_int == 3
    assert second.exemplars[0].labels[0].value == "ab"
    assert (decoded.histograms, decoded.exemplars, decoded.samples) == (1, 1, 0)


def test_v2_request_resolves_symbols_and_carries_metadata() -> None:
    payload = v2_request([(NODE, [(2.0, 1000)])], metric_type=2, help_text="Load.", unit="1")
    decoded = RemoteWriteDecoder().decode(V2, payload, "t", 1)
    [batch] = batches(decoded)
    assert [(label.name, label.value) for label in batch.labels] == NODE
    assert batch.series_id == series_id("t", NODE)
    assert batch.metric_type == samples_pb2.METRIC_TYPE_GAUGE
    assert (batch.help, batch.unit) == ("Load.", "1")
    assert batch.protocol == samples_pb2.PROTOCOL_REMOTE_WRITE_2


def test_same_series_gets_the_same_id_over_both_protocols() -> None:
    decoder = RemoteWriteDecoder()
    [a] = decoder.decode(V1, v1_request([v1_series(NODE)]), "t", 1).records
    [b] = decoder.decode(V2, v2_request([(NODE, [(1.0, 1)])]), "t", 1).records
    assert a[0] == b[0] and a[1] == b[1]


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([("job", "x"), ("__name__", "m")], "labels not sorted by name ('job' before '__name__')"),
        ([("__name__", "m"), ("a", "1"), ("a", "2")], "duplicate label name ('a')"),
        ([("", "x"), ("__name__", "m")], "empty label name"),
        ([("job", "x")], "missing __name__ label"),
        ([("__name__", "m"), ("a", "x" * 3000)], "value of label 'a' longer than 2048 bytes"),
        ([("__name__", "m"), ("n" * 300, "x")], "label name longer than 256 bytes"),
    ],
)
def test_invalid_label_sets_are_refused_with_the_series_named(
    labels: list[tuple[str, str]], message: str
) -> None:
    for protocol, payload in (
        (V1, v1_request([v1_series(labels)])),
        (V2, v2_request([(labels, [(1.0, 1)])])),
    ):
        with pytest.raises(DecodeError, match=message.replace("(", r"\(").replace(")", r"\)")):
            RemoteWriteDecoder().decode(protocol, payload, "t", 1)


def test_label_count_limit_names_the_series() -> None:
    labels = [("__name__", "wide")] + [(f"l{i:02d}", "v") for i in range(5)]
    with pytest.raises(DecodeError, match=r"6 labels, limit is 4, in series wide\{l00="):
        RemoteWriteDecoder(DecoderLimits(labels=LabelLimits(max_labels=4))).decode(
            V1, v1_request([v1_series(labels)]), "t", 1
        )


def test_a_bad_series_refuses_the_whole_request() -> None:
    good, bad = v1_series(NODE), v1_series([("job", "x")])
    with pytest.raises(DecodeError):
        RemoteWriteDecoder().decode(V1, v1_request([good, bad]), "t", 1)


def test_samples_and_histograms_in_one_series_are_refused() -> None:
    series = v1_series(NODE)
    series.histograms.add(count_int=1)
    with pytest.raises(DecodeError, match="both float samples and native histograms"):
        RemoteWriteDecoder().decode(V1, v1_request([series]), "t", 1)


@pytest.mark.parametrize("protocol", [V1, V2])
def test_corrupt_protobuf_is_refused(protocol: RemoteWriteProtocol) -> None:
    with pytest.raises(DecodeError, match="corrupt protobuf"):
        RemoteWriteDecoder().decode(protocol, b"\x0a\xff\xff\x01garbage", "t", 1)


def test_invalid_utf8_label_is_refused() -> None:
    raw = rw1.Label(name="__name__", value="x").SerializeToString().replace(b"x", b"\xff")
    series = b"\x0a" + bytes([len(raw)]) + raw
    with pytest.raises(DecodeError, match="corrupt protobuf"):
        RemoteWriteDecoder().decode(V1, b"\x0a" + bytes([len(series)]) + series, "t", 1)


def test_v2_symbol_reference_out_of_range() -> None:
    payload = v2_request([(NODE, [(1.0, 1)])])
    from aidevops.pb import remote_write_v2_pb2 as rw2

    request = rw2.Request.FromString(payload)
    request.timeseries[0].labels_refs[1] = 999
    with pytest.raises(DecodeError, match="label reference out of range of 7 symbols"):
        RemoteWriteDecoder().decode(V2, request.SerializeToString(), "t", 1)


def test_v2_series_without_samples_is_refused() -> None:
    with pytest.raises(DecodeError, match="no samples or histograms"):
        RemoteWriteDecoder().decode(V2, v2_request([(NODE, [])]), "t", 1)


def test_wrong_message_for_the_content_type_is_refused_not_silently_accepted() -> None:
    with pytest.raises(DecodeError, match="1.0 WriteRequest sent with the 2.0 Content-Type"):
        RemoteWriteDecoder().decode(V2, v1_request([v1_series(NODE)]), "t", 1)
    with pytest.raises(DecodeError, match="2.0 Request sent without proto="):
        RemoteWriteDecoder().decode(V1, v2_request([(NODE, [(1.0, 1)])]), "t", 1)


def test_samples_checked_at_once_agree_with_the_expression_series_by_series() -> None:
    from receiver.decoding import _FULL_SAMPLES, _plain_tails

    def sample(value: float, timestamp: int) -> bytes:
        return rw1.Sample(value=value, timestamp=timestamp).SerializeToString()

    good = b"\x12\x10" + sample(1.5, 1_700_000_000_000)
    tails = [
        good * 3,
        good + b"\x12\x10" + sample(STALE_NAN, 1_700_000_000_000),  # a staleness marker
        good + b"\x12\x07" + sample(0.0, 1_700_000_000_000),  # a zero value
        good + b"\x12\x0e" + sample(1.0, 1000),  # a short timestamp
        good + b"\x12\x12" + sample(1.0, 2**50),  # a long timestamp
        good[:-1],  # truncated
        good + b"\x1a\x00",  # a histogram field after
        b"",  # no sample
        good,
    ]
    raws = [b"\x0a\x02ab" + tail for tail in tails]
    guesses = [4] * len(raws)
    expected = [_FULL_SAMPLES.fullmatch(raw, 4) is not None for raw in raws]
    assert _plain_tails(raws, guesses) == expected
    assert expected == [True, False, False, False, False, False, False, False, True]
    assert _plain_tails(raws, [0] * len(raws)) == [False] * len(raws)


NAN_BITS = 0x7FF8_0000_0000_0123  # a NaN with a payload, not the staleness marker
NAN = struct.unpack("<d", struct.pack("<Q", NAN_BITS))[0]


def test_a_2_0_request_carries_the_index_of_its_plain_float_series() -> None:
    t = 1_700_000_000_000
    body = v2_request(
        [
            ([("__name__", "plain")], [(1.5, t), (0.0, t + 15_000)]),
            ([("__name__", "nan")], [(NAN, t)]),  # copied: its bits are the series' own
            ([("__name__", "stale")], [(STALE_NAN, t)]),
            ([("__name__", "early")], [(2.0, 1_000)]),  # no 6-byte varint timestamp
        ]
    )
    decoded = RemoteWriteDecoder().decode(RemoteWriteProtocol.V2, body, "t", 5)
    assert decoded.received_at == 5
    plain, nan, *others = decoded.index_samples
    assert others == [b"", b""]
    samples = rw1.TimeSeries.FromString(plain).samples
    assert [(s.value, s.timestamp) for s in samples] == [(1.5, t), (0.0, t + 15_000)]
    assert len(plain) == 2 * 18  # the zero written in full
    assert nan == b"\x12\x10\x09" + struct.pack("<Q", NAN_BITS) + nan[11:]
    for record, index in zip(decoded.records, decoded.index_samples, strict=True):
        if index:  # the record's own samples, bit for bit
            own = samples_pb2.SeriesBatch.FromString(record[2]).samples
            held = rw1.TimeSeries.FromString(index).samples
            assert [(struct.pack("<d", s.value), s.timestamp) for s in own] == [
                (struct.pack("<d", s.value), s.timestamp) for s in held
            ]


@pytest.mark.parametrize("protocol", [RemoteWriteProtocol.V1, RemoteWriteProtocol.V2])
def test_without_the_index_the_records_are_the_same(protocol: RemoteWriteProtocol) -> None:
    t = 1_700_000_000_000
    series = [([("__name__", f"m{i}")], [(float(i), t), (0.0, t + 15_000)]) for i in range(3)]
    if protocol is RemoteWriteProtocol.V1:
        body = v1_request(v1_series(labels, samples) for labels, samples in series)
    else:
        body = v2_request(series)
    with_index, without = RemoteWriteDecoder(), RemoteWriteDecoder(index=False)
    for _ in range(2):  # first sight, then from the label cache
        a = with_index.decode(protocol, body, "t", 5)
        b = without.decode(protocol, body, "t", 5)
        assert a.records == b.records and a.samples == b.samples == 6
        assert len(a.index_samples) == 3 and b.index_samples == []


def test_a_2_0_series_copied_from_the_view_is_the_record_its_full_parse_gives() -> None:
    """The fast path (plain float samples copied) against the checked one, byte for byte."""
    from aidevops.pb import remote_write_v2_pb2 as rw2

    t = 1_700_000_000_000
    series = [
        ([("__name__", "a"), ("job", "x")], [(1.5, t)]),
        ([("__name__", "b")], [(0.0, t), (2.0, t + 1), (0.0, t + 2)]),  # zeros omit the value
        ([("__name__", "c")], [(NAN, t), (-1e300, t + 1)]),
    ]
    body = v2_request(series, metric_type=2, help_text="help", unit="bytes")
    decoder = RemoteWriteDecoder()
    decoded = decoder.decode(RemoteWriteProtocol.V2, body, "t", 5)
    request = rw2.Request.FromString(body)
    suffix = samples_pb2.SeriesBatch(
        schema_version=1, tenant="t", protocol=samples_pb2.PROTOCOL_REMOTE_WRITE_2, received_at=5
    ).SerializeToString()
    for (labels, _), record, index, parsed in zip(
        series, decoded.records, decoded.index_samples, request.timeseries, strict=True
    ):
        sid = series_id("t", labels)
        encoded = rw1.TimeSeries(labels=[rw1.Label(name=k, value=v) for k, v in labels])
        checked = decoder._checked_v2(
            parsed, labels, encoded.SerializeToString(), list(request.symbols), DecodedWrite()
        )
        id_field = samples_pb2.SeriesBatch(series_id=sid).SerializeToString()
        assert record == (sid, sid.to_bytes(8, "big"), checked[0] + id_field + suffix)
        assert rw1.TimeSeries.FromString(index).samples == parsed.samples
    assert decoded.samples == 6
