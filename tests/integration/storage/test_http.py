from __future__ import annotations

import time

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from stream.api.routes import add_routes
from stream.storage.codec import ScorePoint
from stream.storage.scores import BucketUpdate, SeriesKey
from stream.storage.store import Storage, format_scores

pytestmark = pytest.mark.integration
T0 = (int(time.time() * 1000) // 3_600_000 - 6) * 3_600_000


async def test_scores_endpoint_returns_json(storage: Storage) -> None:
    pts = [ScorePoint(T0 + 1000 * i, float(i), 0.5, 0) for i in range(10)]
    storage.scores.merge([BucketUpdate(SeriesKey("default", 0xFF), {"job": "x"}, T0, pts)])
    app = web.Application()
    add_routes(app, storage)
    async with TestClient(TestServer(app)) as client:
        resp = await client.get(
            "/api/v1/series/00000000000000ff/scores",
            params={"since": str(T0), "until": str(T0 + 5000)},
        )
        assert resp.status == 200
        body = await resp.json()
        assert [p["value"] for p in body["points"]] == [0.0, 1.0, 2.0, 3.0, 4.0]
        assert body["labels"] == {"job": "x"}
        assert "5 points" in format_scores(body)
        bad = await client.get("/api/v1/series/zz/scores")
        assert bad.status == 400
