"""The console in headless Chromium against the real pipeline's parts.

The samples go into the ``samples`` topic as the receiver writes them (the receiver's own
path is tested in ``tests/integration/receiver``; a real Prometheus in
``test_end_to_end.py``), and from there through a real ``aidevops worker`` and
``aidevops sink`` process, the notifier's consumer (in this process) and DynamoDB Local.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from aidevops.kafka.producer import BatchProducer
from aidevops.pb import remote_write_v1_pb2, samples_pb2
from cli.local.broker import LocalBroker
from stream.notifier.console import ConsoleNotifier
from stream.notifier.outputs import open_outputs
from stream.notifier.runner import run_notifier
from stream.notifier.sent_log import InMemorySentLog
from tests.integration.console.conftest import TENANT_TOKENS, Console, log_in
from tests.integration.stream.conftest import Topics, WorkerProcess
from tests.support.http_standin import HttpStandin
from tests.support.service_standins import webhook_standin

pytestmark = pytest.mark.integration

STEP = 15_000


def up_samples(series_id: int, instance: str, values: list[float], end: int) -> bytes:
    """``up{job="node", instance=...}`` as the receiver writes it, the last value at ``end``."""
    batch = samples_pb2.SeriesBatch(
        schema_version=1,
        tenant="default",
        series_id=series_id,
        metric_type=samples_pb2.METRIC_TYPE_GAUGE,
        labels=[
            remote_write_v1_pb2.Label(name="__name__", value="up"),
            remote_write_v1_pb2.Label(name="instance", value=instance),
            remote_write_v1_pb2.Label(name="job", value="node"),
        ],
    )
    for i, value in enumerate(values):
        batch.samples.add(value=value, timestamp=end - (len(values) - 1 - i) * STEP)
    return batch.SerializeToString()


async def eventually(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def pipeline(
    console: Console, broker: LocalBroker, logs_dir: Path
) -> Iterator[list[WorkerProcess]]:
    """A real worker and sink on the console's topics and tables."""
    s = console.settings
    topics = Topics(
        s.samples_topic, s.scores_topic, s.alerts_topic, f"{s.scores_topic}-ckpt", s.scores_topic
    )
    worker = WorkerProcess(broker, topics, logs_dir).start()
    sink_env = {
        **os.environ,
        "AIDEVOPS_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "AIDEVOPS_SCORES_TOPIC": s.scores_topic,
        "AIDEVOPS_ALERTS_TOPIC": s.alerts_topic,
        "AIDEVOPS_SINK_GROUP_ID": f"{s.scores_topic}-sink",
        "AIDEVOPS_SINK_COMMIT_INTERVAL_SECONDS": "0.5",
        "AIDEVOPS_DYNAMODB_ENDPOINT_URL": s.dynamodb_endpoint_url or "",
        "AIDEVOPS_DYNAMODB_TABLE_PREFIX": s.dynamodb_table_prefix,
        "AIDEVOPS_DYNAMODB_ACCESS_KEY_ID": "local",
        "AIDEVOPS_DYNAMODB_SECRET_ACCESS_KEY": "local",
    }
    with (logs_dir / "console-sink.log").open("ab") as log:
        sink = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "sink"],
            env=sink_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield [worker]
    finally:
        sink.terminate()
        try:
            sink.wait(20)
        except subprocess.TimeoutExpired:
            sink.kill()
            sink.wait(10)
        worker.stop()


@pytest.fixture
async def notifier(console: Console) -> AsyncIterator[None]:
    """The notifier's consumer, routes from the console's table, running throughout."""
    s = console.settings
    stop = asyncio.Event()
    sent_log = InMemorySentLog()

    async def run() -> None:
        async with open_outputs(s, sent_log, os.environ, clock=time.time) as outputs:
            await run_notifier(
                s.kafka_bootstrap_servers,
                s.alerts_topic,
                s.notify_group_id,
                s,
                ConsoleNotifier(),
                console.storage.configs,
                sent_log,
                stop,
                outputs=outputs,
                deliveries=console.storage.deliveries,
            )

    task = asyncio.create_task(run())
    yield
    stop.set()
    await asyncio.wait_for(task, 20)


@pytest.fixture
async def hook() -> AsyncIterator[HttpStandin]:
    async with webhook_standin() as standin:
        yield standin


