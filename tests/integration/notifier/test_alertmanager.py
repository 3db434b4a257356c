"""The Alertmanager output against a real Alertmanager 0.25 (Debian prometheus-alertmanager).

Alertmanager's own receiver is a webhook to a local stand-in, so these tests see what
Alertmanager would notify: an alert posted by the forwarder appears in its API v2 and is
notified, a silence created in Alertmanager suppresses that notification, a resolve ends it,
and nothing is posted twice after a restart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from aidevops.pb import alerts_pb2
from stream.notifier.alertmanager import AlertmanagerForwarder, AlertmanagerTarget
from stream.notifier.http import JsonPoster
from stream.notifier.sent_log import FileSentLog
from stream.notifier.telegram import RetryPolicy, TelegramNotifier
from stream.notifier.template import GrafanaLink
from stream.storage.store import Storage
from tests.integration.notifier.test_mutes import episode, service
from tests.integration.notifier.test_service import Clock
from tests.support.alertmanager import BINARY, LocalAlertmanager
from tests.support.http_standin import HttpStandin, Reply

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(BINARY is None, reason="prometheus-alertmanager not installed"),
]

FIRING = alerts_pb2.ALERT_STATE_FIRING
RESOLVED = alerts_pb2.ALERT_STATE_RESOLVED


def event(
    metric: str,
    state: int = FIRING,
    *,
    started_s: float,
    event_s: float | None = None,
    instance: str = "db-1:9100",
) -> alerts_pb2.AlertEvent:
    e = alerts_pb2.AlertEvent(
        schema_version=1,
        tenant="acme",
        series_id=hash(metric) & 0xFFFF_FFFF,
        dedup_key=f"{hash(metric) & 0xFFFF_FFFF:016x}:{int(started_s * 1000)}",
        state=alerts_pb2.AlertState.ValueType(state),
        reason=alerts_pb2.ALERT_REASON_ANOMALY,
        started_at=int(started_s * 1000),
        event_at=int((event_s if event_s is not None else started_s) * 1000),
        score=0.93,
        peak_score=0.97,
        value=42.0,
        baseline_low=1.0,
        baseline_high=2.0,
        group_key=f"acme/job=node,instance={instance}",
    )
    if state == RESOLVED:
        e.resolution = alerts_pb2.ALERT_RESOLUTION_RECOVERED
    for name, value in {"__name__": metric, "job": "node", "instance": instance}.items():
        e.labels.add(name=name, value=value)
    return e


@pytest.fixture
async def hook() -> AsyncIterator[HttpStandin]:
    async def ok(request: web.Request, body: object) -> Reply:
        return Reply(200, "")

    async with HttpStandin() as standin:
        standin.route("/hook", ok)
        yield standin


@pytest.fixture
def alertmanager(tmp_path: Path, hook: HttpStandin) -> Iterator[LocalAlertmanager]:
    with LocalAlertmanager(tmp_path / "am", f"{hook.url}/hook") as am:
        yield am


OPEN: list[AlertmanagerForwarder] = []


@pytest.fixture(autouse=True)
async def _close_forwarders() -> AsyncIterator[None]:
    yield
    while OPEN:
        await OPEN.pop().close()


def forwarder(tmp_path: Path, *, resend: float = 60.0) -> AlertmanagerForwarder:
    fwd = AlertmanagerForwarder(
        JsonPoster("alertmanager", retry=RetryPolicy(max_attempts=2, backoff=0.1)),
        FileSentLog(tmp_path / "sent.jsonl"),
        resend_seconds=resend,
        state_path=tmp_path / "am-state.json",
        grafana=GrafanaLink("https://grafana.example/d/aidevops?var-series={series_id}"),
    )
    OPEN.append(fwd)
    return fwd


async def notified(hook: HttpStandin, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
    """The alerts of Alertmanager's webhook notifications, once ``count`` arrived."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alerts = [a for r in hook.received("/hook") for a in r.body["alerts"]]
        if len(alerts) >= count:
            return alerts
        await asyncio.sleep(0.1)
    return [a for r in hook.received("/hook") for a in r.body["alerts"]]


async def test_an_alert_appears_in_the_api_and_is_notified(
    tmp_path: Path, alertmanager: LocalAlertmanager, hook: HttpStandin
) -> None:
    fwd = forwarder(tmp_path)
    now = time.time()
    await fwd.offer(
        event("node_load1", started_s=now - 120), [AlertmanagerTarget(alertmanager.url)], now
    )
    report = await fwd.tick(now)
    assert report.posts == 1 and not report.errors

    (alert,) = alertmanager.alerts()
    assert alert["labels"] == {
        "alertname": "AnomalyDetected",
        "severity": "warning",
        "tenant": "acme",
        "metric": "node_load1",
        "job": "node",
        "instance": "db-1:9100",
    }
    assert alert["annotations"]["score"] == "0.930"
    assert alert["annotations"]["expected"] == "1 – 2"
    assert alert["annotations"]["summary"] == "anomaly of node_load1 in tenant acme"
    assert alert["generatorURL"].startswith("https://grafana.example/d/aidevops?var-series=")
    assert alert["status"]["state"] == "active"
    assert alert["startsAt"].startswith(time.strftime("%Y-%m-%dT%H:%M", time.gmtime(now - 120)))

    (sent,) = await notified(hook, 1)
    assert sent["status"] == "firing" and sent["labels"]["metric"] == "node_load1"


