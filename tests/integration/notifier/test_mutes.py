"""Mutes from the controls of a real DynamoDB Local, through the real Bot to its stand-in.

A muted alert is delivered nowhere while the mute lasts; when it ends, an alert still firing
is delivered, a resolve goes to whoever was told it fired, and an alert that fired and
resolved within the mute is never delivered.
"""

from __future__ import annotations

import logging
import socket

import pytest

from aidevops.pb import alerts_pb2
from stream.alerting.policy import AlertPolicy
from stream.notifier.alertmanager import AlertmanagerForwarder
from stream.notifier.delivery import NotificationService
from stream.notifier.dispatcher import DispatchConfig, Dispatcher
from stream.notifier.sent_log import InMemorySentLog
from stream.notifier.telegram import TelegramNotifier
from stream.notifier.template import MessageTemplate
from stream.storage.controls import ControlStore
from stream.storage.dynamodb import DynamoGateway, make_client
from stream.storage.recipients import InMemoryRecipients, Route
from stream.storage.store import Storage
from tests.integration.notifier.test_service import Clock
from tests.support.telegram_standin import TelegramStandin
from tests.unit.stream.alerting.scenarios import T0, batch
from tests.unit.stream.alerting.test_policy import MECHANISM

pytestmark = pytest.mark.integration

FIRING, RESOLVED = alerts_pb2.ALERT_STATE_FIRING, alerts_pb2.ALERT_STATE_RESOLVED
WAIT = 30.0  # the group wait


def episode(series_id: int, instance: str) -> tuple[alerts_pb2.AlertEvent, alerts_pb2.AlertEvent]:
    """The FIRING and RESOLVED events of one anomaly, from the real alert policy."""
    scores = [0.1] * 5 + [0.995] * 4 + [0.1] * 6
    points = [(T0 + 15_000 * i, 5.0, s, 0) for i, s in enumerate(scores)]
    labels = {"__name__": "node_load1", "instance": instance, "job": "node"}
    result = AlertPolicy(MECHANISM).step(None, batch(points, series_id=series_id, labels=labels))
    firing, resolved = result.events
    return firing, resolved


def service(
    notifier: TelegramNotifier,
    clock: Clock,
    storage: Storage,
    alertmanager: AlertmanagerForwarder | None = None,
) -> NotificationService:
    """The notifier's service with the table's routes (a Telegram chat) and mutes."""
    storage.configs.add("acme", "-100")
    return NotificationService(
        dispatcher=Dispatcher(DispatchConfig(group_wait=WAIT)),
        notifier=notifier,
        recipients=storage.configs,
        sent_log=InMemorySentLog(),
        template=MessageTemplate.load(),
        clock=clock,
        alertmanager=alertmanager,
        mutes=storage.controls,
    )


def texts(standin: TelegramStandin) -> list[str]:
    return [r.params["text"].split(" · ")[0] for r in standin.delivered()]


async def test_a_muted_alert_is_delivered_when_the_mute_ends_while_it_fires(
    notifier: TelegramNotifier, standin: TelegramStandin, controls_storage: Storage
) -> None:
    clock = Clock(1_000_000.0)
    notify = service(notifier, clock, controls_storage)
    until = clock.now + 600
    controls_storage.controls.add("acme", {"instance": "db-1:9100"}, mute_until=int(until * 1000))
    firing, resolved = episode(0xD1, "db-1:9100")
    other, _ = episode(0xD2, "web-1:9100")
    await notify.handle(firing)
    await notify.handle(other)
    clock.now += WAIT
    await notify.tick()
    # The unmuted series' alert went out; the muted one did not.
    assert texts(standin) == ["🔥 <b>FIRING</b>"]
    assert "web-1:9100" in standin.delivered()[0].params["text"]
    clock.now = until - 1
    await notify.tick()
    assert len(standin.delivered()) == 1
    clock.now = until + 1  # the mute ends while the alert fires: it is delivered
    await notify.tick()
    clock.now += WAIT
    await notify.tick()
    assert texts(standin) == ["🔥 <b>FIRING</b>"] * 2
    assert "db-1:9100" in standin.delivered()[1].params["text"]
    await notify.handle(resolved)
    clock.now += WAIT
    await notify.tick()
    assert texts(standin) == ["🔥 <b>FIRING</b>"] * 2 + ["✅ <b>RESOLVED</b>"]


async def test_within_a_mute_only_resolves_of_alerts_told_before_it_are_delivered(
    notifier: TelegramNotifier, standin: TelegramStandin, controls_storage: Storage
) -> None:
    clock = Clock(2_000_000.0)
    notify = service(notifier, clock, controls_storage)
    told_firing, told_resolved = episode(0xE1, "db-1:9100")
    await notify.handle(told_firing)
    clock.now += WAIT
    await notify.tick()
    assert len(standin.delivered()) == 1
    # A mute of the whole tenant; another alert fires and resolves within it.
    until = clock.now + 600
    controls_storage.controls.add("acme", {}, mute_until=int(until * 1000))
    brief_firing, brief_resolved = episode(0xE2, "db-2:9100")
    for event in (brief_firing, told_resolved, brief_resolved):
        await notify.handle(event)
        clock.now += WAIT
        await notify.tick()
    assert len(standin.delivered()) == 1
    clock.now = until + 1
    await notify.tick()
    clock.now += WAIT
    await notify.tick()
    # The resolve of the alert told before the mute, and nothing of the brief one.
    assert texts(standin) == ["🔥 <b>FIRING</b>", "✅ <b>RESOLVED</b>"]
    assert "db-2:9100" not in standin.delivered()[1].params["text"]
    clock.now += 3600
    await notify.tick()
    assert len(standin.delivered()) == 2


async def test_unreadable_mutes_mute_nothing_and_are_logged_once(
    notifier: TelegramNotifier, standin: TelegramStandin, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as sock:  # a DynamoDB nobody answers for
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    gateway = DynamoGateway(make_client(f"http://127.0.0.1:{closed}", "us-east-1", "a", "b"))
    clock = Clock(3_000_000.0)
    notify = NotificationService(
        dispatcher=Dispatcher(DispatchConfig(group_wait=WAIT)),
        notifier=notifier,
        recipients=InMemoryRecipients([Route("acme", "-100")]),
        sent_log=InMemorySentLog(),
        template=MessageTemplate.load(),
        clock=clock,
        mutes=ControlStore(gateway, "nowhere-alert-configs"),
    )
    with caplog.at_level(logging.WARNING, logger="stream.notifier.delivery"):
        for series_id, instance in ((0xA1, "db-1:9100"), (0xA2, "db-2:9100")):
            firing, _ = episode(series_id, instance)
            await notify.handle(firing)
        clock.now += WAIT
        await notify.tick()
    assert texts(standin) == ["🔥 <b>FIRING</b>"] * 2
    (warning,) = caplog.records
    assert warning.getMessage().startswith("mutes unreadable, delivering alerts unmuted: ")
