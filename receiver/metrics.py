"""The receiver's own Prometheus metrics, in a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["ReceiverMetrics"]


class ReceiverMetrics:
    """Counters and histograms served on the receiver's ``/metrics``."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "aidevops_receiver_requests",
            "Remote-write requests by HTTP status.",
            ["status"],
            registry=r,
        )
        self.rejections = Counter(
            "aidevops_receiver_rejections",
            "Requests refused, by reason.",
            ["reason"],
            registry=r,
        )
        self.samples = Counter(
            "aidevops_receiver_samples",
            "Float samples accepted (acknowledged by Kafka).",
            registry=r,
        )
        self.histograms = Counter(
            "aidevops_receiver_histograms", "Native histogram samples accepted.", registry=r
        )
        self.exemplars = Counter("aidevops_receiver_exemplars", "Exemplars accepted.", registry=r)
        self.series = Counter(
            "aidevops_receiver_series", "Series batches published to Kafka.", registry=r
        )
        self.bytes = Counter(
            "aidevops_receiver_received_bytes",
            "Compressed request bytes received (accepted or not).",
            registry=r,
        )
        self.publish_seconds = Histogram(
            "aidevops_receiver_publish_seconds",
            "Time from publishing a request's series to the broker's acknowledgement.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.in_flight = Gauge(
            "aidevops_receiver_in_flight_requests",
            "Remote-write requests being handled.",
            registry=r,
        )
