"""receiver._wire, the C common case, against the Python steps it stands for.

Each test runs the same input through the C module and through the Python code it replaces
(``native=False``) and asks for the same bytes, or the same error: the C code is only ever
an equal, faster way.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator

import numpy as np
import pytest

from aidevops.batches import INDEX_TAGS, SERIES_TAG, pack_samples, samples_tail
from aidevops.errors import DecodeError
from aidevops.pb import remote_write_v1_pb2 as rw1
from aidevops.staleness import STALE_NAN_BYTES
from receiver.decoding import DecodedWrite, RemoteWriteDecoder, wire
from receiver.negotiation import RemoteWriteProtocol
from receiver.publisher import samples_batches
from tests.support.remote_write import STALE_NAN

V1 = RemoteWriteProtocol.V1
T = 1_700_000_000_000


def test_the_c_module_is_built() -> None:
    # ./dev installs a C compiler; without the module the receiver still runs, on Python.
    assert wire is not None, "receiver._wire was not built: is a C compiler installed?"


needs_wire = pytest.mark.skipif(wire is None, reason="receiver._wire is not built")


def _label_sets(rng: random.Random, count: int) -> list[list[tuple[str, str]]]:
    """Label sets with the bytes that could mislead a parser: sample prefixes, long values."""
    tricky = ["\x12\x10\x09", "\x12\x07\x10", "\n", "é" * 70, "x" * 200, ""]
    out = []
    for i in range(count):
        labels = [("__name__", f"metric_{i % 7}_total" if i % 3 else f"gauge_{i % 5}")]
        labels += [(f"l{j}", f"v{i}-{rng.choice(tricky)}-{j}") for j in range(rng.randint(0, 4))]
        out.append([(n, v) for n, v in labels if v or n == "__name__"])
    return out


def _plain(rng: random.Random, round_: int) -> list[tuple[float, int]]:
    t = T + round_ * 15_000
    return [(rng.choice([rng.random() * 1e6, 0.0, -1.5]), t + k) for k in range(rng.randint(1, 3))]


def _odd(rng: random.Random, round_: int) -> list[tuple[float, int]]:
    """What only the Python steps handle."""
    nan = struct.unpack("<d", struct.pack("<Q", 0x7FF8_0000_0000_0123))[0]
    return rng.choice(
        [
            [(STALE_NAN, T + round_ * 15_000)],
            [(1.0, T), (STALE_NAN, T + 1)],
            [(nan, T), (0.0, T + 1)],  # a NaN that is not the marker is plain
            [(1.0, rng.choice([0, 1000, 2**50, -5]))],  # timestamps off the plain layout
            [],  # a label set alone
        ]
    )


def _requests(seed: int, rounds: int = 6) -> Iterator[bytes]:
    rng = random.Random(seed)
    label_sets = _label_sets(rng, 40)
    for round_ in range(rounds):
        chosen = rng.sample(label_sets, rng.randint(1, len(label_sets)))
        # All plain but one odd series, or many odd ones.
        odd = {rng.randrange(len(chosen))} if rng.random() < 0.6 else set(range(0, 40, 3))
        series = [
            rw1.TimeSeries(
                labels=[rw1.Label(name=n, value=v) for n, v in labels],
                samples=[
                    rw1.Sample(value=v, timestamp=t)
                    for v, t in (_odd if i in odd else _plain)(rng, round_)
                ],
            )
            for i, labels in enumerate(chosen)
        ]
        if rng.random() < 0.2:
            series[0].exemplars.add(value=1.0, timestamp=T)
        metadata = []
        if round_ == 2:
            metadata = [
                rw1.MetricMetadata(type=rw1.MetricMetadata.GAUGE, metric_family_name="gauge_1")
            ]
        yield rw1.WriteRequest(timeseries=series, metadata=metadata).SerializeToString()
        # Prometheus' usual shape: every series plain, labels already seen.
        plain = [
            rw1.TimeSeries(
                labels=[rw1.Label(name=n, value=v) for n, v in labels],
                samples=[rw1.Sample(value=float(i), timestamp=T + round_ * 15_000 + 7)],
            )
            for i, labels in enumerate(chosen)
        ]
        yield rw1.WriteRequest(timeseries=plain).SerializeToString()


def _decode(decoder: RemoteWriteDecoder, payload: bytes) -> DecodedWrite | str:
    try:
        return decoder.decode(V1, payload, "acme", T)
    except DecodeError as exc:
        return f"DecodeError: {exc}"


@needs_wire
@pytest.mark.parametrize("index", [True, False])
def test_a_request_decodes_to_the_same_records_in_c_and_in_python(index: bool) -> None:
    in_c, in_python = RemoteWriteDecoder(index=index), RemoteWriteDecoder(index=index, native=False)
    taken = 0
    for seed in range(8):
        for payload in _requests(seed):
            labels = in_c.series_cache.for_tenant("acme")
            names = in_c._metadata_by_name.for_tenant("acme")
            plain = wire.plain_v1(payload, labels, names, b"", STALE_NAN_BYTES, index)
            taken += plain is not None
            assert _decode(in_c, payload) == _decode(in_python, payload)
    # Most plain requests (34 of 48) are the C module's: those of label sets seen before.
    assert taken >= 30


@needs_wire
def test_damaged_requests_get_the_same_answer_in_c_and_in_python() -> None:
    rng = random.Random(7)
    in_c, in_python = RemoteWriteDecoder(), RemoteWriteDecoder(native=False)
    payloads = list(_requests(3))
    for payload in payloads:
        _decode(in_c, payload), _decode(in_python, payload)
    plain = payloads[-1]
    for _ in range(3000):
        damaged = bytearray(plain)
        for _ in range(rng.randint(1, 3)):
            position, what = rng.randrange(len(damaged)), rng.random()
            if what < 0.6:
                damaged[position] = rng.randrange(256)
            elif what < 0.75:
                damaged[position] = rng.choice([0x0A, 0x12, 0x10, 0x09, 0x07, 0x80, 0xFF])
            elif what < 0.9:
                del damaged[position:]
            else:  # a length that runs on, or past any buffer
                damaged[position:position] = b"\x0a" + b"\xff" * rng.randint(1, 11)
        assert _decode(in_c, bytes(damaged)) == _decode(in_python, bytes(damaged))
    for _ in range(500):
        noise = bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))
        assert _decode(in_c, noise) == _decode(in_python, noise)


def _records(rng: random.Random, count: int) -> tuple[list[tuple[int, bytes, bytes]], list[bytes]]:
    records, samples = [], []
    for _ in range(count):
        sid = rng.getrandbits(64)
        value = bytes(rng.getrandbits(8) for _ in range(rng.choice([5, 120, 300, 20_000])))
        records.append((sid, sid.to_bytes(8, "big"), value))
        samples.append(b"".join(bytes([k]) * 18 for k in range(rng.choice([0, 1, 1, 4]))))
    return records, samples


@needs_wire
@pytest.mark.parametrize("max_bytes", [600, 5_000, 256 * 1024])
@pytest.mark.parametrize("partitions", [1, 3, 16])
def test_records_pack_into_the_same_batches_in_c_and_in_python(
    max_bytes: int, partitions: int
) -> None:
    rng = random.Random(max_bytes + partitions)
    for count in (1, 2, 37, 200):
        records, samples = _records(rng, count)
        ids = np.fromiter((sid for sid, _, _ in records), dtype=np.uint64, count=count)
        expected = pack_samples(ids, [v for _, _, v in records], samples, T, partitions, max_bytes)
        got = wire.pack_samples(
            records, samples, partitions, max_bytes, SERIES_TAG, *INDEX_TAGS, samples_tail(T)
        )
        assert got == expected
        assert samples_batches(records, partitions, max_bytes, samples, T) == expected
        python = samples_batches(records, partitions, max_bytes, samples, T, native=False)
        assert python == expected


@needs_wire
def test_the_c_module_refuses_arguments_it_cannot_read() -> None:
    assert wire is not None
    with pytest.raises(TypeError):
        wire.plain_v1(b"", {}, {}, b"", b"short", True)
    with pytest.raises(TypeError):
        wire.pack_samples([(1, b"", b"")], [], 4, 100, SERIES_TAG, *INDEX_TAGS, b"")
    with pytest.raises(TypeError):
        wire.pack_samples([(1, b"")], [b""], 4, 100, SERIES_TAG, *INDEX_TAGS, b"")  # type: ignore[list-item]
    assert wire.pack_samples([], [], 4, 100, SERIES_TAG, *INDEX_TAGS, b"") == []
    assert wire.plain_v1(b"", {}, {}, b"", STALE_NAN_BYTES, True) is None
