"""The scoring service without Faust or a broker: bounded steps, positions, revocation."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from aidevops.batches import decode_scores
from aidevops.pb import samples_pb2, scores_pb2
from stream.alerting.policy import AlertPolicy, PolicyConfig
from stream.worker.engine import ScoringEngine
from stream.worker.scoring import STEP_ROUNDS, ScoringService
from stream.worker.settings import WorkerSettings
from stream.worker.topics import WorkerTopics
from tests.support.series import series_message


class FakeProducer:
    """What the output pipeline needs of a BatchProducer; records what was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int]] = []
        self.records: dict[str, list[Any]] = {}

    async def send(self, topic: str, records: list[Any], merge: bool = False) -> None:
        self.sent.append((topic, len(records)))
        self.records.setdefault(topic, []).extend(records)


def service(
    batch_size: int = 1000, scores_schema_version: int = 2
) -> tuple[ScoringService, list[int]]:
    engine = ScoringEngine(AlertPolicy(PolicyConfig()), clock=lambda: 1000.0)
    sizes: list[int] = []
    process = engine.process

    def measured(messages: Any) -> Any:
        out = process(messages)
        sizes.append(out.samples)
        return out

    engine.process = measured  # type: ignore[method-assign]

    async def restore(partition: int) -> int:
        return 0

    settings = WorkerSettings(
        kafka_bootstrap_servers="unused:1",
        batch_size=batch_size,
        scores_schema_version=scores_schema_version,
    )
    topics = WorkerTopics(samples=None, scores="s", alerts="a", checkpoints="c")  # type: ignore[arg-type]
    svc = ScoringService(settings, engine, FakeProducer(), topics, restore=restore)  # type: ignore[arg-type]
    return svc, sizes


def assign(svc: ScoringService, partitions: list[int]) -> None:
    """Assign partitions, without the background scorer: the test steps by hand."""
    svc.assigned(partitions)
    assert svc._scorer is not None
    svc._scorer.cancel()


async def test_a_huge_record_is_scored_in_bounded_steps_and_counts_once_done() -> None:
    """5,000 samples of one series in one record: parts of STEP_ROUNDS, one per step."""
    svc, sizes = service()
    assign(svc, [0])
    await asyncio.sleep(0)  # the restore task runs
    values = np.random.default_rng(0).normal(size=5_000)
    await svc.offer(0, 41, series_message(7, "node_load1", values, 0))
    await svc.offer(0, 42, series_message(8, "node_load1", [1.0], 0))
    positions = []
    while await svc.step():
        positions.append(svc._partitions[0].next_offset)
    assert sum(sizes) == 5_001
    assert max(sizes) <= STEP_ROUNDS
    parts = -(-5_000 // STEP_ROUNDS)
    # The huge record's offset counts only with its last part, then the next record's.
    assert positions[: parts - 1] == [None] * (parts - 1)
    assert positions[parts - 1 :] in ([42, 43], [43])
    await svc.checkpoint()
    assert svc.committable() == {0: 43}


async def test_revoked_partitions_are_forgotten_with_what_was_not_scored() -> None:
    svc, _ = service()
    assign(svc, [0, 1])
    await asyncio.sleep(0)
    for partition in (0, 1):
        await svc.offer(partition, 0, series_message(partition, "x", [1.0], 0))
    assert await svc.step()
    await svc.offer(1, 1, series_message(1, "x", [2.0], 1))
    await svc.revoked([1], timeout=5)
    assert svc.committable() == {0: 1}  # partition 1 is gone, its next owner replays
    await svc.offer(1, 2, samples_pb2.SeriesBatch().SerializeToString())  # ignored
    assert not await svc.step()


async def test_a_split_schema_2_record_ends_as_if_scored_whole() -> None:
    """A request-sized record with one huge series: parts per step, same detector state."""
    svc, sizes = service()
    assign(svc, [0])
    await asyncio.sleep(0)
    values = np.random.default_rng(1).normal(size=3 * STEP_ROUNDS + 5)
    record = samples_pb2.SamplesBatch(schema_version=2)
    for series_id, count in ((1, len(values)), (2, 3), (3, 1)):
        record.series.append(
            samples_pb2.SeriesBatch.FromString(
                series_message(series_id, "node_load1", values[:count], 0)
            )
        )
    raw = record.SerializeToString()
    await svc.offer(0, 5, raw)
    await svc.offer(0, 6, b"\xff\xff\xff")  # malformed: skipped, its offset still counts
    while await svc.step():
        pass
    # part k holds the k-th STEP_ROUNDS samples of every series that has them
    assert sizes == [STEP_ROUNDS + 3 + 1, STEP_ROUNDS, STEP_ROUNDS, 5, 0]
    assert svc._partitions[0].next_offset == 7
    whole = ScoringEngine(AlertPolicy(PolicyConfig()), clock=lambda: 1000.0)
    whole.process([(0, raw)])
    for series_id in (1, 2, 3):
        assert svc.engine.checkpoint(series_id) == whole.checkpoint(series_id)


async def test_records_handed_over_one_at_a_time_are_scored_together() -> None:
    """Faust hands the agent one record per few turns of the event loop: the scorer waits
    for those at hand instead of scoring each record in a step of its own."""
    svc, sizes = service()
    svc.assigned([0])  # with the background scorer
    for offset in range(40):
        await svc.offer(0, offset, series_message(offset, "node_load1", [1.0], 0))
        for _ in range(3):  # Faust's turns between two events
            await asyncio.sleep(0)
    while svc._partitions[0].next_offset != 40:
        await asyncio.sleep(0)
    await svc.stop(timeout=5)
    assert sum(sizes) == 40
    assert len(sizes) <= 2


async def _scores_sent(scores_schema_version: int) -> list[Any]:
    """What goes to ``scores`` for two steps of series in partitions 0 and 1."""
    svc, _ = service(scores_schema_version=scores_schema_version)
    assign(svc, [0, 1])
    await asyncio.sleep(0)
    for start in (0, 2):
        for series_id in (4, 1, 3, 2):  # even ones in partition 0
            value = series_message(series_id, "node_load1", [1.0, 2.0], start)
            await svc.offer(series_id % 2, start, value)
        assert await svc.step()
    await svc.outputs.drain()
    producer: FakeProducer = svc.producer  # type: ignore[assignment]
    return producer.records["s"]


async def test_scores_schema_2_sends_a_record_per_partition_and_step() -> None:
    v1, v2 = await _scores_sent(1), await _scores_sent(2)
    # schema 1, unchanged: a record per series per step, keyed by its id
    assert [(p, int.from_bytes(k, "big")) for p, k, _ in v1] == [(0, 4), (0, 2), (1, 1), (1, 3)] * 2
    # schema 2: per step one record per partition, no key, its series in the same order
    assert [(p, k) for p, k, _ in v2] == [(0, None), (1, None)] * 2
    assert [[b.series_id for b in decode_scores(v)] for _, _, v in v2] == [[4, 2], [1, 3]] * 2
    assert all(scores_pb2.ScoresBatch.FromString(v).schema_version == 2 for _, _, v in v2)
    # ...and each series' ScoreBatch is what schema 1 sends, framed byte for byte
    assert [b for _, _, v in v2 for b in decode_scores(v)] == [
        scores_pb2.ScoreBatch.FromString(v) for _, _, v in v1
    ]
    assert all(value in v2[i // 4 * 2 + p][2] for i, (p, _, value) in enumerate(v1))
