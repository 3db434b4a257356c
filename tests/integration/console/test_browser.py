"""The console in headless Chromium against the real pipeline.

A real Prometheus (Debian's 2.42) scrapes two stand-in targets that the test controls (job
``app``, every second) and remote-writes to the real receiver, which publishes to the
``samples`` topic; from there a real ``aidevops worker`` and ``aidevops sink`` process, the
notifier's consumer (in this process) and DynamoDB Local. The anomaly is an outage: the test
stops a target, Prometheus writes ``up == 0`` for it, and the worker alerts at once.
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
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, expect

from cli.local.broker import LocalBroker
from cli.local.process import free_port
from cli.local.prometheus import LocalPrometheus
from receiver.app import create_app
from receiver.settings import ReceiverSettings
from stream.notifier.console import ConsoleNotifier
from stream.notifier.outputs import open_outputs
from stream.notifier.runner import run_notifier
from stream.notifier.sent_log import InMemorySentLog
from stream.storage.store import Storage
from tests.integration.console.conftest import TENANT_TOKENS, Console, log_in
from tests.integration.stream.conftest import PARTITIONS, Topics, WorkerProcess
from tests.support.exporter import Exporter
from tests.support.http_standin import HttpStandin
from tests.support.service_standins import webhook_standin

pytestmark = pytest.mark.integration

JOB = "app"


async def eventually(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
async def targets(
    console: Console, broker: LocalBroker, tmp_path: Path
) -> AsyncIterator[list[Exporter]]:
    """Two stand-in targets of job ``app``, scraped every second by a real Prometheus that
    remote-writes to a real receiver publishing to the console's ``samples`` topic."""
    exporters = [Exporter(), Exporter()]
    receiver = TestServer(
        create_app(
            ReceiverSettings(
                kafka_bootstrap_servers=broker.bootstrap_servers,
                samples_topic=console.settings.samples_topic,
                samples_partitions=PARTITIONS,
            )
        ),
        host="127.0.0.1",
        port=free_port(),
    )
    listed = ", ".join(f'"{e.target}"' for e in exporters)
    config = f"""
global: {{scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: {JOB}
    static_configs: [{{targets: [{listed}]}}]
remote_write:
  - url: http://127.0.0.1:{receiver.port}/api/v1/write
    queue_config: {{batch_send_deadline: 500ms, min_backoff: 100ms, max_backoff: 1s}}
"""
    prometheus = LocalPrometheus(config, tmp_path / "prometheus")
    try:
        for exporter in exporters:
            await exporter.start()
        await receiver.start_server()
        await asyncio.to_thread(prometheus.start)
        yield exporters
    finally:
        await asyncio.to_thread(prometheus.stop)
        await receiver.close()
        for exporter in exporters:
            await exporter.close()


def alerted_instances(hook: HttpStandin) -> list[str]:
    """The ``instance`` label of every alert the webhook stand-in accepted."""
    return [
        alert["labels"].get("instance", "")
        for request in hook.accepted("/hook")
        if isinstance(request.body, dict)
        for alert in request.body.get("alerts", [])
    ]


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
    """The notifier's consumer, running throughout. It has a store of its own, as an
    ``aidevops notify`` process has, so a route made in the console reaches it through
    DynamoDB. It reads routes afresh for each alert: which alert is the next one after a
    change then does not hang on the routes cache's timing (tested on its own)."""
    s = console.settings.model_copy(update={"routes_cache_seconds": 0.0})
    stop = asyncio.Event()
    sent_log = InMemorySentLog()
    storage = await asyncio.to_thread(Storage.from_settings, s)

    async def run() -> None:
        async with open_outputs(s, sent_log, os.environ, clock=time.time) as outputs:
            await run_notifier(
                s.kafka_bootstrap_servers,
                s.alerts_topic,
                s.notify_group_id,
                s,
                ConsoleNotifier(),
                storage.configs,
                sent_log,
                stop,
                outputs=outputs,
                deliveries=storage.deliveries,
            )

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        storage.close()


@pytest.fixture
async def hook() -> AsyncIterator[HttpStandin]:
    async with webhook_standin() as standin:
        yield standin


