"""Running ``aidevops worker`` processes against the real broker."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aidevops.kafka.producer import BatchProducer
from aidevops.kafka.topics import ensure_topics
from cli.local.broker import LocalBroker
from cli.local.process import free_port

PARTITIONS = 4
_names = itertools.count()


@dataclass
class Topics:
    samples: str
    scores: str
    alerts: str
    checkpoints: str
    group: str


class WorkerProcess:
    """One ``aidevops worker`` with test-friendly timeouts, stopped by PID."""

    def __init__(
        self,
        broker: LocalBroker,
        topics: Topics,
        logs: Path,
        extra_env: dict[str, str] | None = None,
    ):
        self.port = free_port()
        self.env = {
            **os.environ,
            "AIDEVOPS_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "AIDEVOPS_SAMPLES_TOPIC": topics.samples,
            "AIDEVOPS_SAMPLES_PARTITIONS": str(PARTITIONS),
            "AIDEVOPS_SCORES_TOPIC": topics.scores,
            "AIDEVOPS_ALERTS_TOPIC": topics.alerts,
            "AIDEVOPS_CHECKPOINT_TOPIC": topics.checkpoints,
            "AIDEVOPS_WORKER_GROUP": topics.group,
            "AIDEVOPS_WORKER_HOST": "127.0.0.1",
            "AIDEVOPS_WORKER_PORT": str(self.port),
            "AIDEVOPS_CHECKPOINT_INTERVAL_SECONDS": "1",
            "AIDEVOPS_BROKER_SESSION_TIMEOUT_SECONDS": "6",
            "AIDEVOPS_BROKER_REBALANCE_TIMEOUT_SECONDS": "6",
            **(extra_env or {}),
        }
        self.log_path = logs / f"worker-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "worker"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def metrics(self) -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2) as r:
                text: str = r.read().decode()
                return text
        except OSError:
            return ""

    def metric(self, name: str) -> float:
        for line in self.metrics().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        return 0.0

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


@pytest.fixture
async def topics(broker: LocalBroker) -> Topics:
    n = next(_names)
    names = Topics(
        f"w{n}-samples", f"w{n}-scores", f"w{n}-alerts", f"w{n}-checkpoints", f"w{n}-group"
    )
    await ensure_topics(
        broker.bootstrap_servers,
        {t: PARTITIONS for t in (names.samples, names.scores, names.alerts, names.checkpoints)},
    )
    return names


@pytest.fixture
def workers(broker: LocalBroker, topics: Topics, logs_dir: Path) -> Iterator[list[WorkerProcess]]:
    """Start workers with ``workers.append(WorkerProcess(...).start())``; all stop after."""
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()


@pytest.fixture
async def producer(broker: LocalBroker) -> AsyncIterator[BatchProducer]:
    producer = BatchProducer(broker.bootstrap_servers, 10.0, "test-producer")
    await producer.start()
    await asyncio.wait_for(producer.connected.wait(), 20)
    yield producer
    await producer.stop()
