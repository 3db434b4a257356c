"""What a series is, which decides how its samples become a feature.

Deliberate choices for Prometheus types:

* **counter** (declared in metadata): scored on its per-second rate; a drop in value is a reset
  and the increase since the reset is the new value itself (Prometheus ``rate()`` semantics).
* **unknown type**: a name ending in ``_total``, ``_count``, ``_sum`` or ``_bucket`` is a
  *likely counter*, scored as a counter until it proves non-monotonic (a negative value, or two
  decreases within 10 samples: real resets are rare), when it is demoted to a gauge and starts
  afresh. Any other name is *untyped*: scored as a counter too, and demoted by the same rules or
  by any decrease that keeps more than half the value (a counter's reset starts again near 0).
  Exporters leave counters untyped (node-exporter's ``node_vmstat_*`` and most
  ``node_netstat_*``: ever-rising values that, scored as gauges, leave their learnt range for
  good), and a gauge proves itself one at its first ordinary decrease, a few samples in. The
  same holds for a series whose metadata has not arrived yet when it is first seen.
* **classic histograms**: ``_bucket``, ``_count`` and ``_sum`` series are counters like any other
  (a shift of mass between buckets shows as rate changes of the buckets).
* **summaries**: the ``quantile``-labelled series are gauges; ``_count``/``_sum`` are counters.
* **native histograms**: scored as two derived series, the observation rate (the count, a
  counter) and the mean observation per interval (a gauge from
  :func:`stream.detection.histogram.interval_mean`).
* ``up``: not modelled; ``up == 0`` is an outage by itself (score 1.0, flag OUTAGE).
* what Prometheus counts of each scrape (``scrape_samples_scraped``,
  ``scrape_samples_post_metric_relabeling``, ``scrape_body_size_bytes``): gauges, except that
  0 is what Prometheus writes for a scrape that failed, when ``up == 0`` already reports the
  outage. A 0 is a gap: neither scored nor learnt (a target that answers with nothing at all
  goes unnoticed on these series).

Examples
--------
>>> resolve_kind("http_requests_total").name
'LIKELY_COUNTER'
>>> resolve_kind("http_requests_total", metric_type=2).name  # declared gauge wins
'GAUGE'
>>> resolve_kind("up").name, resolve_kind("node_load1", metric_type=2).name
('UP', 'GAUGE')
>>> resolve_kind("node_vmstat_pgpgin").name  # no type, no counter's name
'UNTYPED'
>>> resolve_kind("scrape_samples_scraped").name
'SCRAPE_COUNT'
"""

from __future__ import annotations

import enum

__all__ = ["COUNTER_SUFFIXES", "SCRAPE_COUNTS", "MetricKind", "resolve_kind"]

COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket")
# Series Prometheus writes per target and scrape whose 0 means the scrape failed.
# (scrape_series_added is 0 in every scrape of a target whose series do not change.)
SCRAPE_COUNTS = frozenset(
    ("scrape_samples_scraped", "scrape_samples_post_metric_relabeling", "scrape_body_size_bytes")
)

# Values of ``aidevops.v1.MetricType`` (proto/aidevops/pb/samples.proto).
_PROTO_COUNTER = 1
_PROTO_GAUGE = 2
_PROTO_HISTOGRAM = 3
_PROTO_GAUGEHISTOGRAM = 4
_PROTO_SUMMARY = 5


class MetricKind(enum.IntEnum):
    """How samples of a series turn into the detector's feature."""

    GAUGE = 0
    COUNTER = 1
    #: Counter by name only; demoted to GAUGE if it proves non-monotonic.
    LIKELY_COUNTER = 2
    #: The ``up`` series: not modelled, ``0`` is an outage.
    UP = 3
    #: A count of a scrape (:data:`SCRAPE_COUNTS`): a gauge whose ``0`` (a failed scrape) is a gap.
    SCRAPE_COUNT = 4
    #: No type and no counter's name: a counter until it decreases as a gauge does.
    UNTYPED = 5


def resolve_kind(name: str, metric_type: int = 0, *, quantile: bool = False) -> MetricKind:
    """Kind of the series named ``name`` with metadata type ``metric_type`` (proto enum value).

    Parameters
    ----------
    name
        The ``__name__`` label.
    metric_type
        ``aidevops.v1.MetricType`` value; 0 when the sender sent no metadata.
    quantile
        Whether the series has a ``quantile`` label (a summary's quantile: a gauge).

    Examples
    --------
    >>> resolve_kind("rpc_duration_seconds", 5, quantile=True).name
    'GAUGE'
    >>> resolve_kind("rpc_duration_seconds_count", 5).name
    'COUNTER'
    >>> resolve_kind("build_info_bucket", 4).name  # gauge histogram buckets are gauges
    'GAUGE'
    """
    if name == "up":
        return MetricKind.UP
    if name in SCRAPE_COUNTS:
        return MetricKind.SCRAPE_COUNT
    if quantile:
        return MetricKind.GAUGE
    if metric_type == _PROTO_COUNTER:
        return MetricKind.COUNTER
    if metric_type in (_PROTO_HISTOGRAM, _PROTO_SUMMARY):
        return MetricKind.COUNTER if name.endswith(COUNTER_SUFFIXES) else MetricKind.GAUGE
    if metric_type != 0:
        return MetricKind.GAUGE
    return MetricKind.LIKELY_COUNTER if name.endswith(COUNTER_SUFFIXES) else MetricKind.UNTYPED
