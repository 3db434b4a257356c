"""``aidevops tail``: ``-n`` counts lines, one per series, even when a fetch returns more."""

from __future__ import annotations

import io
import json

import pytest
from aiokafka import AIOKafkaProducer

from aidevops.kafka.topics import ensure_topics
from aidevops.pb import scores_pb2
from cli.local.broker import LocalBroker
from cli.tail import tail

pytestmark = pytest.mark.integration


async def test_tail_n_prints_exactly_n_lines(broker: LocalBroker) -> None:
    topic = "tail-scores-n"
    await ensure_topics(broker.bootstrap_servers, {topic: 1})
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, linger_ms=50)
    await producer.start()
    try:
        for n in range(40):  # one fetch returns them all
            batch = scores_pb2.ScoreBatch(schema_version=1, series_id=n, tenant="default")
            for i in range(20):  # a message holds many points
                batch.points.add(timestamp=i, value=float(i), score=0.1)
            await producer.send(topic, batch.SerializeToString(), key=n.to_bytes(8, "big"))
        await producer.flush()
    finally:
        await producer.stop()
    out = io.StringIO()
    printed = await tail(
        broker.bootstrap_servers, topic, kind="scores", from_beginning=True, limit=3, out=out
    )
    lines = out.getvalue().splitlines()
    assert printed == 3 and len(lines) == 3
    assert [json.loads(line)["offset"] for line in lines] == [0, 1, 2]
    assert len(json.loads(lines[0])["points"]) == 20


async def test_tail_scores_prints_a_line_per_series_of_a_schema_2_record(
    broker: LocalBroker,
) -> None:
    topic = "tail-scores-v2"
    await ensure_topics(broker.bootstrap_servers, {topic: 1})
    record = scores_pb2.ScoresBatch(schema_version=2)
    for n in range(3):
        batch = record.series.add(schema_version=1, series_id=n + 1, tenant="default")
        batch.points.add(timestamp=1000 * n, value=float(n), score=0.25)
    single = scores_pb2.ScoreBatch(schema_version=1, series_id=9, tenant="default", stale=True)
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(topic, record.SerializeToString())  # no key
        await producer.send_and_wait(topic, single.SerializeToString(), key=(9).to_bytes(8, "big"))
    finally:
        await producer.stop()
    out = io.StringIO()
    printed = await tail(
        broker.bootstrap_servers, topic, kind="scores", from_beginning=True, limit=4, out=out
    )
    docs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert printed == 4
    assert [(d["series_id"], d["offset"], d["stale"]) for d in docs] == [
        ("0000000000000001", 0, False),
        ("0000000000000002", 0, False),
        ("0000000000000003", 0, False),
        ("0000000000000009", 1, True),
    ]
    assert [d["points"][0]["timestamp"] for d in docs[:3]] == [0, 1000, 2000]
