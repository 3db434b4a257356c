"""The topics a worker reads and writes."""

from __future__ import annotations

from dataclasses import dataclass

import faust

from stream.worker.settings import WorkerSettings

__all__ = ["WorkerTopics", "declare_topics"]


@dataclass(frozen=True)
class WorkerTopics:
    samples: faust.TopicT
    scores: str
    alerts: str
    checkpoints: str


def declare_topics(app: faust.App, settings: WorkerSettings) -> WorkerTopics:
    """The ``samples`` source topic as Faust sees it, and the names of the outputs.

    Outputs are produced with our own batch producer (explicit partitions, one record batch
    per partition) rather than Faust's per-message ``send``.
    """
    samples = app.topic(
        settings.samples_topic,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    return WorkerTopics(
        samples=samples,
        scores=settings.scores_topic,
        alerts=settings.alerts_topic,
        checkpoints=settings.checkpoint_topic,
    )
