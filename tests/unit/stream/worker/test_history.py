"""The history client against a local HTTP server answering as Prometheus would, or not."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from stream.worker.history import PrometheusHistory

GOOD = {
    "status": "success",
    "data": {"result": [{"metric": {}, "values": [[100.0, "1.5"], [115.0, "NaN"], [130, "2"]]}]},
}


async def serve(answer: Any, status: int = 200) -> TestServer:
    async def query_range(request: web.Request) -> web.Response:
        assert request.query["query"] == '{__name__="up",job="x"}'
        if isinstance(answer, bytes):
            return web.Response(body=answer, status=status)
        return web.json_response(answer, status=status)

    app = web.Application()
    app.router.add_get("/api/v1/query_range", query_range)
    server = TestServer(app)
    await server.start_server()
    return server


async def test_points_before_the_first_live_sample() -> None:
    server = await serve(GOOD)
    history = PrometheusHistory(str(server.make_url("")), 3600, 15, rate=100)
    found = await history.fetch({"__name__": "up", "job": "x"}, before_ms=130_000)
    await history.close()
    await server.close()
    assert found is not None
    assert found.timestamps == [100_000, 115_000]
    assert found.values[0] == 1.5 and found.values[1] != found.values[1]  # NaN kept


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (b"<html>not prometheus</html>", 200),
        ([1, 2, 3], 200),
        ({"status": "success", "data": {}}, 200),
        ({"status": "success", "data": {"result": [{"values": [["x", "1"]]}]}}, 200),
        ({"status": "error", "error": "bad query"}, 400),
        ({"status": "success", "data": {"result": []}}, 200),
    ],
)
async def test_anything_else_means_no_history_not_a_crash(answer: Any, status: int) -> None:
    server = await serve(answer, status)
    history = PrometheusHistory(str(server.make_url("")), 3600, 15, rate=100)
    assert await history.fetch({"__name__": "up", "job": "x"}, before_ms=200_000) is None
    await history.close()
    await server.close()


async def test_prometheus_down_means_no_history() -> None:
    history = PrometheusHistory("http://127.0.0.1:9", 3600, 15, rate=100, timeout=1)
    assert await history.fetch({"__name__": "up", "job": "x"}, before_ms=200_000) is None
    assert history.failures == 1
    await history.close()