async def test_now_series_route_and_delivery_in_the_browser(
    console: Console,
    pipeline: list[WorkerProcess],
    notifier: None,
    hook: HttpStandin,
    targets: list[Exporter],
    page: Page,
    logs_dir: Path,
) -> None:
    first, second = targets
    up = page.locator("#groups tr", has_text=f'up{{instance="{first.target}", job="{JOB}"}}')

    # Prometheus' up of the first target reaches the Now page, which refreshes itself.
    await log_in(page, console)
    await expect(up).to_contain_text("0.0000", timeout=90_000)
    await expect(page.locator("#status")).to_contain_text("(last ")  # written by now.js

    # The target goes down: Prometheus writes up == 0, an outage, scored 1.0 at once.
    await first.close()
    await expect(up).to_contain_text("1.0000", timeout=60_000)
    await expect(up).to_contain_text("target down")
    await page.screenshot(path=logs_dir / "console-now.png", full_page=True)

    # The series page draws both charts: up was 1 while scraped, then 0.
    await up.locator("a").click()
    await page.wait_for_url("**/console/series/*")
    await expect(page.locator("body")).to_have_attribute("data-charts", "2")
    assert await page.locator("canvas").count() == 2
    drawn = await page.evaluate(
        """() => [...document.querySelectorAll('canvas')].map(c => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
            return n; })"""
    )
    assert all(n > 1000 for n in drawn), drawn
    values = await page.evaluate(
        "JSON.parse(document.getElementById('chart-data').textContent).value"
    )
    assert values[-1] == 0 and 1 in values, values
    await expect(page.locator("#state")).to_contain_text("target down")
    await page.screenshot(path=logs_dir / "console-series.png", full_page=True)

    # A route made in the page, while the notifier runs, gets the next alert.
    await page.click("text=Alert configuration")
    await page.select_option("select[name=channel]", "webhook")
    await page.fill("input[name=destination]", f"{hook.url}/hook")
    await page.fill("input[name=matchers]", f'job="{JOB}"')
    await page.click("#route-form button[type=submit]")
    await expect(page.locator("p.ok")).to_contain_text("created")
    await expect(page.locator("#routes")).to_contain_text(f"{hook.url}/hook")
    await page.click("#routes >> text=Send test")
    await expect(page.locator("p.ok")).to_contain_text("test message accepted")
    assert len(hook.accepted("/hook")) == 1

    await second.close()
    await eventually(
        lambda: second.target in alerted_instances(hook), "the webhook to get the alert", 90
    )
    # the first target's alert fired before the route existed: it was not sent there
    assert first.target not in alerted_instances(hook)

    # The alert history shows it, with its delivery to the route.
    delivered = page.locator("#alerts tr", has_text=f'instance="{second.target}"')
    for _ in range(60):
        await page.goto(f"{console.url}/console/alerts?state=FIRING")
        if await delivered.count() and "sent" in await delivered.first.inner_text():
            break
        await asyncio.sleep(1)
    await expect(delivered.first).to_contain_text(f"webhook → webhook:{hook.url}/hook: sent")
    await page.screenshot(path=logs_dir / "console-alerts.png", full_page=True)

    # The route is edited in the page (one route, with the new destination)...
    await page.click("text=Alert configuration")
    await page.screenshot(path=logs_dir / "console-config.png", full_page=True)
    await page.click("#routes >> text=Edit")
    await expect(page.locator("#route-form button[type=submit]")).to_have_text("Save")
    await expect(page.locator("#route-form input[name=matchers]")).to_have_value(f'job="{JOB}"')
    await page.fill("#route-form input[name=destination]", f"{hook.url}/hook/edited")
    await page.click("#route-form button[type=submit]")
    await expect(page.locator("p.ok")).to_contain_text("updated")
    await expect(page.locator("#routes tbody tr")).to_have_count(1)
    await expect(page.locator("#routes")).to_contain_text(f"{hook.url}/hook/edited")
    [route] = console.storage.configs.list("default")
    assert route.chat_id == f"{hook.url}/hook/edited"
    assert [str(m) for m in route.matchers] == [f'job="{JOB}"']

    # ...and deleted.
    await page.click("#routes >> text=Delete")
    await expect(page.locator("p.ok")).to_contain_text("deleted")
    await expect(page.locator("#routes")).to_contain_text("No route")
    assert console.storage.configs.list("default") == []


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
