"""DynamoDB write units per million scored samples, through the real sink.

Starts a tansu broker and DynamoDB Local, produces ``--series`` x ``--points`` scored points
to a ``scores`` topic (60 points per ScoreBatch, 15 s apart, like a Prometheus scrape), runs
the storage sink (aiokafka consumer, manual commits) until everything is consumed and closed,
and prints the write capacity DynamoDB reported (``ReturnConsumedCapacity=TOTAL``), scaled
to one million samples, and the items written.

    python benchmarks/dynamodb_wcu.py                 # 1000 series x 1000 points
    python benchmarks/dynamodb_wcu.py --profile worst # incompressible random doubles

Profiles: ``prometheus`` mixes gauges with 2-3 decimals, integer counters and constant
series; scores are ranks against the last 1000 raw scores (k/1000), as the calibrator emits.
``worst`` uses random 64-bit doubles for values and scores: no lossless packing helps there.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka import AIOKafkaProducer  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402

from aidevops.pb import scores_pb2  # noqa: E402
from cli.local.broker import LocalBroker  # noqa: E402
from cli.local.dynamodb import LocalDynamoDB  # noqa: E402
from stream.sink.runner import make_consumer, make_sink  # noqa: E402
from stream.sink.settings import SinkSettings  # noqa: E402
from stream.storage.store import Storage  # noqa: E402

STEP_MS = 15_000
PER_BATCH = 60


def series_values(rng: random.Random, kind: int, n: int) -> list[float]:
    if kind == 0:  # gauge, e.g. CPU % with 3 decimals
        level = rng.uniform(1, 90)
        return [round(max(0.0, level + rng.gauss(0, 1.5)), 3) for _ in range(n)]
    if kind == 1:  # counter, e.g. bytes
        total, out = rng.randrange(10**9), []
        for _ in range(n):
            total += rng.randrange(0, 50_000)
            out.append(float(total))
        return out
    if kind == 2:  # gauge, e.g. load average with 2 decimals
        return [round(rng.uniform(0, 4), 2) for _ in range(n)]
    return [1.0] * n  # up, info-like


def rank_scores(rng: random.Random, n: int, window: int = 1000) -> list[float]:
    history = [rng.random() for _ in range(window)]
    out = []
    for i in range(n):
        raw = rng.random()
        out.append(sum(1 for h in history if h <= raw) / window)
        history[i % window] = raw
    return out


def build_messages(series: int, points: int, profile: str, start: int) -> list[tuple[int, bytes]]:
    rng = random.Random(42)
    messages = []
    for s in range(series):
        if profile == "worst":
            values = [rng.uniform(-1e9, 1e9) for _ in range(points)]
            scores = [rng.random() for _ in range(points)]
        else:
            values = series_values(rng, s % 4, points)
            scores = rank_scores(rng, points)
        for first in range(0, points, PER_BATCH):
            batch = scores_pb2.ScoreBatch(schema_version=1, tenant="default", series_id=s + 1)
            batch.labels.add(name="__name__", value=f"metric_{s % 50}")
            batch.labels.add(name="instance", value=f"10.0.{s // 250}.{s % 250}:9100")
            batch.labels.add(name="job", value="node")
            for i in range(first, min(points, first + PER_BATCH)):
                batch.points.add(
                    timestamp=start + i * STEP_MS, value=values[i], score=scores[i], flags=0
                )
            messages.append((s + 1, batch.SerializeToString()))
    # interleave series in time order, as the detectors would publish
    per_series = (points + PER_BATCH - 1) // PER_BATCH
    return [messages[s * per_series + k] for k in range(per_series) for s in range(series)]


async def main(args: argparse.Namespace) -> None:
    total = args.series * args.points
    bucket_ms = args.bucket_seconds * 1000
    now = int(time.time() * 1000)
    start = now - now % bucket_ms - bucket_ms  # a bucket-aligned start in the recent past
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp)
        with LocalBroker(logs) as broker, LocalDynamoDB(logs) as ddb:
            settings = SinkSettings(
                kafka_bootstrap_servers=broker.bootstrap_servers,
                dynamodb_endpoint_url=ddb.endpoint_url,
                dynamodb_access_key_id="local",
                dynamodb_secret_access_key="local",  # type: ignore[arg-type]
                scores_bucket_seconds=args.bucket_seconds,
                sink_group_id="bench",
            )
            storage = Storage.from_settings(settings)
            admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
            await admin.start()
            await admin.create_topics([NewTopic("scores", 4, 1), NewTopic("alerts", 1, 1)])
            await admin.close()

            t0 = time.monotonic()
            messages = build_messages(args.series, args.points, args.profile, start)
            producer = AIOKafkaProducer(
                bootstrap_servers=broker.bootstrap_servers, linger_ms=20, max_batch_size=1 << 20
            )
            await producer.start()
            for sid, value in messages:
                await producer.send("scores", value, key=sid.to_bytes(8, "big"))
            await producer.flush()
            await producer.stop()
            print(
                f"produced {len(messages)} batches ({total} points) in "
                f"{time.monotonic() - t0:.1f}s",
                file=sys.stderr,
            )

            t1 = time.monotonic()
            consumer = make_consumer(settings)
            consumer.subscribe(["scores", "alerts"])
            await consumer.start()
            sink = make_sink(consumer, storage, settings)
            stop = asyncio.Event()
            task = asyncio.create_task(sink.run(stop))
            while sink.stats.points < total:
                await asyncio.sleep(0.2)
            stop.set()
            await task
            await consumer.stop()
            meter = storage.gateway.meter
            print(f"sink wrote in {time.monotonic() - t1:.1f}s", file=sys.stderr)
            storage.close()
    per_million = meter.write_units * 1_000_000 / total
    print(
        f"profile={args.profile} series={args.series} points/series={args.points} "
        f"bucket={args.bucket_seconds}s step={STEP_MS // 1000}s"
    )
    print(f"scored samples: {total}")
    print(f"items written: {meter.items_written}")
    print(f"write capacity units: {meter.write_units:.0f}")
    print(
        f"WCU per 1M scored samples: {per_million:.0f}  (target <= 5000; one item per "
        f"score would be 1000000)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--bucket-seconds", type=int, default=6 * 3600)
    parser.add_argument("--profile", choices=["prometheus", "worst"], default="prometheus")
    asyncio.run(main(parser.parse_args()))
