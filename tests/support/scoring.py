"""Scores as an uninterrupted run gives them, and as the workers produced them."""

from __future__ import annotations

from collections.abc import Iterable

from aidevops.pb import scores_pb2
from stream.alerting.policy import AlertPolicy
from stream.worker.engine import ScoringEngine
from stream.worker.settings import WorkerSettings

__all__ = ["scores_by_point", "uninterrupted_scores"]


def uninterrupted_scores(messages: Iterable[tuple[int, bytes]]) -> dict[tuple[int, int], float]:
    """Scores by (series, timestamp) of one engine fed ``(partition, samples record)`` in order."""
    engine = ScoringEngine(AlertPolicy(WorkerSettings().policy_config()))
    scores: dict[tuple[int, int], float] = {}
    for partition, value in messages:
        for _, _, raw in engine.process([(partition, value)]).scores:
            batch = scores_pb2.ScoreBatch.FromString(raw)
            for point in batch.points:
                scores[(batch.series_id, point.timestamp)] = point.score
    return scores


def scores_by_point(batches: Iterable[scores_pb2.ScoreBatch]) -> dict[tuple[int, int], float]:
    """Scores by (series, timestamp) of ``scores`` batches the workers produced."""
    seen: dict[tuple[int, int], float] = {}
    for batch in batches:
        for point in batch.points:
            key = (batch.series_id, point.timestamp)
            # A replayed sample may be scored twice; it must score the same both times.
            assert seen.setdefault(key, point.score) == point.score, key
    return seen
