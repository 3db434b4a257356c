"""Worker benchmark, end to end through the real receiver: throughput, delay, memory, rebalance.

    .venv/bin/python benchmarks/worker.py [--series 20000] [--rounds 10] [--latency-seconds 30]
                                          [--history 0] [--repeat 1]

Every sample goes the way production's do: remote-write requests of 500 series x 1 sample
(Prometheus' shards) to ``aidevops receiver``, which publishes them to the local broker;
``aidevops worker`` (pinned to core 0) scores them. The receiver, the broker and this load
generator share core 1.

1. Throughput: the samples of ``--rounds`` rounds of ``--series`` series are published while
   the worker is paused (SIGSTOP), then the worker is resumed and timed until it reports all
   of them scored: samples/s of wall time and per CPU-second of the worker (from /proc).
   These are each series' first points, which the detector only learns (no tree score
   before ``window_size`` points, no alert-grade score before ``warmup``). With
   ``--history N`` every series then gets rounds up to N through the receiver, untimed
   (scored while they are sent), and ``--rounds`` more rounds are timed the same way: the
   steady state of long-lived series, ``--repeat`` times over successive rounds (the median
   and the range are printed: on a shared machine one catch-up of a few seconds varies by
   ±10 %). Both figures are printed; the later steps use the steady state's capacity.
2. Memory: the worker's RSS after those series are live, minus its RSS with 1,000 series,
   per live series beyond the first 1,000; each read a second after the worker went idle
   (it hands its heap's free pages back after a second idle: ``RELEASE_IDLE_SECONDS``).
3. Delay (skipped, with 4 and 5, by ``--latency-seconds 0``): requests at half the
   measured capacity for ``--latency-seconds``; for each sample, the time from its
   request's 2xx to the record of its score in ``scores`` (the record's timestamp, set by
   the worker's producer when it appends the record): p50 / p99 / max. The 2xx is timed
   when this load generator, which shares a core with the receiver and the broker, gets
   to it, so the figures are low by that lag (the p50 can come out below 0).
4. Rebalance: the same load again, and a second worker joins a third of the way in;
   reported, from the workers' counters of samples scored polled every 0.1 s: the time
   until the new worker scores, and the longest time after the join in which the group
   scored nothing (the pause a rebalance costs the pipeline).
5. Scale-out: the throughput test again with both workers (cores 0 and 1), against one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import aiohttp
import snappy
from aiokafka import AIOKafkaConsumer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aidevops.batches import decode_scores  # noqa: E402
from aidevops.kafka.topics import ensure_topics  # noqa: E402
from aidevops.pb import remote_write_v1_pb2  # noqa: E402
from cli.local.broker import LocalBroker  # noqa: E402
from cli.local.process import free_port  # noqa: E402

PARTITIONS = 8
T0 = 1_700_000_000_000
PER_REQUEST = 500
HEADERS = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}


def _request(first: int, count: int, round_: int) -> bytes:
    """Series ``first .. first+count`` (10 labels each), one sample at round ``round_``."""
    out = remote_write_v1_pb2.WriteRequest()
    for s in range(first, first + count):
        ts = out.timeseries.add()
        ts.labels.add(name="__name__", value=f"node_metric_{s % 50}")
        ts.labels.add(name="device", value=f"dev{s % 7}")
        ts.labels.add(name="instance", value=f"host-{s // 50}.example.internal:9100")
        ts.labels.add(name="job", value="node")
        for j in range(5):
            ts.labels.add(name=f"label_{j}", value=f"value-{s % 97}-{j}")
        ts.labels.add(name="series", value=str(s))
        ts.samples.add(value=float((s * 7 + round_) % 13), timestamp=T0 + round_ * 15_000)
    return snappy.compress(out.SerializeToString())


def metadata_request() -> bytes:
    """The metadata of every family ``_request`` sends, as Prometheus sends it (apart, once
    a minute): the workers then resolve each series' kind at first sight (see
    ``stream.worker.engine.METADATA_WAIT_MS``)."""
    out = remote_write_v1_pb2.WriteRequest()
    for family in range(50):
        out.metadata.add(
            type=remote_write_v1_pb2.MetricMetadata.GAUGE,
            metric_family_name=f"node_metric_{family}",
            help=f"A node-exporter-like gauge ({family}).",
        )
    return snappy.compress(out.SerializeToString())


def _proc_stat(pid: int) -> tuple[float, int]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return cpu, rss


def _metric(port: int, name: str) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[-1])
    except OSError:
        pass
    return 0.0


def _wait_scored(port: int, target: float, timeout: float = 900) -> None:
    # Polled every 20 ms: a catch-up of 240,000 samples takes about 3 s, and polling every
    # 0.5 s made its wall rate jump between 79k and 68k samples/s with the poll it ended on.
    deadline = time.monotonic() + timeout
    while _metric(port, "aidevops_worker_samples_scored_total") < target:
        if time.monotonic() > deadline:
            raise RuntimeError("the worker did not finish")
        time.sleep(0.02)


async def _send_rounds(url: str, series: int, rounds: range, concurrency: int = 8) -> int:
    """Every round of every series through the receiver; returns the samples acknowledged."""
    queue: asyncio.Queue[tuple[int, int, int]] = asyncio.Queue()
    for r in rounds:
        for first in range(0, series, PER_REQUEST):
            queue.put_nowait((first, min(PER_REQUEST, series - first), r))
    acknowledged = 0

    async def sender(session: aiohttp.ClientSession) -> None:
        nonlocal acknowledged
        while not queue.empty():
            first, count, r = queue.get_nowait()
            body = _request(first, count, r)  # built when sent: long runs do not fit in memory
            while True:
                async with session.post(url, data=body, headers=HEADERS) as response:
                    if response.status == 204:
                        break
                await asyncio.sleep(0.2)  # 503: retry as Prometheus would
            acknowledged += count

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(sender(session) for _ in range(concurrency)))
    return acknowledged


def _catch_up(
    worker: Worker, url: str, series: int, rounds: range, done: float, what: str = "first points"
) -> tuple[int, float]:
    """Publish ``rounds`` while the worker is paused, then time it scoring them.

    ``done`` is the worker's scored count before; returns the samples, samples/s wall and
    samples per worker CPU-second.
    """
    engine0 = _metric(worker.port, "aidevops_worker_scoring_seconds_sum")  # idle: all scored
    os.kill(worker.proc.pid, signal.SIGSTOP)
    total = asyncio.run(_send_rounds(url, series, rounds))
    cpu0, _ = _proc_stat(worker.proc.pid)
    t0 = time.monotonic()
    os.kill(worker.proc.pid, signal.SIGCONT)
    _wait_scored(worker.port, done + total)
    wall = time.monotonic() - t0
    cpu = _proc_stat(worker.proc.pid)[0] - cpu0
    engine = _metric(worker.port, "aidevops_worker_scoring_seconds_sum") - engine0
    print(
        f"{what}: {total:,} samples ({series:,} series x rounds {rounds.start}-"
        f"{rounds.stop - 1}): {total / wall:,.0f} samples/s wall, "
        f"{total / cpu:,.0f} samples/cpu-s; the scoring engine {engine / cpu:.0%} of the "
        f"worker's CPU time (load average {os.getloadavg()[0]:.2f})",
        flush=True,
    )
    return total, total / wall, total / cpu


class Worker:
    def __init__(self, bootstrap: str, work: Path, core: int, extra: dict[str, str]):
        self.port = free_port()
        env = {
            **os.environ,
            "AIDEVOPS_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "AIDEVOPS_SAMPLES_PARTITIONS": str(PARTITIONS),
            "AIDEVOPS_WORKER_HOST": "127.0.0.1",
            "AIDEVOPS_WORKER_PORT": str(self.port),
            "AIDEVOPS_BROKER_SESSION_TIMEOUT_SECONDS": "6",
            "AIDEVOPS_BROKER_REBALANCE_TIMEOUT_SECONDS": "6",
            "AIDEVOPS_METRICS_SERIES_LIMIT": "0",
            **extra,
        }
        self.log = (work / f"worker-{self.port}.log").open("wb")
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(core), sys.executable, "-m", "cli.main"]
            + ["--log-level", "WARNING", "worker"],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


async def _latency(
    url: str,
    bootstrap: str,
    series: int,
    rate: float,
    seconds: float,
    join: Callable[[], None] | None = None,
    scored: Callable[[], list[float]] | None = None,
) -> tuple[list[float], float, float]:
    """Open-loop load at ``rate`` samples/s; returns delays (s), join-to-score, longest gap.

    With ``join``, it is called a third of the way in, and ``scored`` (samples scored so far
    by each worker, the joining one last) is polled every 0.1 s from then on: the time until
    the new worker scores and the longest time the group's total stands still come from
    the workers' own counters. (The ``scores`` records read back could not tell: in this
    run the reader, started at the end offset, saw no record produced after the join.)
    """
    acked_at: dict[int, float] = {}  # sample timestamp -> wall time of the last 2xx
    start_round = 1_000_000
    interval = PER_REQUEST / rate
    requests = int(seconds / interval)
    per_round = max(1, series // PER_REQUEST)
    consumer = AIOKafkaConsumer(
        "scores", bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="latest"
    )
    await consumer.start()
    await consumer.seek_to_end()
    delays: list[float] = []
    produced: list[float] = []

    async def read() -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    produced.append(record.timestamp / 1000)
                    for score in decode_scores(record.value or b""):  # schema 1 or 2
                        for point in score.points:
                            acked = acked_at.get(point.timestamp)
                            if acked is not None:
                                delays.append(record.timestamp / 1000 - acked)

    reader = asyncio.create_task(read())
    joined_at = 0.0
    polls: list[tuple[float, list[float]]] = []

    async def poll() -> None:
        assert scored is not None
        while True:
            counts = await asyncio.to_thread(scored)
            polls.append((time.time(), counts))
            await asyncio.sleep(0.1)

    poller: asyncio.Task[None] | None = None
    async with aiohttp.ClientSession() as session:
        began = time.monotonic()

        async def one(i: int) -> None:
            round_ = start_round + i // per_round
            first = (i % per_round) * PER_REQUEST
            body = _request(first, PER_REQUEST, round_)
            async with session.post(url, data=body, headers=HEADERS) as response:
                if response.status == 204:
                    acked_at[T0 + round_ * 15_000] = time.time()

        tasks = []
        for i in range(requests):
            await asyncio.sleep(max(0.0, began + i * interval - time.monotonic()))
            tasks.append(asyncio.create_task(one(i)))
            if i == requests // 3 and join is not None and scored is not None:
                join()
                joined_at = time.time()
                poller = asyncio.create_task(poll())
        await asyncio.gather(*tasks)
    await asyncio.sleep(5)
    reader.cancel()
    if poller is not None:
        poller.cancel()
    await consumer.stop()
    if not polls:
        return delays, float("nan"), float("nan")
    first = next((t for t, counts in polls if counts[-1] > 0), float("nan"))
    moved = [joined_at] + [
        t
        for (t, counts), (_, before) in zip(polls[1:], polls, strict=False)
        if sum(counts) > sum(before)
    ]
    gap = max((b - a for a, b in zip(moved, moved[1:], strict=False)), default=float("nan"))
    return delays, first - joined_at, gap


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--latency-seconds", type=float, default=30.0)
    parser.add_argument(
        "--history", type=int, default=0, help="also time rounds after N (steady state)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="steady-state catch-ups, each --rounds more rounds"
    )
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})
    work = Path(tempfile.mkdtemp(prefix="aidevops-worker-bench-"))
    print(f"logs: {work}", flush=True)
    with LocalBroker(work) as broker:
        os.sched_setaffinity(broker.pid, {1})
        bootstrap = broker.bootstrap_servers
        topics = ("samples", "scores", "alerts", "aidevops-detector-checkpoints")
        asyncio.run(ensure_topics(bootstrap, {t: PARTITIONS for t in topics}))
        port = free_port()
        receiver = subprocess.Popen(
            ["taskset", "-c", "1", sys.executable, "-m", "cli.main", "--log-level", "WARNING"]
            + ["receiver", "--host", "127.0.0.1", "--port", str(port)],
            env={
                **os.environ,
                "AIDEVOPS_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "AIDEVOPS_SAMPLES_PARTITIONS": str(PARTITIONS),
            },
            stdout=(work / "receiver.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}/api/v1/write"
        workers: list[Worker] = []
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.2)
            urllib.request.urlopen(
                urllib.request.Request(url, data=metadata_request(), headers=HEADERS), timeout=10
            )
            worker = Worker(bootstrap, work, 0, {})
            workers.append(worker)
            print(f"worker pid {worker.proc.pid}", flush=True)
            base = asyncio.run(_send_rounds(url, 1_000, range(1)))
            _wait_scored(worker.port, base)
            time.sleep(2)
            _, rss_small = _proc_stat(worker.proc.pid)
            first_rounds = range(1, args.rounds + 1)
            total, capacity, _ = _catch_up(worker, url, args.series, first_rounds, base)
            time.sleep(2)  # as before the first reading: the worker trims its heap once idle
            _, rss_big = _proc_stat(worker.proc.pid)
            live = _metric(worker.port, "aidevops_worker_live_series")
            per_series = (rss_big - rss_small) / max(live - 1_000, 1)
            print(f"memory: {per_series / 1024:.1f} KB RSS per live series ({live:,.0f} live)")
            if args.history > args.rounds:
                started = time.monotonic()
                warm = range(args.rounds + 1, args.history + 1)
                sent = asyncio.run(_send_rounds(url, args.series, warm))
                _wait_scored(worker.port, base + total + sent)
                print(
                    f"history: rounds up to {args.history} scored, untimed "
                    f"({sent:,} samples in {time.monotonic() - started:.0f}s)"
                )
                done = base + total + sent
                walls, cpus = [], []
                for k in range(args.repeat):
                    first = args.history + 1 + k * args.rounds
                    steady = range(first, first + args.rounds)
                    n, wall, cpu = _catch_up(worker, url, args.series, steady, done, "steady state")
                    done += n
                    walls.append(wall)
                    cpus.append(cpu)
                capacity = statistics.median(walls)
                if args.repeat > 1:
                    print(
                        f"steady state, {args.repeat} catch-ups: median "
                        f"{statistics.median(cpus):,.0f} samples/cpu-s "
                        f"(min {min(cpus):,.0f}, max {max(cpus):,.0f}); "
                        f"median {capacity:,.0f} samples/s wall"
                    )

            if args.latency_seconds <= 0:
                return 0  # throughput only

            def join() -> None:
                workers.append(Worker(bootstrap, work, 1, {}))

            rate = capacity / 2

            def scored() -> list[float]:
                return [_metric(w.port, "aidevops_worker_samples_scored_total") for w in workers]

            delays, _, _ = asyncio.run(
                _latency(url, bootstrap, args.series, rate, args.latency_seconds)
            )
            _, to_score, gap = asyncio.run(
                _latency(url, bootstrap, args.series, rate, args.latency_seconds, join, scored)
            )
            print(
                f"delay 2xx -> score at {rate:,.0f} samples/s (half capacity): "
                f"p50 {_pct(delays, 0.5):.3f}s p99 {_pct(delays, 0.99):.3f}s "
                f"max {max(delays, default=float('nan')):.3f}s ({len(delays):,} samples)"
            )
            print(
                f"rebalance under load (a second worker joins): its first score {to_score:.1f}s "
                f"after the join; longest stand-still of the group's scoring {gap:.1f}s"
            )
            # Scale-out: the same catch-up with both workers (cores 0 and 1; the broker
            # shares core 1 with the second one, so this understates a real second core).
            time.sleep(5)
            before = sum(_metric(w.port, "aidevops_worker_samples_scored_total") for w in workers)
            for w in workers:
                os.kill(w.proc.pid, signal.SIGSTOP)
            rounds = range(2_000_000, 2_000_000 + args.rounds)
            again = asyncio.run(_send_rounds(url, args.series, rounds))
            t0 = time.monotonic()
            for w in workers:
                os.kill(w.proc.pid, signal.SIGCONT)
            deadline = time.monotonic() + 900
            while (
                sum(_metric(w.port, "aidevops_worker_samples_scored_total") for w in workers)
                < before + again
                and time.monotonic() < deadline
            ):
                time.sleep(0.02)
            both = again / (time.monotonic() - t0)
            print(
                f"two workers: {both:,.0f} samples/s wall, {both / capacity:.2f}x one worker "
                f"(scale-out efficiency {both / capacity / 2:.0%})"
            )
        finally:
            for w in workers:
                w.stop()
            receiver.terminate()
            receiver.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
