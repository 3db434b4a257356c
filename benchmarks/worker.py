"""Worker benchmark: samples/s per worker core through Faust, and memory per live series.

    .venv/bin/python benchmarks/worker.py [--series 10000] [--rounds 20]

Fills ``samples`` with Prometheus-shaped records (one sample per series, one record per
partition per round, as the receiver writes a remote-write request) while
``aidevops worker``, pinned to core 0, is paused, then times it from resuming to its last
score message. Throughput counts samples per second of wall time and per CPU-second of the
worker (from /proc). Memory: RSS after the first round of ``--series`` series minus RSS
after a first round of 1,000.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aidevops.kafka.producer import BatchProducer  # noqa: E402
from aidevops.kafka.topics import ensure_topics  # noqa: E402
from aidevops.pb import remote_write_v1_pb2, samples_pb2  # noqa: E402
from cli.local.broker import LocalBroker  # noqa: E402
from cli.local.process import free_port  # noqa: E402

PARTITIONS = 8
T0 = 1_700_000_000_000


def _message(series_id: int, round_: int, value: float) -> bytes:
    batch = samples_pb2.SeriesBatch(
        schema_version=1,
        tenant="default",
        series_id=series_id,
        metric_type=samples_pb2.METRIC_TYPE_GAUGE,
        labels=[
            remote_write_v1_pb2.Label(name="__name__", value=f"node_metric_{series_id % 50}"),
            remote_write_v1_pb2.Label(name="instance", value=f"host-{series_id // 50}:9100"),
            remote_write_v1_pb2.Label(name="job", value="node"),
            remote_write_v1_pb2.Label(name="series", value=str(series_id)),
        ],
    )
    batch.samples.add(value=value, timestamp=T0 + round_ * 15_000)
    return batch.SerializeToString()


async def _fill(bootstrap: str, topic: str, series: range, rounds: range) -> int:
    """Produce ``rounds`` rounds of ``series`` series, as the receiver writes them.

    One record per round per partition (schema 2: a SamplesBatch of that round's series of
    the partition), as one remote-write request with one sample per series becomes.
    """
    producer = BatchProducer(bootstrap, 30.0, "bench")
    await producer.start()
    await asyncio.wait_for(producer.connected.wait(), 30)
    sent = 0
    for r in rounds:
        by_partition: dict[int, samples_pb2.SamplesBatch] = {}
        for s in series:
            batch = by_partition.setdefault(
                s % PARTITIONS, samples_pb2.SamplesBatch(schema_version=2)
            )
            batch.series.append(
                samples_pb2.SeriesBatch.FromString(_message(s, r, float((s * 7 + r) % 13)))
            )
        records = [(p, b"", b.SerializeToString()) for p, b in by_partition.items()]
        await producer.send(topic, records)
        sent += len(series)
    await producer.stop()
    return sent


def _metric(port: int, name: str) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[-1])
    except OSError:
        pass
    return 0.0


def _proc_stat(pid: int) -> tuple[float, int]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return cpu, rss


def _wait_scored(port: int, target: int, pid: int, timeout: float = 900) -> tuple[float, float]:
    """Wait until the worker reports ``target`` scored samples; time it from now.

    Polled every 2 s: rendering /metrics with thousands of anomaly_score lines costs the
    worker some 0.1 s, about 5 % of the measured time at this rate. (The local broker's
    end offsets count record batches, not records, so they cannot measure progress.)
    """
    cpu0, _ = _proc_stat(pid)
    t0 = time.monotonic()
    while _metric(port, "aidevops_worker_samples_scored_total") < target:
        if time.monotonic() - t0 > timeout:
            raise RuntimeError("worker did not finish")
        time.sleep(2.0)
    return time.monotonic() - t0, _proc_stat(pid)[0] - cpu0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})
    work = Path(tempfile.mkdtemp(prefix="aidevops-worker-bench-"))
    with LocalBroker(work) as broker:
        os.sched_setaffinity(broker.pid, {1})
        bootstrap = broker.bootstrap_servers
        topics = {t: PARTITIONS for t in ("samples", "scores", "alerts", "checkpoints")}
        asyncio.run(ensure_topics(bootstrap, topics))
        # Phase 1: 1,000 series, one round, for the memory baseline.
        small = asyncio.run(_fill(bootstrap, "samples", range(1_000), range(1)))
        port = free_port()
        env = {
            **os.environ,
            "AIDEVOPS_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "AIDEVOPS_SAMPLES_PARTITIONS": str(PARTITIONS),
            "AIDEVOPS_CHECKPOINT_TOPIC": "checkpoints",
            "AIDEVOPS_WORKER_HOST": "127.0.0.1",
            "AIDEVOPS_WORKER_PORT": str(port),
            "AIDEVOPS_BROKER_SESSION_TIMEOUT_SECONDS": "6",
            "AIDEVOPS_BROKER_REBALANCE_TIMEOUT_SECONDS": "6",
        }
        log = (work / "worker.log").open("wb")
        worker = subprocess.Popen(
            [
                "taskset",
                "-c",
                "0",
                sys.executable,
                "-m",
                "cli.main",
                "--log-level",
                "WARNING",
                "worker",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        print(f"worker log: {work / 'worker.log'}", flush=True)
        try:
            _wait_scored(port, small, worker.pid)
            time.sleep(1)
            _, rss_small = _proc_stat(worker.pid)
            # Phase 2: produced while the worker is stopped (SIGSTOP), then timed as a whole.
            os.kill(worker.pid, signal.SIGSTOP)
            total = asyncio.run(
                _fill(bootstrap, "samples", range(args.series), range(1, args.rounds + 1))
            )
            os.kill(worker.pid, signal.SIGCONT)
            wall, cpu = _wait_scored(port, small + total, worker.pid)
            _, rss_big = _proc_stat(worker.pid)
            live = _metric(port, "aidevops_worker_live_series")
        finally:
            worker.terminate()
            worker.wait(30)
    print(f"samples scored: {total:,} ({args.series:,} series x {args.rounds} rounds)")
    print(
        f"worker throughput: {total / wall:,.0f} samples/s wall, {total / cpu:,.0f} samples/cpu-s"
    )
    per_series = (rss_big - rss_small) / max(live - 1_000, 1)
    print(f"memory: {per_series / 1024:.1f} KB RSS per live series ({live:,.0f} live)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
