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


def _two_ranges(asked: list[dict[str, str]], weeks: Any, status: int = 200) -> web.Application:
    """Answers the recent range (15 s step) with GOOD and the weeks (5 min) with ``weeks``."""

    async def query_range(request: web.Request) -> web.Response:
        asked.append(dict(request.query))
        if request.query["step"] == "300":
            return web.json_response(weeks, status=status)
        return web.json_response(GOOD)

    app = web.Application()
    app.router.add_get("/api/v1/query_range", query_range)
    return app


@pytest.mark.parametrize("gauge", [True, False])
async def test_weeks_come_first_one_point_in_the_middle_of_each_five_minute_bin(
    gauge: bool,
) -> None:
    """The recent range starts at 100 s, in the bin [0, 300 s): the weeks are the whole bins
    before it, a day of them here, each as a point at its middle."""
    asked: list[dict[str, str]] = []
    at = [-300, 0] if gauge else [-450, -150]  # the bins' ends (means), or their middles
    answer = {"status": "success", "data": {"result": [{"values": [[at[0], "1"], [at[1], "2"]]}]}}
    server = TestServer(_two_ranges(asked, answer))
    await server.start_server()
    history = PrometheusHistory(str(server.make_url("")), 3600, 15, rate=100, rhythm_seconds=86400)
    found = await history.fetch({"__name__": "up", "job": "x"}, before_ms=130_000, gauge=gauge)
    await history.close()
    await server.close()
    assert found is not None
    assert found.timestamps == [-450_000, -150_000, 100_000, 115_000]
    assert found.rhythm_points == 2 and found.values[:3] == [1.0, 2.0, 1.5]
    recent, weeks = asked
    assert (recent["step"], recent["end"]) == ("15", "129.999")
    assert recent["query"] == '{__name__="up",job="x"}'
    if gauge:
        assert weeks["query"] == 'avg_over_time({__name__="up",job="x"}[300s])'
        assert (weeks["start"], weeks["end"]) == ("-86100.000", "0.000")
    else:
        assert weeks["query"] == recent["query"]
        assert (weeks["start"], weeks["end"]) == ("-86250.000", "-150.000")
    assert weeks["step"] == "300"


@pytest.mark.parametrize("rhythm_seconds", [0, 299, 86400])  # 299 s: not one whole bin
async def test_without_the_weeks_the_recent_range_is_still_history(rhythm_seconds: int) -> None:
    asked: list[dict[str, str]] = []
    server = TestServer(_two_ranges(asked, {"status": "error", "error": "too many points"}, 400))
    await server.start_server()
    history = PrometheusHistory(
        str(server.make_url("")), 3600, 15, rate=100, rhythm_seconds=rhythm_seconds
    )
    found = await history.fetch({"__name__": "up", "job": "x"}, before_ms=130_000)
    await history.close()
    await server.close()
    assert found is not None and found.timestamps == [100_000, 115_000]
    assert found.rhythm_points == 0
    assert len(asked) == (2 if rhythm_seconds >= 300 else 1)
