"""Reading a partition of the checkpoint topic back: every series, the newest checkpoint each."""

from __future__ import annotations

import pytest

from aidevops.kafka.producer import BatchProducer
from cli.local.broker import LocalBroker
from stream.worker.recovery import restore_partition
from tests.integration.stream.conftest import PARTITIONS, Topics

pytestmark = pytest.mark.integration


class _Engine:
    """What restore_partition calls: the last checkpoint per series wins."""

    def __init__(self) -> None:
        self.checkpoints: dict[int, tuple[int, bytes]] = {}

    def restore(self, partition: int, series_id: int, checkpoint: bytes) -> None:
        self.checkpoints[series_id] = (partition, checkpoint)


async def test_every_series_of_a_checkpoint_batch_is_restored(
    broker: LocalBroker, topics: Topics, producer: BatchProducer
) -> None:
    # A worker checkpoints its dirty series of a partition together: one record batch each
    # round. The broker's end offset for such a partition is the last batch's first offset
    # + 1 (tansu), and restoring only up to it lost all but the first series of that batch.
    series = [100 + i for i in range(4 * PARTITIONS)]
    for round_ in range(3):
        await producer.send(
            topics.checkpoints,
            [(s % PARTITIONS, s.to_bytes(8, "big"), f"{s}/{round_}".encode()) for s in series],
        )
    for partition in range(PARTITIONS):
        engine = _Engine()
        await restore_partition(broker.bootstrap_servers, topics.checkpoints, partition, engine)
        mine = [s for s in series if s % PARTITIONS == partition]
        assert engine.checkpoints == {s: (partition, f"{s}/2".encode()) for s in mine}
