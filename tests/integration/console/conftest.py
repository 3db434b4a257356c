"""The console in a real headless Chromium (Debian's), driven by Playwright, against the API
app served on a loopback port over DynamoDB Local and the real broker."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright
from pydantic import SecretStr

from aidevops.auth import Authenticator
from aidevops.kafka.topics import ensure_topics
from cli.local.broker import LocalBroker
from cli.local.dynamodb import LocalDynamoDB
from stream.api.app import create_api_app
from stream.api.settings import ApiSettings
from stream.storage.store import Storage
from tests.support.http_standin import serve

OPERATOR_TOKEN = "op-console-token"
TENANT_TOKENS = {"team-a": "team-a-console-token"}
_names = itertools.count()

CHROMIUM = shutil.which("chromium") or shutil.which("google-chrome")


@dataclass
class Console:
    """The running API (with its console) and what it reads and writes."""

    url: str
    settings: ApiSettings
    storage: Storage


@pytest.fixture
async def console(broker: LocalBroker, dynamodb: LocalDynamoDB) -> AsyncIterator[Console]:
    n = next(_names)
    env: dict[str, Any] = {
        "kafka_bootstrap_servers": broker.bootstrap_servers,
        "scores_topic": f"c{n}-scores",
        "alerts_topic": f"c{n}-alerts",
        "samples_topic": f"c{n}-samples",
        "dynamodb_endpoint_url": dynamodb.endpoint_url,
        "dynamodb_table_prefix": f"console{n}",
        "dynamodb_access_key_id": "local",
        "dynamodb_secret_access_key": SecretStr("local"),
        "auth_bearer_token": SecretStr(OPERATOR_TOKEN),
        "tenant_tokens": {t: SecretStr(v) for t, v in TENANT_TOKENS.items()},
        "routes_cache_seconds": 1.0,
        "notify_group_id": f"c{n}-notifier",
        "alert_group_wait_seconds": 0.0,
        "channel_max_attempts": 1,
    }
    settings = ApiSettings(**env)
    await ensure_topics(
        broker.bootstrap_servers,
        {t: 4 for t in (settings.samples_topic, settings.scores_topic, settings.alerts_topic)},
    )
    storage = Storage.from_settings(settings)
    app = create_api_app(storage, Authenticator.from_settings(settings), settings)
    runner, port = await serve(app)
    try:
        yield Console(f"http://localhost:{port}", settings, storage)
    finally:
        await runner.cleanup()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if CHROMIUM is None:
        pytest.fail("no chromium or google-chrome: ./dev install installs Debian's chromium")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context()
    opened = await context.new_page()
    yield opened
    await context.close()


async def log_in(page: Page, console: Console, token: str = OPERATOR_TOKEN) -> None:
    await page.goto(f"{console.url}/console/login")
    await page.fill("input[name=token]", token)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/console/now")


__all__ = ["Console", "log_in"]
