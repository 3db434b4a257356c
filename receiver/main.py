"""Running the receiver as a process: ``python -m receiver.main`` (``aidevops receiver``)."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys

from aiohttp import web

from receiver.app import create_app
from receiver.settings import ReceiverSettings

__all__ = ["run"]


def _event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed: its transports and callbacks cost a fraction of asyncio's own."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; this is the fallback
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def run(settings: ReceiverSettings) -> None:
    """Serve until SIGINT or SIGTERM; in-flight requests get ``shutdown_timeout_seconds``."""
    app = create_app(settings)
    # What start-up made (modules, the app) lives as long as the process: out of the
    # collector's sight, its full collections no longer walk it, as in the worker.
    gc.collect()
    gc.freeze()
    web.run_app(
        app,
        loop=_event_loop(),
        host=settings.receiver_host,
        port=settings.receiver_port,
        shutdown_timeout=settings.shutdown_timeout_seconds,
        access_log=None,
        print=None,
    )


if __name__ == "__main__":  # pragma: no cover - exercised by the benchmarks
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    run(ReceiverSettings())
