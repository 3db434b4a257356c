"""Tenants kept apart, inputs bounded, nothing accepted and then lost (issue 11)."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from aidevops.errors import DecodeError
from aidevops.pb import remote_write_v1_pb2 as rw1
from aidevops.pb import remote_write_v2_pb2 as rw2
from aidevops.pb import samples_pb2
from receiver.decoding import DecoderLimits, RemoteWriteDecoder
from receiver.labelset import series_id
from receiver.negotiation import RemoteWriteProtocol
from tests.support.remote_write import STALE_NAN, v1_request, v1_series, v2_request

V1, V2 = RemoteWriteProtocol.V1, RemoteWriteProtocol.V2
NODE = [("__name__", "node_load1"), ("instance", "a:9100"), ("job", "node")]
T = 1_700_000_000_000
INT64_MIN = -(2**63)


def batches(records: list[tuple[int, bytes, bytes]]) -> list[samples_pb2.SeriesBatch]:
    return [samples_pb2.SeriesBatch.FromString(v) for _, _, v in records]


# -- tenants -----------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [V1, V2])
def test_same_labels_of_two_tenants_are_two_series(protocol: RemoteWriteProtocol) -> None:
    decoder = RemoteWriteDecoder()
    payload = v1_request([v1_series(NODE)]) if protocol is V1 else v2_request([(NODE, [(1.0, T)])])
    # Twice each, so the second decode of each tenant takes the cached path.
    ids = {
        tenant: {decoder.decode(protocol, payload, tenant, 1).records[0][0] for _ in range(2)}
        for tenant in ("team-a", "team-b", "team-a")
    }
    assert ids == {"team-a": {series_id("team-a", NODE)}, "team-b": {series_id("team-b", NODE)}}
    assert series_id("team-a", NODE) != series_id("team-b", NODE)


def test_both_protocols_give_one_id_for_one_tenant_and_label_set() -> None:
    decoder = RemoteWriteDecoder()
    for tenant in ("team-a", "team-b"):
        [(a, key_a, _)] = decoder.decode(V1, v1_request([v1_series(NODE)]), tenant, 1).records
        [(b, key_b, _)] = decoder.decode(V2, v2_request([(NODE, [(1.0, T)])]), tenant, 1).records
        assert (a, key_a) == (b, key_b) == (series_id(tenant, NODE), key_a)
        assert key_a == a.to_bytes(8, "big")


def test_the_series_id_is_the_documented_construction() -> None:
    import xxhash

    expected = xxhash.xxh64_intdigest(b"team-a\xff__name__\xffup\xffjob\xffnode\xff")
    assert series_id("team-a", [("__name__", "up"), ("job", "node")]) == expected


# -- accepted, then lost -------------------------------------------------------------------


def test_series_with_an_empty_group_before_its_samples_is_published() -> None:
    series = v1_series(NODE, [(1.5, T), (2.5, T + 15_000)])
    labels = rw1.TimeSeries(labels=series.labels).SerializeToString()
    samples = rw1.TimeSeries(samples=series.samples).SerializeToString()
    raw = labels + b"\x2b\x2c" + samples  # field 5: start group, end group, nothing inside
    payload = b"\x0a" + bytes([len(raw)]) + raw
    decoded = RemoteWriteDecoder().decode(V1, payload, "t", 1)
    [batch] = batches(decoded.records)
    assert [(s.value, s.timestamp) for s in batch.samples] == [(1.5, T), (2.5, T + 15_000)]
    assert decoded.samples == 2


@pytest.mark.parametrize("timestamp", [INT64_MIN, -1, 253_402_300_800_000, 2**63 - 1])
def test_absurd_sample_timestamps_are_refused_naming_the_series(timestamp: int) -> None:
    decoder = RemoteWriteDecoder()
    decoder.decode(V1, v1_request([v1_series(NODE)]), "t", 1)  # labels cached: fast path
    for protocol, payload in (
        (V1, v1_request([v1_series(NODE, [(1.0, T), (2.0, timestamp)])])),
        (V2, v2_request([(NODE, [(1.0, T), (2.0, timestamp)])])),
    ):
        with pytest.raises(DecodeError, match=rf"sample timestamp {timestamp} is outside .*"):
            decoder.decode(protocol, payload, "t", 1)
        with pytest.raises(DecodeError, match=r'in series node_load1\{instance="a:9100"'):
            decoder.decode(protocol, payload, "t", 1)


def test_absurd_histogram_and_exemplar_timestamps_are_refused() -> None:
    name = [rw1.Label(name="__name__", value="rpc_seconds")]
    histogram = rw1.TimeSeries(labels=name, histograms=[rw1.Histogram(timestamp=INT64_MIN)])
    exemplar = rw1.TimeSeries(
        labels=name,
        samples=[rw1.Sample(value=1, timestamp=T)],
        exemplars=[rw1.Exemplar(value=1, timestamp=INT64_MIN)],
    )
    with pytest.raises(DecodeError, match="histogram timestamp"):
        RemoteWriteDecoder().decode(V1, v1_request([histogram]), "t", 1)
    with pytest.raises(DecodeError, match="exemplar timestamp"):
        RemoteWriteDecoder().decode(V1, v1_request([exemplar]), "t", 1)


def test_timestamps_at_the_bounds_are_accepted() -> None:
    payload = v1_request([v1_series(NODE, [(1.0, 0), (2.0, 253_402_300_799_999)])])
    assert RemoteWriteDecoder().decode(V1, payload, "t", 1).samples == 2


@pytest.mark.parametrize(
    "values",
    [
        [1.0, 2.0, 3.0],  # the shape Prometheus sends: fast path
        [0.0, 2.0, 0.0],  # zero values are omitted on the wire
        [1.0, STALE_NAN, 3.0],  # staleness markers are counted
        [0.0],
    ],
)
def test_cached_and_first_decode_agree_on_every_count(values: list[float]) -> None:
    decoder = RemoteWriteDecoder()
    payload = v1_request([v1_series(NODE, [(v, T + i) for i, v in enumerate(values)])])
    first, second = (decoder.decode(V1, payload, "t", 1) for _ in range(2))
    assert first.records == second.records
    assert first.samples == second.samples == len(values)
    assert first.stale_markers == second.stale_markers
    [batch] = batches(second.records)
    assert len(batch.samples) == len(values)


# -- bounded inputs ----------------------------------------------------------------------


def test_metadata_help_and_unit_have_length_limits() -> None:
    decoder = RemoteWriteDecoder(DecoderLimits(help_bytes=100, unit_bytes=10))
    long_help = rw1.MetricMetadata(metric_family_name="m", help="h" * 101)
    long_unit = rw1.MetricMetadata(metric_family_name="m", unit="u" * 11)
    with pytest.raises(DecodeError, match="help text longer than 100 bytes for metric family 'm'"):
        decoder.decode(V1, v1_request([], metadata=[long_help]), "t", 1)
    with pytest.raises(DecodeError, match="unit longer than 10 bytes"):
        decoder.decode(V1, v1_request([], metadata=[long_unit]), "t", 1)
    with pytest.raises(DecodeError, match=r"help text longer than 100 bytes for series node_load1"):
        decoder.decode(V2, v2_request([(NODE, [(1.0, T)])], help_text="h" * 101), "t", 1)
    ok = rw1.MetricMetadata(metric_family_name="m", help="h" * 100, unit="u" * 10)
    assert decoder.decode(V1, v1_request([], metadata=[ok]), "t", 1).metadata == 1


def test_no_request_makes_a_later_one_carry_more_than_the_help_limit() -> None:
    """The amplification of issue 11: remembered help text rides on every later record."""
    decoder = RemoteWriteDecoder(DecoderLimits(help_bytes=1024))
    meta = rw1.MetricMetadata(metric_family_name="node_load1", help="h" * 1024)
    decoder.decode(V1, v1_request([], metadata=[meta]), "t", 1)
    decoded = decoder.decode(V1, v1_request([v1_series(NODE)]), "t", 1)
    [(_, _, value)] = decoded.records
    assert len(value) < 1024 + 200


def test_metadata_memory_is_bounded_in_bytes() -> None:
    decoder = RemoteWriteDecoder(DecoderLimits(metadata_cache_bytes=100_000))
    for i in range(100):
        metadata = [
            rw1.MetricMetadata(metric_family_name=f"family_{i}_{j}", help="h" * 1000)
            for j in range(10)
        ]
        decoder.decode(V1, v1_request([], metadata=metadata), f"tenant-{i % 3}", 1)
    assert 0 < decoder.families.bytes <= 50_000


def test_label_set_memory_stays_within_the_configured_bytes() -> None:
    """The byte estimate is not optimistic: real memory (tracemalloc) stays under it."""
    limit = 2_000_000
    decoder = RemoteWriteDecoder(DecoderLimits(series_cache_bytes=limit))
    payloads = [
        v1_request(
            v1_series([("__name__", f"m_{j}"), ("host", f"h-{i}-{j}"), ("x", "v" * (i % 7 * 40))])
            for j in range(200)
        )
        for i in range(60)
    ]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for payload in payloads:
            decoder.decode(V1, payload, "t", 1)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert decoder.series_cache.bytes <= limit
    assert len(decoder.series_cache) < 60 * 200  # some were forgotten
    assert grown <= limit


def test_one_tenant_cannot_see_another_tenants_cache() -> None:
    decoder = RemoteWriteDecoder()
    decoder.decode(V1, v1_request([v1_series(NODE)]), "team-a", 1)
    assert decoder.series_cache.for_tenant("team-b") == {}


def test_v2_series_key_and_value_agree_on_the_tenant() -> None:
    request = rw2.Request.FromString(v2_request([(NODE, [(1.0, T)])]))
    [(sid, _, value)] = (
        RemoteWriteDecoder().decode(V2, request.SerializeToString(), "team-b", 1).records
    )
    batch = samples_pb2.SeriesBatch.FromString(value)
    assert (batch.tenant, batch.series_id) == ("team-b", sid)


def test_a_request_mixing_plain_and_odd_series_keeps_their_order_and_counts() -> None:
    plain = [(1.0 + i, T + i) for i in range(3)]
    shapes: list[list[tuple[float, int]]] = [
        plain,
        plain[:1],  # fewer samples than most
        [(0.0, T)],  # a zero value
        plain,
        [(1.0, T), (STALE_NAN, T + 1)],  # a staleness marker
        [],  # labels alone: no record
        plain + [(9.0, T + 9)],  # more samples than most
        plain,
    ]
    series = [
        v1_series([("__name__", f"m{i}"), ("job", "node")], samples)
        for i, samples in enumerate(shapes)
    ]
    payload = v1_request(series)
    decoder = RemoteWriteDecoder()
    first, second = (decoder.decode(V1, payload, "t", 1) for _ in range(2))
    assert first.records == second.records
    names = [batch.labels[0].value for batch in batches(second.records)]
    assert names == [f"m{i}" for i, samples in enumerate(shapes) if samples]
    assert first.samples == second.samples == sum(map(len, shapes))
    assert first.stale_markers == second.stale_markers == 1
