"""The notifier service's routing to several channels, with fake channels that record.

The fakes implement the :class:`~stream.notifier.channels.Channel` port and keep what they
were asked to deliver; the real channels are tested against their services' stand-ins in
``tests/integration/notifier``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from aidevops.pb import alerts_pb2
from stream.notifier.channels import Message, destination_key
from stream.notifier.delivery import DeliveryLog, NotificationService
from stream.notifier.dispatcher import DispatchConfig, Dispatcher
from stream.notifier.errors import DeliveryFailed
from stream.notifier.notification import Notification, NotificationKind
from stream.notifier.sent_log import InMemorySentLog, SentKey
from stream.notifier.template import MessageTemplate
from stream.storage.deliveries import DeliveryRecord
from stream.storage.recipients import InMemoryRecipients, RecipientLike, Route

FIRING = alerts_pb2.ALERT_STATE_FIRING
RESOLVED = alerts_pb2.ALERT_STATE_RESOLVED


@dataclass
class Recording:
    """A channel that accepts everything and remembers (destination, state, dedup keys)."""

    failures: list[DeliveryFailed] = field(default_factory=list)
    delivered: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)

    async def deliver(self, recipient: RecipientLike, message: Message) -> None:
        if self.failures:
            raise self.failures.pop(0)
        state = "resolved" if message.notification.state == RESOLVED else "firing"
        keys = tuple(e.dedup_key for e in message.events)
        self.delivered.append((destination_key(recipient), state, keys))

    async def deliver_test(self, recipient: RecipientLike) -> None:
        self.delivered.append((destination_key(recipient), "test", ()))


def event(key: str, state: int = FIRING, job: str = "node") -> alerts_pb2.AlertEvent:
    e = alerts_pb2.AlertEvent(
        tenant="acme",
        dedup_key=key,
        state=alerts_pb2.AlertState.ValueType(state),
        group_key=f"acme/job={job}",
        baseline_low=float("nan"),
        baseline_high=float("nan"),
    )
    e.labels.add(name="job", value=job)
    return e


def service(
    routes: list[Route],
    channels: dict[str, Recording],
    default_chat: str | None = None,
    deliveries: DeliveryLog | None = None,
) -> tuple[NotificationService, InMemorySentLog, list[float]]:
    now = [0.0]
    log = InMemorySentLog()
    svc = NotificationService(
        dispatcher=Dispatcher(DispatchConfig(group_wait=0.0)),
        notifier=None,
        recipients=InMemoryRecipients(routes),
        sent_log=log,
        template=MessageTemplate.load(),
        clock=lambda: now[0],
        default_chat_id=default_chat,
        channels=channels,
        deliveries=deliveries,
    )
    return svc, log, now


def test_each_route_gets_its_share_on_its_own_channel() -> None:
    slack, pagerduty, telegram = Recording(), Recording(), Recording()
    routes = [
        Route("acme", "C1", channel="slack", secret_ref="env:T"),
        Route("acme", "C1", {"job": "db"}, channel="slack", secret_ref="env:T"),  # same place
        Route("acme", "", {"job": "db"}, channel="pagerduty", secret_ref="env:PD"),
        Route("acme", "-5"),
    ]
    svc, log, _ = service(routes, {"slack": slack, "pagerduty": pagerduty, "telegram": telegram})

    asyncio.run(svc.handle(event("a:1", job="db")))
    asyncio.run(svc.handle(event("b:1", job="web")))

    assert slack.delivered == [("slack:C1", "firing", ("a:1",)), ("slack:C1", "firing", ("b:1",))]
    assert pagerduty.delivered == [("pagerduty:env:PD", "firing", ("a:1",))]
    assert telegram.delivered == [("-5", "firing", ("a:1",)), ("-5", "firing", ("b:1",))]
    # a Telegram chat keeps the sent log's old key: a notifier upgraded in place repeats nothing
    assert SentKey("a:1", "FIRING", "-5") in log.entries
    assert SentKey("a:1", "FIRING", "pagerduty:env:PD") in log.entries


def test_a_channel_not_configured_is_reported_and_the_others_still_deliver() -> None:
    slack = Recording()
    routes = [
        Route("acme", "C1", channel="slack", secret_ref="env:T"),
        Route("acme", "arn:aws:sns:eu-west-1:123456789012:t", channel="sns"),
    ]
    svc, log, _ = service(routes, {"slack": slack})
    report = asyncio.run(svc.handle(event("a:1")))
    assert report.sent == 1 and len(report.errors) == 1
    assert "no sns channel configured" in str(report.errors[0])
    assert [k.chat_id for k in log.entries] == ["slack:C1"]


def test_a_transient_failure_waits_for_retry_after_then_a_resolve_cancels_it() -> None:
    slack = Recording(failures=[DeliveryFailed("429", retry_after=30.0)])
    svc, _, now = service(
        [Route("acme", "C1", channel="slack", secret_ref="env:T")], {"slack": slack}
    )
    report = asyncio.run(svc.handle(event("a:1")))
    assert report.deferred == 1 and svc.outbox == 1 and slack.delivered == []
    now[0] = 10.0
    asyncio.run(svc.handle(event("a:1", RESOLVED)))
    now[0] = 31.0
    asyncio.run(svc.tick())
    # never told it fired, so not told it resolved; the waiting firing was cancelled
    assert slack.delivered == [] and svc.outbox == 0


def test_alertmanager_routes_are_not_messages() -> None:
    slack = Recording()
    routes = [
        Route("acme", "http://am:9093", channel="alertmanager"),
        Route("acme", "C1", channel="slack", secret_ref="env:T"),
    ]
    svc, _, _ = service(routes, {"slack": slack})
    report = asyncio.run(svc.handle(event("a:1")))
    assert report.errors == () and slack.delivered == [("slack:C1", "firing", ("a:1",))]


def test_the_telegram_message_says_why_an_alert_resolved() -> None:
    e = event("a:1", RESOLVED)
    e.resolution = alerts_pb2.ALERT_RESOLUTION_SUPERSEDED
    e.labels.add(name="__name__", value="node_load1")
    n = Notification(NotificationKind.GROUP, e.state, e.group_key, (e,))
    text = MessageTemplate.load().render(n, n.events)
    assert "· resolved: superseded by an outage of the target" in text
    firing = event("b:1")
    n = Notification(NotificationKind.GROUP, firing.state, firing.group_key, (firing,))
    assert "resolved:" not in MessageTemplate.load().render(n, n.events)


class Deliveries:
    """A DeliveryLog that keeps (destination, state, status) per record."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str, str, str]] = []

    async def record(self, records: Sequence[DeliveryRecord]) -> None:
        self.records += [(r.destination, r.state, r.status, r.detail) for r in records]


def test_each_delivery_outcome_is_recorded_per_destination() -> None:
    slack = Recording(failures=[DeliveryFailed("429 slow down", retry_after=5.0)])
    routes = [
        Route("acme", "C1", channel="slack", secret_ref="env:T"),
        Route("acme", "arn:aws:sns:eu-west-1:123456789012:t", channel="sns"),
    ]
    deliveries = Deliveries()
    svc, _, now = service(routes, {"slack": slack}, deliveries=deliveries)
    asyncio.run(svc.handle(event("a:1")))
    now[0] = 6.0
    asyncio.run(svc.tick())
    assert deliveries.records == [
        ("slack:C1", "FIRING", "deferred", "429 slow down"),
        (
            "sns:arn:aws:sns:eu-west-1:123456789012:t",
            "FIRING",
            "failed",
            "no sns channel configured for sns route 1 (acme)",
        ),
        ("slack:C1", "FIRING", "sent", ""),
    ]
