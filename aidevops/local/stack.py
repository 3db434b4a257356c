"""``aidevops up``: the whole pipeline on this machine, on embedded defaults.

Starts the Kafka-compatible broker and a worker as child processes and the receiver in this
process, prints what to paste into prometheus.yml, and stops everything (by PID) on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path

from aiohttp import web

from aidevops.kafka.topics import ensure_topics
from aidevops.local.broker import LocalBroker
from aidevops.local.process import ManagedProcess
from aidevops.settings import ReceiverSettings, WorkerSettings
from receiver.app import create_app

__all__ = ["run_stack"]

log = logging.getLogger(__name__)


async def _serve(settings: ReceiverSettings, stop: asyncio.Event) -> None:
    runner = web.AppRunner(create_app(settings), shutdown_timeout=settings.shutdown_timeout_seconds)
    await runner.setup()
    site = web.TCPSite(runner, settings.receiver_host, settings.receiver_port)
    await site.start()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def run_stack(
    data_dir: Path, receiver_port: int, broker_port: int | None, worker_port: int = 6066
) -> int:
    """Run until SIGINT/SIGTERM; return the exit status."""
    data_dir.mkdir(parents=True, exist_ok=True)
    print(f">> starting the Kafka-compatible broker (logs in {data_dir / 'logs'})", flush=True)
    with LocalBroker(data_dir / "logs", port=broker_port) as broker:
        settings = ReceiverSettings(
            kafka_bootstrap_servers=broker.bootstrap_servers,
            receiver_host="127.0.0.1",
            receiver_port=receiver_port,
        )
        worker_settings = WorkerSettings(kafka_bootstrap_servers=broker.bootstrap_servers)
        asyncio.run(
            ensure_topics(
                broker.bootstrap_servers,
                {
                    name: worker_settings.samples_partitions
                    for name in (
                        worker_settings.samples_topic,
                        worker_settings.scores_topic,
                        worker_settings.alerts_topic,
                        worker_settings.checkpoint_topic,
                    )
                },
            )
        )
        worker = ManagedProcess(
            "worker",
            [sys.executable, "-m", "aidevops.cli", "worker", "--port", str(worker_port)],
            data_dir / "logs" / "worker.log",
        )
        os.environ["AIDEVOPS_KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers
        os.environ.setdefault("AIDEVOPS_WORKER_HOST", "127.0.0.1")
        worker.start()
        base = f"http://127.0.0.1:{receiver_port}"
        print(
            f"""
  broker (Kafka API)   {broker.bootstrap_servers}   pid {broker.pid}
  receiver             {base}/api/v1/write
  receiver metrics     {base}/metrics   health {base}/healthz   ready {base}/readyz
  worker               http://127.0.0.1:{worker_port}/metrics   pid {worker.pid}

Add this to prometheus.yml and reload Prometheus:

  remote_write:
    - url: {base}/api/v1/write

Scrape the worker for anomaly scores (keep the series' own labels):

  scrape_configs:
    - job_name: aidevops-workers
      honor_labels: true
      static_configs: [{{targets: ["127.0.0.1:{worker_port}"]}}]

Watch them:  aidevops tail samples --bootstrap {broker.bootstrap_servers}
             aidevops tail scores --bootstrap {broker.bootstrap_servers}
Ctrl-C stops everything.
""",
            flush=True,
        )

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await _serve(settings, stop)

        try:
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(main())
        finally:
            print(">> stopping", flush=True)
            worker.stop()
    return 0
