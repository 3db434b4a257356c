"""A tiny scrape target whose values the tests control."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestServer

from cli.local.process import free_port

__all__ = ["Exporter"]


class Exporter:
    """Serves ``test_scrapes`` (a gauge equal to the scrape count), ``test_requests_total``
    (a counter) and, until :attr:`vanish` is set, ``test_vanishing``."""

    def __init__(self) -> None:
        self.scrapes = 0
        self.vanish = False
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        self.port = free_port()
        self.server = TestServer(app, host="127.0.0.1", port=self.port)

    @property
    def target(self) -> str:
        """``host:port`` as Prometheus names it, also after :meth:`close` (a target down)."""
        return f"127.0.0.1:{self.port}"

    async def _metrics(self, request: web.Request) -> web.Response:
        self.scrapes += 1
        lines = [
            "# HELP test_scrapes How often this target was scraped.",
            "# TYPE test_scrapes gauge",
            f'test_scrapes{{kind="count"}} {self.scrapes}',
            "# HELP test_requests_total Requests served.",
            "# TYPE test_requests_total counter",
            f"test_requests_total {self.scrapes * 10}",
        ]
        if not self.vanish:
            lines += ["# TYPE test_vanishing gauge", "test_vanishing 42"]
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")

    async def start(self) -> None:
        await self.server.start_server()

    async def close(self) -> None:
        await self.server.close()
