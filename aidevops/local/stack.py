"""``aidevops up``: the whole pipeline on this machine, on embedded defaults.

Starts the Kafka-compatible broker as a child process and the receiver in this process,
prints what to paste into prometheus.yml, and stops everything (by PID) on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path

from aiohttp import web

from aidevops.local.broker import LocalBroker
from aidevops.settings import ReceiverSettings
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


def run_stack(data_dir: Path, receiver_port: int, broker_port: int | None) -> int:
    """Run until SIGINT/SIGTERM; return the exit status."""
    data_dir.mkdir(parents=True, exist_ok=True)
    print(f">> starting the Kafka-compatible broker (logs in {data_dir / 'logs'})", flush=True)
    with LocalBroker(data_dir / "logs", port=broker_port) as broker:
        settings = ReceiverSettings(
            kafka_bootstrap_servers=broker.bootstrap_servers,
            receiver_host="127.0.0.1",
            receiver_port=receiver_port,
        )
        base = f"http://127.0.0.1:{receiver_port}"
        print(
            f"""
  broker (Kafka API)   {broker.bootstrap_servers}   pid {broker.pid}
  receiver             {base}/api/v1/write
  receiver metrics     {base}/metrics   health {base}/healthz   ready {base}/readyz

Add this to prometheus.yml and reload Prometheus:

  remote_write:
    - url: {base}/api/v1/write

Watch samples arrive:  aidevops tail samples --bootstrap {broker.bootstrap_servers}
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

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main())
        print(">> stopping", flush=True)
    return 0
