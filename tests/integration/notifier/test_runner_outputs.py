"""The notifier process end to end: Kafka ``alerts`` → every output, and a restart.

Alert events are produced to a real broker; ``run_notifier`` consumes them with the
outputs ``aidevops notify`` opens (:func:`~stream.notifier.outputs.open_outputs`) and
delivers to a real Alertmanager (every tenant, ``AIDEVOPS_ALERTMANAGER_URLS``), PagerDuty
and a webhook (routes). The process is then killed before it commits and restarted: it
replays the topic and sends nothing twice.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiokafka import AIOKafkaProducer

from aidevops.kafka.topics import ensure_topics
from aidevops.pb import alerts_pb2
from cli.local.broker import LocalBroker
from stream.notifier.console import ConsoleNotifier
from stream.notifier.outputs import open_outputs
from stream.notifier.runner import run_notifier
from stream.notifier.sent_log import FileSentLog
from stream.notifier.settings import NotifierSettings
from stream.storage.recipients import InMemoryRecipients, Route
from tests.integration.notifier.test_channels import PD_KEY, alert
from tests.support.alertmanager import BINARY, LocalAlertmanager
from tests.support.http_standin import HttpStandin, Reply
from tests.support.service_standins import pagerduty_standin, webhook_standin

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(BINARY is None, reason="prometheus-alertmanager not installed"),
]

_topics = itertools.count()


async def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.1)


async def test_kafka_alerts_reach_every_output_and_a_restart_repeats_none(
    broker: LocalBroker, tmp_path: Path
) -> None:
    topic = f"alerts-outputs-{next(_topics)}-{int(time.time())}"
    await ensure_topics(broker.bootstrap_servers, {topic: 1})
    now_ms = int(time.time() * 1000)
    firing = alert("node_load1", at=now_ms - 120_000)
    resolved = alert("node_load1", alerts_pb2.ALERT_STATE_RESOLVED, at=now_ms - 120_000)
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(topic, firing.SerializeToString(), key=b"k")
    finally:
        await producer.stop()

    async def ok(request: web.Request, body: object) -> Reply:
        return Reply(200, "")

    async with (
        pagerduty_standin({PD_KEY}) as pagerduty,
        webhook_standin() as hook,
        HttpStandin() as am_hook,
    ):
        am_hook.route("/am", ok)
        with LocalAlertmanager(tmp_path / "am", am_hook.url + "/am") as am:
            settings = NotifierSettings(
                kafka_bootstrap_servers=broker.bootstrap_servers,
                alerts_topic=topic,
                alert_group_wait_seconds=0.0,
                alertmanager_urls=am.url,
                alertmanager_state_path=tmp_path / "am-state.json",
                pagerduty_events_url=pagerduty.url + "/v2/enqueue",
                notify_group_id=f"notifier-{topic}",
            )
            routes = InMemoryRecipients(
                [
                    Route("acme", "", channel="pagerduty", secret_ref="env:PD_KEY"),
                    Route("acme", hook.url + "/hook", channel="webhook"),
                ]
            )
            environ = {"PD_KEY": PD_KEY}

            async def notifier(stop: asyncio.Event, group: str) -> None:
                sent_log = FileSentLog(tmp_path / "sent.jsonl")
                async with open_outputs(settings, sent_log, environ, clock=time.time) as outputs:
                    await run_notifier(
                        settings.kafka_bootstrap_servers,
                        topic,
                        group,
                        settings,
                        ConsoleNotifier(io.StringIO()),
                        routes,
                        sent_log,
                        stop,
                        outputs=outputs,
                    )

            stop = asyncio.Event()
            task = asyncio.create_task(notifier(stop, settings.notify_group_id))
            await until(lambda: len(am.alerts()) == 1 and len(hook.accepted()) == 1)
            await until(lambda: len(pagerduty.accepted()) == 1)
            producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
            await producer.start()
            try:
                await producer.send_and_wait(topic, resolved.SerializeToString(), key=b"k")
            finally:
                await producer.stop()
            await until(lambda: am.alerts() == [] and len(hook.accepted()) == 2)
            await until(lambda: len(pagerduty.accepted()) == 2)
            stop.set()
            await task

            # the worst replay: a consumer group that committed nothing reads the whole topic
            stop = asyncio.Event()
            task = asyncio.create_task(notifier(stop, settings.notify_group_id + "-replay"))
            await asyncio.sleep(8)
            stop.set()
            await task
            am_alerts = am.alerts()
        notified = [a["status"] for r in am_hook.received("/am") for a in r.body["alerts"]]

    assert [r.body["status"] for r in hook.accepted()] == ["firing", "resolved"]
    assert [r.body["event_action"] for r in pagerduty.accepted()] == ["trigger", "resolve"]
    assert am_alerts == []
    assert notified == ["firing", "resolved"]
