"""Building remote-write requests the way Prometheus does, for tests and benchmarks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import snappy

from aidevops.pb import remote_write_v1_pb2 as rw1
from aidevops.pb import remote_write_v2_pb2 as rw2
from aidevops.staleness import STALE_NAN

__all__ = [
    "STALE_NAN",
    "V1_HEADERS",
    "V2_HEADERS",
    "compress",
    "node_exporter_like",
    "v1_request",
    "v1_series",
    "v2_request",
]


V1_HEADERS = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}
V2_HEADERS = {
    "Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "2.0.0",
}

Labels = Sequence[tuple[str, str]]


def v1_series(
    labels: Labels, samples: Iterable[tuple[float, int]] = ((1.0, 1_700_000_000_000),)
) -> rw1.TimeSeries:
    return rw1.TimeSeries(
        labels=[rw1.Label(name=n, value=v) for n, v in labels],
        samples=[rw1.Sample(value=v, timestamp=t) for v, t in samples],
    )


def v1_request(
    series: Iterable[rw1.TimeSeries], metadata: Iterable[rw1.MetricMetadata] = ()
) -> bytes:
    return rw1.WriteRequest(timeseries=list(series), metadata=list(metadata)).SerializeToString()


def v2_request(
    series: Iterable[tuple[Labels, Sequence[tuple[float, int]]]],
    metric_type: int = 0,
    help_text: str = "",
    unit: str = "",
) -> bytes:
    """Encode series as remote-write 2.0 with an interned symbols table."""
    symbols: list[str] = [""]
    index: dict[str, int] = {"": 0}

    def ref(text: str) -> int:
        if text not in index:
            index[text] = len(symbols)
            symbols.append(text)
        return index[text]

    out = rw2.Request()
    for labels, samples in series:
        ts = out.timeseries.add()
        for name, value in labels:
            ts.labels_refs.extend([ref(name), ref(value)])
        for sample, timestamp in samples:
            ts.samples.add(value=sample, timestamp=timestamp)
        ts.metadata.type = metric_type  # type: ignore[assignment]
        ts.metadata.help_ref = ref(help_text)
        ts.metadata.unit_ref = ref(unit)
    out.symbols.extend(symbols)
    return out.SerializeToString()


def compress(payload: bytes) -> bytes:
    data: bytes = snappy.compress(payload)
    return data


def node_exporter_like(series: int, samples: int, labels: int = 10) -> bytes:
    """``series`` series of ``labels`` labels each, ``samples`` samples per series (RW 1.0)."""
    out = rw1.WriteRequest()
    for i in range(series):
        ts = out.timeseries.add()
        ts.labels.add(name="__name__", value=f"node_cpu_seconds_{i % 40}_total")
        for j in range(labels - 1):
            ts.labels.add(name=f"label_{j:02d}", value=f"value-{i}-{j}.example.internal")
        for k in range(samples):
            ts.samples.add(value=i * 1.5 + k, timestamp=1_700_000_000_000 + k * 15_000)
    return out.SerializeToString()
