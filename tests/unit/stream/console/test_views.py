"""The console's handlers through aiohttp's test client, on moto's in-process DynamoDB."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from moto import mock_aws
from pydantic import SecretStr

from aidevops.auth import Authenticator
from aidevops.pb import scores_pb2
from stream.api.app import create_api_app
from stream.console.app import add_console
from stream.console.live import LiveBoard
from stream.storage.codec import ScorePoint
from stream.storage.recipients import Recipient
from stream.storage.scores import BucketUpdate, SeriesKey
from stream.storage.settings import StorageSettings
from stream.storage.store import Storage

AUTH = Authenticator(
    SecretStr("op-token"),
    tenant_tokens={"team-a": SecretStr("token-a"), "team-b": SecretStr("token-b")},
)
NOW = int(time.time() * 1000)


class RecordingTester:
    def __init__(self) -> None:
        self.sent: list[Recipient] = []

    async def __call__(self, recipient: Recipient) -> str | None:
        self.sent.append(recipient)
        return None


def batch(tenant: str, series_id: int, name: str, score: float) -> scores_pb2.ScoreBatch:
    out = scores_pb2.ScoreBatch(tenant=tenant, series_id=series_id)
    out.labels.add(name="__name__", value=name)
    out.labels.add(name="instance", value="h1:9100")
    out.labels.add(name="job", value="node")
    for i in range(20):
        out.points.add(timestamp=NOW - (20 - i) * 1000, value=float(i), score=score, flags=0)
    return out


@pytest.fixture
def storage() -> Iterator[Storage]:
    with mock_aws():
        settings = StorageSettings(
            dynamodb_region="us-east-1",
            dynamodb_access_key_id="x",
            dynamodb_secret_access_key="x",  # type: ignore[arg-type]
            dynamodb_table_prefix="unit",
        )
        opened = Storage.from_settings(settings)
        yield opened
        opened.close()


@pytest.fixture
def board() -> LiveBoard:
    live = LiveBoard()
    live.add(batch("team-a", 0xA1, "a_only_metric", 0.9))
    live.add(batch("team-b", 0xB1, "b_private_metric", 0.95))
    live.connected = True
    return live


@pytest.fixture
def tester() -> RecordingTester:
    return RecordingTester()


@pytest.fixture
async def client(
    storage: Storage, board: LiveBoard, tester: RecordingTester
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application()
    add_console(app, storage, AUTH, board=board, tester=tester, secure_cookie=False)
    async with TestClient(TestServer(app)) as running:
        yield running


def origin(client: TestClient[web.Request, web.Application]) -> dict[str, str]:
    return {"Origin": str(client.make_url("")).rstrip("/")}


async def log_in(client: TestClient[web.Request, web.Application], token: str) -> str:
    """Log in with ``token``; the CSRF token of the session."""
    resp = await client.post(
        "/console/login", data={"token": token}, headers=origin(client), allow_redirects=False
    )
    assert resp.status == 303, await resp.text()
    page = await (await client.get("/console/config")).text()
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    return found.group(1)


async def test_without_a_login_nothing_is_shown(
    client: TestClient[web.Request, web.Application],
) -> None:
    for path in ("/console/now", "/console/alerts", "/console/config", "/console/series/a1"):
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"] == "/console/login"
    resp = await client.get("/console/now.json")
    assert resp.status == 401
    assert "metric" not in await resp.text()
    wrong = await client.post("/console/login", data={"token": "nope"}, headers=origin(client))
    assert wrong.status == 401
    assert "wrong credentials" in await wrong.text()


async def test_the_api_app_serves_the_console_behind_the_same_credentials(
    storage: Storage,
) -> None:
    app = create_api_app(storage, AUTH)
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/console/now.json")).status == 401
        assert (await client.get("/api/v1/series/ab/scores")).status == 401
        resp = await client.post(
            "/console/login",
            data={"token": "op-token"},
            headers=origin(client),
            allow_redirects=False,
        )
        assert resp.status == 303
        cookie = resp.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie
        assert "op-token" not in cookie


async def test_login_from_another_origin_is_refused(
    client: TestClient[web.Request, web.Application],
) -> None:
    resp = await client.post(
        "/console/login", data={"token": "op-token"}, headers={"Origin": "https://evil.example"}
    )
    assert resp.status == 403


async def test_a_tenant_sees_its_own_series_only(
    client: TestClient[web.Request, web.Application],
) -> None:
    await log_in(client, "token-a")
    body = await (await client.get("/console/now.json")).json()
    names = [s["name"] for g in body["groups"] for s in g["series"]]
    assert names == ["a_only_metric"]
    page = await (await client.get("/console/now")).text()
    assert "a_only_metric" in page and "b_private_metric" not in page
    assert (await client.get("/console/now.json", params={"tenant": "team-b"})).status == 403
    other = await client.get("/console/series/00000000000000b1", params={"tenant": "team-b"})
    assert other.status == 403 and "b_private_metric" not in await other.text()
    # the series id of another tenant under one's own tenant is simply not there
    assert (await client.get("/console/series/00000000000000b1")).status == 404
    assert (await client.get("/console/config", params={"tenant": "team-b"})).status == 403
    assert (await client.get("/console/alerts", params={"tenant": "team-b"})).status == 403


async def test_the_operator_sees_every_tenant_and_filters(
    client: TestClient[web.Request, web.Application],
) -> None:
    await log_in(client, "op-token")
    body = await (await client.get("/console/now.json")).json()
    assert [g["target"] for g in body["groups"]] == ["team-b node/h1:9100", "team-a node/h1:9100"]
    only_b = await (await client.get("/console/now.json", params={"tenant": "team-b"})).json()
    assert [s["name"] for g in only_b["groups"] for s in g["series"]] == ["b_private_metric"]
    above = await client.get("/console/now.json", params={"min_score": "0.92"})
    assert len((await above.json())["groups"]) == 1
    matched = await client.get("/console/now.json", params={"match": '__name__=~"a_.*"'})
    assert [g["target"] for g in (await matched.json())["groups"]] == ["team-a node/h1:9100"]
    bad = await client.get("/console/now.json", params={"match": "job=node"})
    assert bad.status == 400 and "bad label selector" in (await bad.json())["error"]


async def test_the_series_page_has_the_chart_data(
    client: TestClient[web.Request, web.Application], storage: Storage
) -> None:
    start = NOW - NOW % 3_600_000 - 3_600_000
    points = [ScorePoint(start + i * 1000, 5.0, 0.01, 0) for i in range(30)]
    storage.scores.merge(
        [BucketUpdate(SeriesKey("team-a", 0xA1), {"__name__": "a_only_metric"}, start, points)]
    )
    await log_in(client, "token-a")
    page = await client.get("/console/series/00000000000000a1", params={"since": "-3h"})
    text = await page.text()
    assert page.status == 200
    assert "50 points (30 stored, 20 live)" in text
    assert 'id="chart-data"' in text and "uPlot.iife.min.js" in text
    raw = await (await client.get("/console/series/00000000000000a1/raw.json")).json()
    assert len(raw["points"]) == 20 and raw["labels"]["job"] == "node"


async def test_forms_need_the_session_token_and_the_same_origin(
    client: TestClient[web.Request, web.Application], storage: Storage
) -> None:
    csrf = await log_in(client, "token-a")
    route = {
        "tenant": "team-a",
        "channel": "webhook",
        "destination": "https://hooks.example/alerts",
        "matchers": 'job="node"',
    }
    no_token = await client.post("/console/config/routes", data=route, headers=origin(client))
    assert no_token.status == 403
    wrong = await client.post(
        "/console/config/routes", data={**route, "csrf": "x" + csrf}, headers=origin(client)
    )
    assert wrong.status == 403
    elsewhere = await client.post(
        "/console/config/routes",
        data={**route, "csrf": csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert elsewhere.status == 403
    assert storage.configs.list("team-a") == []
    ok = await client.post(
        "/console/config/routes", data={**route, "csrf": csrf}, headers=origin(client)
    )
    assert ok.status == 200, await ok.text()
    (stored,) = storage.configs.list("team-a")
    assert stored.chat_id == "https://hooks.example/alerts"
    assert [str(m) for m in stored.matchers] == ['job="node"']


async def test_invalid_input_is_explained_and_changes_nothing(
    client: TestClient[web.Request, web.Application], storage: Storage
) -> None:
    csrf = await log_in(client, "op-token")
    base = {"csrf": csrf, "tenant": "acme", "channel": "webhook"}
    bad_matcher = await client.post(
        "/console/config/routes",
        data={**base, "destination": "https://h.example/x", "matchers": "job=node"},
        headers=origin(client),
    )
    assert bad_matcher.status == 400
    assert "bad label selector" in await bad_matcher.text()
    in_clear = await client.post(
        "/console/config/routes",
        data={**base, "channel": "slack", "destination": "", "secret_ref": "xoxb-1-2-s3cr3t"},
        headers=origin(client),
    )
    text = await in_clear.text()
    assert in_clear.status == 400
    assert "secret not by reference" in text and "s3cr3t" not in text
    creds = await client.post(
        "/console/config/routes",
        data={**base, "destination": "https://u:pa55word@h.example/x"},
        headers=origin(client),
    )
    assert creds.status == 400 and "pa55word" not in await creds.text()
    assert storage.configs.list("acme") == []


async def test_edit_test_and_delete_a_route(
    client: TestClient[web.Request, web.Application], storage: Storage, tester: RecordingTester
) -> None:
    csrf = await log_in(client, "op-token")
    old = storage.configs.add("acme", "https://h.example/a", [], channel="webhook")
    editing = await client.get("/console/config", params={"tenant": "acme", "edit": old.route_id})
    page = await editing.text()
    assert 'value="https://h.example/a"' in page
    saved = await client.post(
        "/console/config/routes",
        data={
            "csrf": csrf,
            "tenant": "acme",
            "channel": "webhook",
            "destination": "https://h.example/b",
            "secret_ref": "env:HOOK_TOKEN",
            "replaces": old.route_id,
        },
        headers=origin(client),
    )
    assert saved.status == 200 and "updated" in await saved.text()
    (new,) = storage.configs.list("acme")
    assert new.chat_id == "https://h.example/b" and new.secret_ref == "env:HOOK_TOKEN"
    tested = await client.post(
        f"/console/config/routes/{new.route_id}/test",
        data={"csrf": csrf, "tenant": "acme"},
        headers=origin(client),
    )
    assert tested.status == 200 and "test message accepted" in await tested.text()
    assert [r.chat_id for r in tester.sent] == ["https://h.example/b"]
    gone = await client.post(
        f"/console/config/routes/{new.route_id}/delete",
        data={"csrf": csrf, "tenant": "acme"},
        headers=origin(client),
    )
    assert gone.status == 200 and storage.configs.list("acme") == []


async def test_without_credentials_configured_the_console_needs_no_login(
    storage: Storage, board: LiveBoard
) -> None:
    app = web.Application()
    add_console(app, storage, Authenticator(), board=board, secure_cookie=False)
    async with TestClient(TestServer(app)) as client:
        body = await (await client.get("/console/now.json")).json()
        assert len(body["groups"]) == 2
        page = await (await client.get("/console/config", params={"tenant": "acme"})).text()
        found = re.search(r'name="csrf" value="([^"]+)"', page)
        assert found
        # the session opened for the page still guards its forms
        refused = await client.post(
            "/console/config/routes",
            data={"tenant": "acme", "channel": "telegram", "destination": "-100"},
            headers=origin(client),
        )
        assert refused.status == 403
        created = await client.post(
            "/console/config/routes",
            data={
                "csrf": found.group(1),
                "tenant": "acme",
                "channel": "telegram",
                "destination": "-100",
            },
            headers=origin(client),
        )
        assert created.status == 200
        assert [r.chat_id for r in storage.configs.list("acme")] == ["-100"]


async def test_logging_out_ends_the_session(
    client: TestClient[web.Request, web.Application],
) -> None:
    csrf = await log_in(client, "token-a")
    out = await client.post(
        "/console/logout", data={"csrf": csrf}, headers=origin(client), allow_redirects=False
    )
    assert out.status == 303 and out.headers["Location"] == "/console/login"
    assert (await client.get("/console/now.json")).status == 401


async def test_controls_are_made_checked_and_deleted_per_tenant(
    client: TestClient[web.Request, web.Application], storage: Storage
) -> None:
    csrf = await log_in(client, "token-a")
    form = {"csrf": csrf, "tenant": "team-a", "matchers": 'job="batch"'}
    too_high = await client.post(
        "/console/config/controls", data={**form, "threshold": "1.5"}, headers=origin(client)
    )
    assert too_high.status == 400 and "must be in (0, 1]" in await too_high.text()
    nothing = await client.post("/console/config/controls", data=form, headers=origin(client))
    assert nothing.status == 400 and "sets a threshold, a mute or an exclusion" in (
        await nothing.text()
    )
    past = await client.post(
        "/console/config/controls",
        data={**form, "mute": "2020-01-01T00:00:00Z"},
        headers=origin(client),
    )
    assert past.status == 400 and "must end in the future" in await past.text()
    assert storage.controls.list("team-a") == []
    other = await client.post(
        "/console/config/controls",
        data={**form, "tenant": "team-b", "threshold": "0.7"},
        headers=origin(client),
    )
    assert other.status == 403 and storage.controls.list("team-b") == []

    saved = await client.post(
        "/console/config/controls",
        data={**form, "threshold": "0.7", "mute": "2h"},
        headers=origin(client),
    )
    assert saved.status == 200, await saved.text()
    (control,) = storage.controls.list("team-a")
    assert control.threshold == 0.7 and [str(m) for m in control.matchers] == ['job="batch"']
    assert control.mute_until is not None
    assert 7_100_000 < control.mute_until - time.time() * 1000 <= 7_200_000
    assert control.control_id in await saved.text()
    gone = await client.post(
        f"/console/config/controls/{control.control_id.replace('#', '%23')}/delete",
        data={"csrf": csrf, "tenant": "team-a"},
        headers=origin(client),
    )
    assert gone.status == 200 and storage.controls.list("team-a") == []
