"""Entry point of the sink process (``aidevops sink``)."""

from __future__ import annotations

import asyncio
import signal

from stream.sink.runner import run_sink
from stream.sink.settings import SinkSettings

__all__ = ["serve_sink"]


def serve_sink(settings: SinkSettings) -> None:
    """Run the DynamoDB sink until SIGTERM or SIGINT."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_sink(settings, stop)

    asyncio.run(main())
