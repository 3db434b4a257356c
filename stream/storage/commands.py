"""The storage side of the command line: ``aidevops sink|api|scores|dynamodb init``."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator

from aiohttp import web

from aidevops.settings import KafkaSettings
from stream.storage.http import add_routes
from stream.storage.runner import run_sink
from stream.storage.service import (
    Storage,
    client_from_settings,
    format_scores,
    parse_series_id,
    parse_time,
)
from stream.storage.settings import StorageSettings
from stream.storage.tables import create_tables

__all__ = ["create_api_app", "dynamodb_init", "print_scores", "serve_api", "sink"]

STORAGE = web.AppKey("storage", Storage)


def dynamodb_init(settings: StorageSettings) -> list[str]:
    """Create the tables that are missing; return every table name."""
    return create_tables(client_from_settings(settings), settings.dynamodb_table_prefix)


def print_scores(
    settings: StorageSettings, series: str, since: str, until: str, tenant: str, as_json: bool
) -> str:
    now = int(time.time() * 1000)
    # Check the arguments before connecting: bad input gets its own clear error.
    series_id, start, end = parse_series_id(series), parse_time(since, now), parse_time(until, now)
    storage = Storage.from_settings(settings)
    try:
        report = storage.series_report(series_id, start, end, tenant)
    finally:
        storage.close()
    return json.dumps(report) if as_json else format_scores(report)


def sink(settings: StorageSettings, kafka: KafkaSettings) -> None:
    """Run the DynamoDB sink until SIGTERM or SIGINT."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_sink(kafka.kafka_bootstrap_servers, settings, stop)

    asyncio.run(main())


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


def create_api_app(storage: Storage) -> web.Application:
    """The read API: ``GET /api/v1/series/{series_id}/scores`` (the dashboard uses it)."""
    app = web.Application()
    app[STORAGE] = storage
    app.router.add_get("/healthz", _healthz)
    add_routes(app, storage)

    async def close(app: web.Application) -> AsyncIterator[None]:
        yield
        app[STORAGE].close()

    app.cleanup_ctx.append(close)
    return app


def serve_api(settings: StorageSettings, host: str, port: int) -> None:
    """Serve the read API until SIGTERM or SIGINT."""
    web.run_app(create_api_app(Storage.from_settings(settings)), host=host, port=port, print=None)
