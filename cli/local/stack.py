"""``aidevops up``: the whole pipeline on this machine, on embedded defaults.

Starts the Kafka-compatible broker and DynamoDB Local (installed on first use, data kept
under ``--data-dir``), the receiver in this process, and a worker, the DynamoDB sink, the
read API and the notifier as child processes. Prints what to paste into prometheus.yml and
stops everything, by PID, on Ctrl-C. Alerts go to the console unless
``AIDEVOPS_TELEGRAM_BOT_TOKEN`` is set.
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
from cli.local.broker import LocalBroker
from cli.local.demo import DEMO_ENV, run_demo
from cli.local.dynamodb import LocalDynamoDB
from cli.local.process import ManagedProcess
from receiver.app import create_app
from receiver.settings import ReceiverSettings
from stream.worker.settings import WorkerSettings

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


def _child(name: str, args: list[str], logs: Path) -> ManagedProcess:
    return ManagedProcess(name, [sys.executable, "-m", "cli.main", *args], logs / f"{name}.log")


def run_stack(
    data_dir: Path,
    receiver_port: int,
    broker_port: int | None,
    worker_port: int = 6066,
    api_port: int = 9202,
    demo: bool = False,
) -> int:
    """Run until SIGINT/SIGTERM; return the exit status. ``demo`` adds :mod:`.demo`."""
    data_dir = data_dir.resolve()
    logs = data_dir / "logs"
    (data_dir / "dynamodb").mkdir(parents=True, exist_ok=True)
    print(f">> starting the Kafka-compatible broker (logs in {logs})", flush=True)
    with contextlib.ExitStack() as stack:
        broker = stack.enter_context(LocalBroker(logs, port=broker_port))
        print(">> starting DynamoDB Local (downloaded on first use)", flush=True)
        dynamodb = stack.enter_context(LocalDynamoDB(logs, db_path=data_dir / "dynamodb"))
        worker_settings = WorkerSettings(kafka_bootstrap_servers=broker.bootstrap_servers)
        topics = (
            worker_settings.samples_topic,
            worker_settings.scores_topic,
            worker_settings.alerts_topic,
            worker_settings.checkpoint_topic,
        )
        asyncio.run(
            ensure_topics(
                broker.bootstrap_servers, {t: worker_settings.samples_partitions for t in topics}
            )
        )
        # Children read their settings from the environment, like in production.
        os.environ.update(
            {
                "AIDEVOPS_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
                "AIDEVOPS_DYNAMODB_ENDPOINT_URL": dynamodb.endpoint_url,
                "AIDEVOPS_DYNAMODB_ACCESS_KEY_ID": "local",
                "AIDEVOPS_DYNAMODB_SECRET_ACCESS_KEY": "local",
                "AIDEVOPS_NOTIFY_SENT_LOG_PATH": str(data_dir / "sent-log.jsonl"),
                "PTB_TIMEDELTA": "true",
            }
        )
        os.environ.setdefault("AIDEVOPS_WORKER_HOST", "127.0.0.1")
        if demo:
            os.environ.update(DEMO_ENV)
        if not os.environ.get("AIDEVOPS_TELEGRAM_BOT_TOKEN"):
            # Without a bot, alerts are printed by the notifier: give them a chat to go to.
            os.environ.setdefault("AIDEVOPS_TELEGRAM_DEFAULT_CHAT_ID", "console")
        children = [
            _child("worker", ["worker", "--port", str(worker_port)], logs),
            _child("sink", ["sink"], logs),
            _child("api", ["api", "--host", "127.0.0.1", "--port", str(api_port)], logs),
            _child("notify", ["notify"], logs),
        ]
        for child in children:
            child.start()
            stack.callback(child.stop)
        settings = ReceiverSettings(
            kafka_bootstrap_servers=broker.bootstrap_servers,
            receiver_host="127.0.0.1",
            receiver_port=receiver_port,
        )
        base = f"http://127.0.0.1:{receiver_port}"
        pids = "  ".join(f"{c.name} {c.pid}" for c in children)
        print(
            f"""
  broker (Kafka API)   {broker.bootstrap_servers}   pid {broker.pid}
  DynamoDB Local       {dynamodb.endpoint_url}   pid {dynamodb.pid}
  receiver             {base}/api/v1/write   (metrics {base}/metrics, ready {base}/readyz)
  worker               http://127.0.0.1:{worker_port}/metrics
  scores API           http://127.0.0.1:{api_port}/api/v1/series/<series id>/scores
  child processes      {pids}   (logs in {logs}; alerts from notify go to its log
                       unless AIDEVOPS_TELEGRAM_BOT_TOKEN is set)

Add this to prometheus.yml and reload Prometheus:

  remote_write:
    - url: {base}/api/v1/write
  scrape_configs:
    - job_name: aidevops-workers
      honor_labels: true
      static_configs: [{{targets: ["127.0.0.1:{worker_port}"]}}]

Watch:  aidevops tail scores --bootstrap {broker.bootstrap_servers}
Ctrl-C stops everything.
""",
            flush=True,
        )

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            if not demo:
                await _serve(settings, stop)
                return
            await asyncio.gather(
                _serve(settings, stop),
                run_demo(stop, receiver_port, worker_port, data_dir, logs / "notify.log"),
            )

        try:
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(main())
        finally:
            print(">> stopping", flush=True)
    return 0
