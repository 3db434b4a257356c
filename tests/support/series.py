"""``samples`` messages as the receiver writes them, for tests of the scoring side."""

from __future__ import annotations

from collections.abc import Sequence

from aidevops.pb import remote_write_v1_pb2, samples_pb2

__all__ = ["STEP", "T0", "series_message"]

T0 = 1_700_000_000_000
STEP = 15_000  # a 15 s scrape interval


def series_message(
    series_id: int,
    name: str,
    values: Sequence[float],
    start: int,
    metric_type: int = samples_pb2.METRIC_TYPE_GAUGE,
    instance: str = "h1:9100",
    tenant: str = "default",
) -> bytes:
    """A ``SeriesBatch`` of ``values``, the i-th at ``T0 + (start + i) * STEP``."""
    batch = samples_pb2.SeriesBatch(
        schema_version=1,
        tenant=tenant,
        series_id=series_id,
        metric_type=metric_type,  # type: ignore[arg-type]
        labels=[
            remote_write_v1_pb2.Label(name="__name__", value=name),
            remote_write_v1_pb2.Label(name="instance", value=instance),
            remote_write_v1_pb2.Label(name="job", value="node"),
        ],
    )
    for i, value in enumerate(values):
        batch.samples.add(value=float(value), timestamp=T0 + (start + i) * STEP)
    return batch.SerializeToString()
