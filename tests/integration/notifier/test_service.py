"""Scores → alert policy → notification layer → real Bot → Bot API stand-in, end to end."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable
from pathlib import Path

import pytest

from aidevops.errors import AidevopsError
from aidevops.pb import alerts_pb2
from stream.alerting.policy import AlertPolicy
from stream.alerting.series_state import SeriesState
from stream.notifier.delivery import NotificationService
from stream.notifier.dispatcher import DispatchConfig, Dispatcher
from stream.notifier.sent_log import FileSentLog, InMemorySentLog, SentKey, SentLog
from stream.notifier.telegram import TelegramNotifier
from stream.notifier.template import MessageTemplate
from stream.storage.recipients import InMemoryRecipients, Recipient, Route
from tests.integration.notifier.conftest import Sleeps
from tests.support.telegram_standin import Reply, TelegramStandin
from tests.unit.stream.alerting.scenarios import T0, batch, noisy_points
from tests.unit.stream.alerting.test_policy import MECHANISM

pytestmark = pytest.mark.integration

FIRING = alerts_pb2.ALERT_STATE_FIRING
GRAFANA = "https://grafana.example/d/aidevops?var-series={series_id}"


class Clock:
    """Manual time in seconds."""

    def __init__(self, now: float = T0 / 1000) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_service(
    notifier: TelegramNotifier,
    clock: Clock,
    *,
    routes: Iterable[Route] = (Route("acme", "-100"),),
    default_chat_id: str | None = None,
    sent_log: SentLog | None = None,
    config: DispatchConfig | None = None,
) -> NotificationService:
    return NotificationService(
        dispatcher=Dispatcher(config or DispatchConfig()),
        notifier=notifier,
        recipients=InMemoryRecipients(routes),
        sent_log=sent_log if sent_log is not None else InMemorySentLog(),
        template=MessageTemplate.load(grafana_url_template=GRAFANA),
        clock=clock,
        default_chat_id=default_chat_id,
    )


async def drive(
    service: NotificationService,
    clock: Clock,
    series: dict[int, tuple[dict[str, str], list[tuple[int, float, float, int]]]],
) -> list[alerts_pb2.AlertEvent]:
    """Score all series scrape by scrape, as the worker would, ticking the service."""
    policy = AlertPolicy(MECHANISM)
    states: dict[int, SeriesState | None] = dict.fromkeys(series)
    events: list[alerts_pb2.AlertEvent] = []
    length = max(len(points) for _, points in series.values())
    for i in range(length):
        for series_id, (labels, points) in series.items():
            result = policy.step(
                states[series_id], batch(points[i : i + 1], series_id=series_id, labels=labels)
            )
            states[series_id] = result.state
            clock.now = points[i][0] / 1000
            for event in result.events:
                events.append(event)
                await service.handle(event)
        await service.tick()
    clock.now += 3600
    await service.tick()
    return events


def node_labels(name: str, instance: str = "db-1:9100") -> dict[str, str]:
    return {"__name__": name, "job": "node", "instance": instance}


async def test_a_step_change_sends_one_firing_and_one_resolved_message(
    notifier: TelegramNotifier, standin: TelegramStandin
) -> None:
    clock = Clock()
    service = make_service(notifier, clock)
    points = noisy_points(random.Random(5), 1500, shifts=[(1000, 80, 7.0)])
    events = await drive(service, clock, {0xC0FFEE: (node_labels("node_load1"), points)})
    assert [e.state for e in events] == [FIRING, alerts_pb2.ALERT_STATE_RESOLVED]
    sent = standin.delivered()
    assert [(r.params["chat_id"], r.params["parse_mode"]) for r in sent] == [
        ("-100", "HTML"),
        ("-100", "HTML"),
    ]
    firing, resolved = (r.params["text"] for r in sent)
    assert firing.startswith("🔥 <b>FIRING</b> · anomaly · 1 series · ")
    assert "<code>acme/job=node,instance=db-1:9100</code>" in firing
    assert '<b>node_load1</b> {instance="db-1:9100", job="node"}' in firing.replace("&quot;", '"')
    assert "expected " in firing and "expected unknown" not in firing
    started = events[0].started_at
    assert f"since {_utc(started)}" in firing
    link = "https://grafana.example/d/aidevops?var-series=0000000000c0ffee"
    assert f'<a href="{link}">Grafana</a>' in firing
    assert resolved.startswith("✅ <b>RESOLVED</b> · 1 series · ")
    assert len(standin.received()) == 2  # and nothing was retried or repeated


async def test_a_host_wide_event_is_one_grouped_notification(
    notifier: TelegramNotifier, standin: TelegramStandin
) -> None:
    clock = Clock()
    service = make_service(notifier, clock, routes=[Route("acme", "-100")])
    rng = random.Random(9)
    series = {}
    for n in range(30):  # every series of db-1 leaves its range within a scrape or two
        shift = [(600 + n % 2, 200, 6.0 + n / 10)]
        series[n] = (node_labels(f"node_metric_{n}"), noisy_points(rng, 1000, shifts=shift))
    for n in range(30, 40):  # another host stays normal
        series[n] = (node_labels(f"node_metric_{n}", "web-1:9100"), noisy_points(rng, 1000))
    events = await drive(service, clock, series)
    assert {e.series_id for e in events if e.state == FIRING} == set(range(30))
    texts = [r.params["text"] for r in standin.delivered()]
    firing = [t for t in texts if t.startswith("🔥")]
    assert len(firing) == 1
    assert firing[0].startswith("🔥 <b>FIRING</b> · anomaly · 30 series · ")
    assert firing[0].count("<b>node_metric_") == 10
    assert firing[0].endswith("… and 20 more")
    resolved = [t for t in texts if t.startswith("✅")]
    assert 1 <= len(resolved) <= 5
    assert sum(int(t.split(" · ")[1].split()[0]) for t in resolved) == 30


async def test_a_mass_event_is_rate_limited_and_summarised(
    notifier: TelegramNotifier, standin: TelegramStandin
) -> None:
    clock = Clock(1000.0)
    config = DispatchConfig(group_wait=0.0, rate_per_minute=20.0, burst=5)
    service = make_service(notifier, clock, config=config)
    for n in range(40):
        await service.handle(_event(n, instance=f"host-{n}"))
    assert len(standin.delivered()) == 5
    clock.now += 3.0
    report = await service.tick()
    assert report.sent == 1
    summary = standin.delivered()[-1].params["text"]
    assert summary.startswith("⚠️ <b>35 more alerts FIRING</b>")
    assert summary.count("<b>cpu</b>") == 10 and summary.endswith("… and 25 more")


async def test_recipients_are_routed_by_tenant_and_labels(
    notifier: TelegramNotifier, standin: TelegramStandin
) -> None:
    clock = Clock(1000.0)
    routes = [Route("acme", "-1"), Route("globex", "-2"), Route("acme", "-3", {"job": "db"})]
    service = make_service(
        notifier, clock, routes=routes, default_chat_id="-9", config=DispatchConfig(group_wait=0)
    )
    await service.handle(_event(1, tenant="acme", job="db"))
    await service.handle(_event(2, tenant="globex", job="db"))
    await service.handle(_event(3, tenant="acme", job="node"))
    by_chat: dict[str, list[str]] = {}
    for request in standin.delivered():
        by_chat.setdefault(request.params["chat_id"], []).append(request.params["text"])
    assert {chat: len(texts) for chat, texts in by_chat.items()} == {
        "-1": 2,
        "-3": 1,
        "-9": 3,
        "-2": 1,
    }
    assert all("globex" not in text for text in by_chat["-1"] + by_chat["-3"])
    assert "globex" in by_chat["-2"][0]


async def test_no_duplicate_after_a_restart(
    notifier: TelegramNotifier, standin: TelegramStandin, tmp_path: Path
) -> None:
    clock = Clock(1000.0)
    path = tmp_path / "sent.jsonl"
    config = DispatchConfig(group_wait=0.0)
    first = make_service(notifier, clock, sent_log=FileSentLog(path), config=config)
    firing = _event(7)
    await first.handle(firing)
    assert len(standin.delivered()) == 1

    # the worker dies; its successor replays the alerts topic from the committed offset
    clock.now += 60
    second = make_service(notifier, clock, sent_log=FileSentLog(path), config=config)
    report = await second.handle(firing)
    assert report.sent == 0 and report.duplicates == 1
    resolved = alerts_pb2.AlertEvent()
    resolved.CopyFrom(firing)
    resolved.state = alerts_pb2.ALERT_STATE_RESOLVED
    await second.handle(resolved)
    assert len(standin.delivered()) == 2

    third = make_service(notifier, clock, sent_log=FileSentLog(path), config=config)
    await third.handle(firing)
    await third.handle(resolved)
    assert len(standin.delivered()) == 2


async def test_an_undelivered_message_is_retried_and_only_then_recorded(
    notifier: TelegramNotifier, standin: TelegramStandin, sleeps: Sleeps
) -> None:
    clock = Clock(1000.0)
    log = InMemorySentLog()
    service = make_service(notifier, clock, sent_log=log, config=DispatchConfig(group_wait=0))
    standin.script("sendMessage", *[Reply.server_error(503)] * 4)
    report = await service.handle(_event(1))
    assert report.deferred == 1 and report.sent == 0 and service.outbox == 1
    assert log.entries == {}
    clock.now += 5
    report = await service.tick()
    assert report.sent == 1 and service.outbox == 0
    assert set(log.entries) == {SentKey(f"{1:016x}:1000000", "FIRING", "-100")}
    assert [r.status for r in standin.received()] == [503] * 4 + [200]


async def test_a_429_beyond_the_limit_defers_until_retry_after(
    notifier: TelegramNotifier, standin: TelegramStandin
) -> None:
    clock = Clock(1000.0)
    service = make_service(notifier, clock, config=DispatchConfig(group_wait=0))
    standin.script("sendMessage", Reply.too_many_requests(30))
    assert (await service.handle(_event(1))).deferred == 1
    clock.now += 10
    assert (await service.tick()).deferred == 1 and len(standin.received()) == 1
    clock.now += 20
    assert (await service.tick()).sent == 1


async def test_a_still_firing_alert_is_repeated(
    notifier: TelegramNotifier, standin: TelegramStandin
) -> None:
    clock = Clock(1000.0)
    config = DispatchConfig(group_wait=0.0, repeat_interval=600.0)
    service = make_service(notifier, clock, config=config)
    await service.handle(_event(1))
    for _ in range(20):
        clock.now += 60
        await service.tick()
    texts = [r.params["text"] for r in standin.delivered()]
    assert [t.split(" ")[1] for t in texts] == ["<b>FIRING</b>", "<b>STILL", "<b>STILL"]


def _event(
    series: int, *, tenant: str = "acme", job: str = "node", instance: str = "db-1:9100"
) -> alerts_pb2.AlertEvent:
    event = alerts_pb2.AlertEvent(
        schema_version=1,
        tenant=tenant,
        series_id=series,
        dedup_key=f"{series:016x}:1000000",
        state=FIRING,
        reason=alerts_pb2.ALERT_REASON_ANOMALY,
        started_at=1_000_000,
        event_at=1_045_000,
        score=0.99 + series / 10_000,
        peak_score=0.999,
        value=1.5,
        baseline_low=0.1,
        baseline_high=0.9,
        group_key=f"{tenant}/job={job},instance={instance}",
    )
    for name, value in sorted({"__name__": "cpu", "job": job, "instance": instance}.items()):
        event.labels.add(name=name, value=value)
    return event


def _utc(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class _BrokenDirectory:
    async def recipients_for(self, tenant: str, labels: object) -> list[Recipient]:
        raise AidevopsError("alert-configs table unavailable")


async def test_when_routing_fails_the_default_chat_still_hears(
    notifier: TelegramNotifier, standin: TelegramStandin
) -> None:
    clock = Clock(1000.0)
    service = NotificationService(
        dispatcher=Dispatcher(DispatchConfig(group_wait=0.0)),
        notifier=notifier,
        recipients=_BrokenDirectory(),
        sent_log=InMemorySentLog(),
        template=MessageTemplate.load(),
        clock=clock,
        default_chat_id="-9",
    )
    report = await service.handle(_event(1))
    assert report.sent == 1 and [str(e) for e in report.errors] == [
        "alert-configs table unavailable"
    ]
    assert [r.params["chat_id"] for r in standin.delivered()] == ["-9"]