async def test_a_silence_in_alertmanager_suppresses_the_notification(
    tmp_path: Path, alertmanager: LocalAlertmanager, hook: HttpStandin
) -> None:
    now = time.time()
    silence = alertmanager.api(
        "silences",
        {
            "matchers": [
                {"name": "metric", "value": "node_load1", "isRegex": False, "isEqual": True},
                {"name": "tenant", "value": "acme", "isRegex": False, "isEqual": True},
            ],
            "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60)),
            "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600)),
            "createdBy": "test",
            "comment": "maintenance",
        },
    )
    fwd = forwarder(tmp_path)
    target = AlertmanagerTarget(alertmanager.url)
    await fwd.offer(event("node_load1", started_s=now - 60), [target], now)
    await fwd.offer(event("node_memory", started_s=now - 60, instance="db-2:9100"), [target], now)
    await fwd.tick(now)

    by_metric = {a["labels"]["metric"]: a for a in alertmanager.alerts()}
    assert by_metric["node_load1"]["status"]["state"] == "suppressed"
    assert by_metric["node_load1"]["status"]["silencedBy"] == [silence["silenceID"]]
    assert by_metric["node_memory"]["status"]["state"] == "active"
    alerts = await notified(hook, 1)
    await asyncio.sleep(2.5)  # longer than group_wait and group_interval: nothing else comes
    alerts = await notified(hook, 1)
    assert [a["labels"]["metric"] for a in alerts] == ["node_memory"]


async def test_a_resolve_ends_the_alert_and_a_restart_posts_nothing_again(
    tmp_path: Path, alertmanager: LocalAlertmanager, hook: HttpStandin
) -> None:
    now = time.time()
    target = AlertmanagerTarget(alertmanager.url)
    firing = event("node_load1", started_s=now - 300)
    resolved = event("node_load1", RESOLVED, started_s=now - 300, event_s=now - 1)
    fwd = forwarder(tmp_path)
    await fwd.offer(firing, [target], now)
    await fwd.tick(now)
    assert len(alertmanager.alerts(active="true")) == 1
    await notified(hook, 1)

    await fwd.offer(resolved, [target], now)
    report = await fwd.tick(now)
    assert report.resolved_sent == 1 and fwd.active == 0 and fwd.pending == 0
    assert alertmanager.alerts() == []  # Alertmanager lists only unresolved alerts
    alerts = await notified(hook, 2)
    assert [a["status"] for a in alerts] == ["firing", "resolved"]

    # a restarted notifier replays both events from Kafka: nothing reaches Alertmanager
    again = forwarder(tmp_path)
    await again.offer(firing, [target], now + 1)
    await again.offer(resolved, [target], now + 1)
    report = await again.tick(now + 1)
    assert report.posts == 0 and again.active == 0
    await asyncio.sleep(2.5)
    assert len(await notified(hook, 2)) == 2


async def test_firing_alerts_are_re_sent_and_survive_a_restart(
    tmp_path: Path, alertmanager: LocalAlertmanager
) -> None:
    target = AlertmanagerTarget(alertmanager.url)
    start = time.time()
    fwd = forwarder(tmp_path, resend=1.0)  # endsAt = now + 4 s
    await fwd.offer(event("node_load1", started_s=start - 60), [target], start)
    await fwd.tick(start)
    first_end = alertmanager.alerts()[0]["endsAt"]
    posts = 0
    restarted = forwarder(tmp_path, resend=1.0)  # the state file carries the firing alert
    assert restarted.active == 1
    while time.time() < start + 6:  # past the first endsAt
        posts += (await restarted.tick(time.time())).posts
        await asyncio.sleep(0.2)
    assert posts >= 4
    (alert,) = alertmanager.alerts()
    assert alert["status"]["state"] == "active" and alert["endsAt"] > first_end
    # no more re-sends: Alertmanager resolves it by itself once endsAt passes
    await asyncio.sleep(4.5)
    assert alertmanager.alerts() == []


async def test_an_ha_pair_each_gets_every_alert_and_a_down_peer_is_retried(
    tmp_path: Path, hook: HttpStandin
) -> None:
    with (
        LocalAlertmanager(tmp_path / "am1", f"{hook.url}/hook") as am1,
        LocalAlertmanager(tmp_path / "am2", f"{hook.url}/hook") as am2,
    ):
        targets = [AlertmanagerTarget(am1.url), AlertmanagerTarget(am2.url)]
        fwd = forwarder(tmp_path, resend=1.0)
        now = time.time()
        await fwd.offer(event("node_load1", started_s=now - 60), targets, now)
        assert (await fwd.tick(now)).posts == 2
        assert len(am1.alerts()) == len(am2.alerts()) == 1
        am2.__exit__(None, None, None)  # one peer goes down
        resolved = event("node_load1", RESOLVED, started_s=now - 60, event_s=now)
        await fwd.offer(resolved, targets, now + 1)
        report = await fwd.tick(now + 1)
        assert report.resolved_sent == 1 and len(report.errors) == 1
        assert am1.alerts() == [] and fwd.pending == 1  # waits for the peer that is down


async def test_a_muted_alert_reaches_alertmanager_only_when_the_mute_ends(
    notifier: TelegramNotifier,
    controls_storage: Storage,
    tmp_path: Path,
    alertmanager: LocalAlertmanager,
) -> None:
    clock = Clock(time.time())  # Alertmanager judges endsAt by its own clock
    until = clock.now + 600
    controls_storage.controls.add("acme", {"instance": "db-1:9100"}, mute_until=int(until * 1000))
    controls_storage.configs.add("acme", alertmanager.url, channel="alertmanager")
    notify = service(notifier, clock, controls_storage, forwarder(tmp_path))
    firing, _ = episode(0xF1, "db-1:9100")
    await notify.handle(firing)
    assert alertmanager.alerts() == []
    clock.now = until + 1
    await notify.tick()
    (alert,) = alertmanager.alerts()
    assert alert["labels"]["instance"] == "db-1:9100" and alert["status"]["state"] == "active"