async def test_now_series_route_and_delivery_in_the_browser(
    console: Console,
    pipeline: list[WorkerProcess],
    notifier: None,
    hook: HttpStandin,
    broker: LocalBroker,
    page: Page,
    logs_dir: Path,
) -> None:
    now = int(time.time() * 1000)
    producer = BatchProducer(broker.bootstrap_servers, 10.0, "console-test")
    await producer.start()
    await asyncio.wait_for(producer.connected.wait(), 20)
    try:
        # A target goes down: up == 0 is an outage, scored 1.0 at once, and fires an alert.
        first = up_samples(0xC1, "h1:9100", [1.0] * 20 + [0.0], now - 60_000)
        await producer.send(console.settings.samples_topic, [(0xC1, (0xC1).to_bytes(8), first)])

        await log_in(page, console)
        row = page.locator("#groups tr", has_text='instance="h1:9100"')
        # the page refreshes itself from now.json: no reload
        await expect(row).to_contain_text("1.0000", timeout=90_000)
        await expect(row).to_contain_text("target down")
        await expect(page.locator("#status")).to_contain_text("(last ")  # written by now.js
        await page.screenshot(path=logs_dir / "console-now.png", full_page=True)

        # The series page draws both charts, with data on them.
        await row.locator("a").click()
        await page.wait_for_url("**/console/series/00000000000000c1*")
        await expect(page.locator("body")).to_have_attribute("data-charts", "2")
        assert await page.locator("canvas").count() == 2
        drawn = await page.evaluate(
            """() => [...document.querySelectorAll('canvas')].map(c => {
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
                return n; })"""
        )
        assert all(n > 1000 for n in drawn), drawn
        points = await page.evaluate(
            "JSON.parse(document.getElementById('chart-data').textContent).t.length"
        )
        assert points == 21
        await expect(page.locator("#state")).to_contain_text("target down")
        await page.screenshot(path=logs_dir / "console-series.png", full_page=True)

        # A route made in the page, while the notifier runs, gets the next alert.
        await page.click("text=Alert configuration")
        await page.select_option("select[name=channel]", "webhook")
        await page.fill("input[name=destination]", f"{hook.url}/hook")
        await page.fill("input[name=matchers]", 'job="node"')
        await page.click("#route-form button[type=submit]")
        await expect(page.locator("p.ok")).to_contain_text("created")
        await expect(page.locator("#routes")).to_contain_text(f"{hook.url}/hook")
        await page.click("#routes >> text=Send test")
        await expect(page.locator("p.ok")).to_contain_text("test message accepted")
        tests = len(hook.accepted("/hook"))
        assert tests == 1

        second = up_samples(0xC2, "h2:9100", [1.0] * 20 + [0.0], now - 30_000)
        await producer.send(console.settings.samples_topic, [(0xC2, (0xC2).to_bytes(8), second)])
        await eventually(
            lambda: any(b"h2:9100" in r.raw for r in hook.accepted("/hook")),
            "the webhook to get the alert",
            timeout=90,
        )
        # the first alert fired before the route existed: it was not sent there
        assert not any(b"h1:9100" in r.raw for r in hook.accepted("/hook"))

        # The alert history shows it, with its delivery to the route.
        delivered = page.locator("#alerts tr", has_text='instance="h2:9100"')
        for _ in range(60):
            await page.goto(f"{console.url}/console/alerts?state=FIRING")
            if await delivered.count() and "sent" in await delivered.first.inner_text():
                break
            await asyncio.sleep(1)
        await expect(delivered.first).to_contain_text(f"webhook → webhook:{hook.url}/hook: sent")
        await page.screenshot(path=logs_dir / "console-alerts.png", full_page=True)
        await page.click("text=Alert configuration")
        await page.screenshot(path=logs_dir / "console-config.png", full_page=True)
    finally:
        await producer.stop()


async def test_nothing_without_a_login_and_bad_input_changes_nothing(
    console: Console, page: Page
) -> None:
    # Unauthenticated: every page is the login form, the JSON a 401, the API a 401.
    for path in ("/console/now", "/console/config", "/console/alerts"):
        await page.goto(console.url + path)
        assert page.url.endswith("/console/login")
        await expect(page.locator("main")).not_to_contain_text("route")
    answer = await page.request.get(console.url + "/console/now.json")
    assert answer.status == 401
    await page.fill("input[name=token]", "not-a-token")
    await page.click("button[type=submit]")
    await expect(page.locator("p.error")).to_have_text("wrong credentials")

    # A tenant's login: its own configuration; an invalid matcher is refused and explained.
    await log_in(page, console, TENANT_TOKENS["team-a"])
    cookie = next(c for c in await page.context.cookies() if c["name"] == "aidevops_console")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
    await page.goto(console.url + "/console/config")
    await expect(page.locator("h1")).to_have_text("Alert configuration of tenant team-a")
    await page.fill("input[name=destination]", "https://hooks.example/alerts")
    await page.fill("input[name=matchers]", "job=node")
    await page.click("#route-form button[type=submit]")
    await expect(page.locator("p.error")).to_contain_text("bad label selector")
    await page.select_option("select[name=channel]", "slack")
    await page.fill("input[name=secret_ref]", "xoxb-123-456-s3cr3tvalue")
    await page.fill("input[name=matchers]", "")
    await page.click("#route-form button[type=submit]")
    await expect(page.locator("p.error")).to_contain_text("secret not by reference")
    assert "s3cr3tvalue" not in await page.content()
    assert console.storage.configs.list("team-a") == []
    # a control: an out-of-range threshold is refused, a good one saved and listed
    await page.fill("#control-form input[name=matchers]", 'job="batch"')
    await page.fill("#control-form input[name=threshold]", "1.5")
    await page.click("#control-form button[type=submit]")
    await expect(page.locator("p.error")).to_contain_text("threshold 1.5 must be in (0, 1]")
    assert console.storage.controls.list("team-a") == []
    await page.fill("#control-form input[name=threshold]", "0.7")
    await page.click("#control-form button[type=submit]")
    await expect(page.locator("#control-list")).to_contain_text('job="batch"')
    assert [c.threshold for c in console.storage.controls.list("team-a")] == [0.7]
    # another tenant's configuration is refused
    other = await page.goto(console.url + "/console/config?tenant=team-b")
    assert other is not None and other.status == 403
