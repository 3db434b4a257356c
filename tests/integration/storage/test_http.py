from __future__ import annotations

import time

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from aidevops.auth import Authenticator
from stream.api.app import create_api_app
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


async def test_reads_need_credentials_and_a_tenant_token_reads_its_tenant_only(
    storage: Storage,
) -> None:
    pts = [ScorePoint(T0 + 1000 * i, float(i), 0.5, 0) for i in range(3)]
    for tenant in ("team-a", "team-b"):
        labels = {"__name__": "secret_revenue_eur", "customer": "acme-corp"}
        storage.scores.merge([BucketUpdate(SeriesKey(tenant, 0xAB), labels, T0, pts)])
    auth = Authenticator(SecretStr("operator"), tenant_tokens={"team-a": SecretStr("token-a")})
    app = create_api_app(storage, auth)
    url = "/api/v1/series/00000000000000ab/scores"
    params = {"since": str(T0), "until": str(T0 + 5000)}
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/healthz")).status == 200
        anonymous = await client.get(url, params={**params, "tenant": "team-a"})
        assert anonymous.status == 401
        assert "secret_revenue_eur" not in await anonymous.text()
        as_a = {"Authorization": "Bearer token-a"}
        own = await client.get(url, params=params, headers=as_a)
        assert own.status == 200
        assert (await own.json())["tenant"] == "team-a"
        other = await client.get(url, params={**params, "tenant": "team-b"}, headers=as_a)
        assert other.status == 403
        assert "acme-corp" not in await other.text()
        via_header = await client.get(
            url, params=params, headers={**as_a, "X-Scope-OrgID": "team-b"}
        )
        assert via_header.status == 403
        operator = {"Authorization": "Bearer operator"}
        any_tenant = await client.get(url, params={**params, "tenant": "team-b"}, headers=operator)
        assert any_tenant.status == 200
        assert len((await any_tenant.json())["points"]) == 3
