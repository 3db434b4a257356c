"""The notifier service: alert events in, messages out on every channel, each sent once.

It ties the pure :class:`~stream.notifier.dispatcher.Dispatcher` (grouping, repeat interval,
rate limit) to recipients, the :class:`~stream.notifier.channels.Channel` of each route
(Telegram, Slack, PagerDuty, SNS, webhook) and the persistent
:class:`~stream.notifier.sent_log.SentLog`, so every channel has the same guarantees:

* A notification is split by recipient: each destination gets the alerts routed to it
  (tenant and labels, from the :class:`~stream.storage.recipients.RecipientSource`) plus, if
  configured, the default Telegram chat gets every alert.
* Before sending, alerts already delivered to that chat are dropped (sent log, which survives
  restarts): a FIRING once per episode (repeats at most every ``repeat_interval``), a RESOLVED
  once and only to chats that were told it fired.
* An alert is recorded as sent only after the channel accepted the message. A message that
  failed transiently waits in an outbox and is retried on later ticks (honouring
  ``retry_after``) for up to ``give_up_after`` seconds; a rejected one is reported.

* Routes to Alertmanager bypass the dispatcher (Alertmanager groups, silences and
  rate-limits by itself) and go to the :class:`~stream.notifier.alertmanager.AlertmanagerForwarder`.
* A muted alert (a control's ``mute_until`` in the future, :mod:`stream.storage.controls`)
  is delivered nowhere, Alertmanager included; its events are held (they are in the
  ``alerts`` topic and the alerts table all the same). When the mute ends (or its control
  is removed), held events are offered again: an alert still firing is delivered then,
  through the group wait and the rate limit like a new one; a resolve goes to the
  destinations that were told it fired; an alert that fired and resolved within the mute is
  never delivered. A destination told before the mute is not told again because the mute
  ended (its repeat interval runs on). When the controls cannot be read, nothing counts as
  muted: an alert is better delivered than lost.

Wire it into the worker as: ``await service.handle(event)`` for every record of the
``alerts`` topic, and ``await service.tick()`` from a timer (every second).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from aidevops.errors import AidevopsError
from aidevops.pb import alerts_pb2
from stream.notifier.alertmanager import ALERTMANAGER, AlertmanagerForwarder, AlertmanagerTarget
from stream.notifier.alertmanager import split_urls as _split_urls
from stream.notifier.channels import Channel, Message, TelegramChannel, destination_key
from stream.notifier.dispatcher import Dispatcher
from stream.notifier.errors import DeliveryFailed, NotificationError
from stream.notifier.notification import Notification, NotificationKind
from stream.notifier.notifier import Notifier
from stream.notifier.sent_log import SentKey, SentLog
from stream.notifier.settings import NotifierSettings
from stream.notifier.template import MessageTemplate
from stream.storage.controls import MuteSource
from stream.storage.deliveries import DeliveryRecord
from stream.storage.recipients import TELEGRAM, Recipient, RecipientLike, RecipientSource

__all__ = ["DeliveryLog", "DeliveryReport", "NotificationService"]

_log = logging.getLogger(__name__)

Clock = Callable[[], float]
_STATE_NAMES = {
    alerts_pb2.ALERT_STATE_FIRING: "FIRING",
    alerts_pb2.ALERT_STATE_RESOLVED: "RESOLVED",
}


class DeliveryLog(Protocol):
    """Where the outcome of each delivery is recorded for people to read (the console)."""

    async def record(self, records: Sequence[DeliveryRecord]) -> None:
        """Store ``records``; may raise :class:`~aidevops.errors.AidevopsError`."""
        ...


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one :meth:`NotificationService.tick` did.

    Attributes
    ----------
    sent
        Messages a channel accepted (Alertmanager posts not counted).
    duplicates
        (alert, destination) pairs not sent again because the sent log had them.
    deferred
        Messages that failed transiently and wait in the outbox.
    errors
        Deliveries given up (rejected, or failing longer than ``give_up_after``) and routing
        failures; each is also logged at ERROR.
    """

    sent: int = 0
    duplicates: int = 0
    deferred: int = 0
    errors: tuple[AidevopsError, ...] = ()


@dataclass(slots=True)
class _Outgoing:
    recipient: RecipientLike
    notification: Notification
    events: list[alerts_pb2.AlertEvent]
    untracked: int
    first_failed: float | None = None
    not_before: float = 0.0


@dataclass(slots=True)
class _Tally:
    sent: int = 0
    duplicates: int = 0
    deferred: int = 0
    errors: list[AidevopsError] = field(default_factory=list)

    def report(self) -> DeliveryReport:
        return DeliveryReport(self.sent, self.duplicates, self.deferred, tuple(self.errors))


def _key(outgoing: _Outgoing) -> str:
    return destination_key(outgoing.recipient)


class NotificationService:
    """Delivers the notifications a dispatcher decides on; see the module docstring.

    Parameters
    ----------
    dispatcher
        Grouping, repeat interval and rate limit.
    notifier
        Telegram (a :class:`~stream.notifier.telegram.TelegramNotifier`), or ``None``.
    recipients
        Routing of a tenant's alerts to destinations (the alert-configs table).
    sent_log
        Persistent record of what each destination was sent.
    template
        Renders Telegram messages.
    clock
        Current time in seconds (``time.time`` in production; injected, never read inside).
    default_chat_id
        A chat receiving every alert of every tenant (the operators' chat), or ``None``.
    give_up_after
        Seconds a transiently failing message is retried before it is reported and dropped.
    channels
        The other channels, by name (``slack``, ``pagerduty``, ``sns``, ``webhook``).
    alertmanager
        The Alertmanager output, or ``None``.
    alertmanager_urls
        Alertmanagers that get every alert of every tenant, besides the routed ones.
    deliveries
        Where each message's outcome (sent, deferred, failed) is recorded, or ``None``. A
        failure to record is logged and delivery goes on.
    mutes
        The controls' mutes (the alert-configs table), or ``None``: nothing is muted.
    """

    def __init__(
        self,
        *,
        dispatcher: Dispatcher,
        notifier: Notifier | None,
        recipients: RecipientSource,
        sent_log: SentLog,
        template: MessageTemplate,
        clock: Clock,
        default_chat_id: str | None = None,
        give_up_after: float = 3600.0,
        channels: Mapping[str, Channel] | None = None,
        alertmanager: AlertmanagerForwarder | None = None,
        alertmanager_urls: Sequence[str] = (),
        deliveries: DeliveryLog | None = None,
        mutes: MuteSource | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self._deliveries = deliveries
        self._mutes = mutes
        self._mutes_failing = False
        # Events held back by a mute, by (dedup key, state), for messages / Alertmanager.
        self._muted: dict[tuple[str, int], alerts_pb2.AlertEvent] = {}
        self._muted_am: dict[tuple[str, int], alerts_pb2.AlertEvent] = {}
        self._channels: dict[str, Channel] = dict(channels or {})
        if notifier is not None:
            self._channels[TELEGRAM] = TelegramChannel(notifier, template)
        self._alertmanager = alertmanager
        self._default_alertmanagers = tuple(AlertmanagerTarget(u) for u in alertmanager_urls)
        self._recipients = recipients
        self._sent_log = sent_log
        self._clock = clock
        self._default_chat_id = default_chat_id or None
        self._give_up_after = give_up_after
        self._outbox: list[_Outgoing] = []
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return (
            f"NotificationService({self.dispatcher!r}, outbox={len(self._outbox)}, "
            f"default_chat_id={self._default_chat_id!r})"
        )

    @classmethod
    def from_settings(
        cls,
        settings: NotifierSettings,
        *,
        notifier: Notifier | None,
        recipients: RecipientSource,
        sent_log: SentLog,
        clock: Clock,
        channels: Mapping[str, Channel] | None = None,
        alertmanager: AlertmanagerForwarder | None = None,
        deliveries: DeliveryLog | None = None,
        mutes: MuteSource | None = None,
    ) -> NotificationService:
        """A service configured by ``settings`` (dispatcher, template, defaults)."""
        template = MessageTemplate.load(
            settings.telegram_template_path,
            grafana_url_template=settings.grafana_url_template,
            max_listed=settings.alert_max_listed,
        )
        return cls(
            dispatcher=Dispatcher(settings.dispatch_config()),
            notifier=notifier,
            recipients=recipients,
            sent_log=sent_log,
            template=template,
            clock=clock,
            default_chat_id=settings.telegram_default_chat_id,
            give_up_after=settings.alert_delivery_give_up_seconds,
            channels=channels,
            alertmanager=alertmanager,
            alertmanager_urls=_split_urls(settings.alertmanager_urls),
            deliveries=deliveries,
            mutes=mutes,
        )

    @property
    def outbox(self) -> int:
        """Messages waiting to be retried."""
        return len(self._outbox)

    async def handle(self, event: alerts_pb2.AlertEvent) -> DeliveryReport:
        """Take one event of the ``alerts`` topic, then deliver whatever is due."""
        now = self._clock()
        self.dispatcher.offer(event, now)
        if self._alertmanager is not None:
            if await self._is_muted(event, now):
                self._muted_am[(event.dedup_key, event.state)] = event
            else:
                await self._forward(event, now)
        return await self.tick()

    async def _forward(self, event: alerts_pb2.AlertEvent, now: float) -> None:
        assert self._alertmanager is not None
        targets = [
            AlertmanagerTarget(url, r.secret_ref)
            for r in await self._route(event, _Tally())
            if r.channel == ALERTMANAGER
            for url in _split_urls(r.chat_id)
        ]
        await self._alertmanager.offer(event, [*targets, *self._default_alertmanagers], now)

    async def _is_muted(self, event: alerts_pb2.AlertEvent, now: float) -> bool:
        if self._mutes is None:
            return False
        labels = {label.name: label.value for label in event.labels}
        try:
            until = await self._mutes.muted_until(event.tenant, labels)
        except AidevopsError as exc:
            if not self._mutes_failing:  # once, until they are readable again
                _log.warning("mutes unreadable, delivering alerts unmuted: %s", exc)
                self._mutes_failing = True
            return False
        self._mutes_failing = False
        return until > now * 1000

    async def _release_muted(self, now: float) -> None:
        """Offer again the held events whose mute has ended (see the module docstring)."""
        for key, event in list(self._muted.items()):
            if not await self._is_muted(event, now):
                del self._muted[key]
                self.dispatcher.requeue(event, now)
        for key, event in list(self._muted_am.items()):
            if not await self._is_muted(event, now):
                del self._muted_am[key]
                firing = event.state == alerts_pb2.ALERT_STATE_FIRING
                if not firing or self.dispatcher.is_firing(event.dedup_key):
                    await self._forward(event, now)

    async def tick(self) -> DeliveryReport:
        """Deliver due notifications and retry the outbox (call it every second or so)."""
        async with self._lock:
            now = self._clock()
            tally = _Tally()
            await self._retry_outbox(now, tally)
            if self._muted or self._muted_am:
                await self._release_muted(now)
            for notification in self.dispatcher.due(now):
                await self._deliver(notification, now, tally)
            if self._alertmanager is not None:
                forwarded = await self._alertmanager.tick(now)
                tally.errors.extend(forwarded.errors)
            return tally.report()

    async def _deliver(self, notification: Notification, now: float, tally: _Tally) -> None:
        by_key: dict[str, tuple[RecipientLike, list[alerts_pb2.AlertEvent]]] = {}
        for event in notification.events:
            if await self._is_muted(event, now):
                self._muted[(event.dedup_key, event.state)] = event
                continue
            for recipient in await self._recipients_of(event, tally):
                by_key.setdefault(destination_key(recipient), (recipient, []))[1].append(event)
        default = self._default_recipient()
        if notification.untracked and default is not None:
            by_key.setdefault(destination_key(default), (default, []))
        for key, (recipient, routed) in by_key.items():
            if notification.state == alerts_pb2.ALERT_STATE_RESOLVED:
                # a firing still waiting in the outbox need not be told any more
                self._cancel_pending_firing(key, routed)
            fresh = [e for e in routed if await self._due(e, key, notification, now)]
            tally.duplicates += len(routed) - len(fresh)
            is_default = default is not None and key == destination_key(default)
            untracked = notification.untracked if is_default else 0
            if not fresh and not untracked:
                continue
            await self._send(_Outgoing(recipient, notification, fresh, untracked), now, tally)

    async def _retry_outbox(self, now: float, tally: _Tally) -> None:
        waiting, self._outbox = self._outbox, []
        for outgoing in waiting:
            if not outgoing.events and not outgoing.untracked:
                continue
            if outgoing.not_before > now:
                self._outbox.append(outgoing)
                tally.deferred += 1
                continue
            await self._send(outgoing, now, tally)

    async def _send(self, outgoing: _Outgoing, now: float, tally: _Tally) -> None:
        recipient = outgoing.recipient
        where = f"{recipient.channel} route {recipient.route_id} ({recipient.tenant})"
        channel = self._channels.get(recipient.channel)
        if channel is None:
            exc = NotificationError(f"no {recipient.channel} channel configured for {where}")
            _log.error("%s", exc)
            tally.errors.append(exc)
            await self._record(outgoing, "failed", str(exc))
            return
        message = Message(outgoing.notification, tuple(outgoing.events), outgoing.untracked)
        try:
            await channel.deliver(recipient, message)
        except DeliveryFailed as exc:
            first = now if outgoing.first_failed is None else outgoing.first_failed
            if now - first >= self._give_up_after:
                _log.error("giving up on a message to %s: %s", where, exc)
                tally.errors.append(exc)
                await self._record(outgoing, "failed", f"gave up: {exc}")
                return
            outgoing.first_failed = first
            outgoing.not_before = now + (exc.retry_after or 0.0)
            self._outbox.append(outgoing)
            tally.deferred += 1
            _log.warning("message to %s deferred: %s", where, exc)
            await self._record(outgoing, "deferred", str(exc))
            return
        except NotificationError as exc:
            _log.error("message to %s rejected: %s", where, exc)
            tally.errors.append(exc)
            await self._record(outgoing, "failed", str(exc))
            return
        tally.sent += 1
        state = _STATE_NAMES[outgoing.notification.state]
        accepted = self._clock()
        key = _key(outgoing)
        for event in outgoing.events:
            await self._sent_log.record(SentKey(event.dedup_key, state, key), accepted)
        await self._record(outgoing, "sent", "")

    async def _record(self, outgoing: _Outgoing, status: str, detail: str) -> None:
        if self._deliveries is None or not outgoing.events:
            return
        recipient = outgoing.recipient
        state = _STATE_NAMES[outgoing.notification.state]
        at = int(self._clock() * 1000)
        records = [
            DeliveryRecord(
                event.tenant,
                event.dedup_key,
                state,
                _key(outgoing),
                recipient.channel,
                recipient.route_id,
                status,
                detail,
                at,
            )
            for event in outgoing.events
        ]
        try:
            await self._deliveries.record(records)
        except AidevopsError as exc:
            _log.warning("cannot record deliveries to %s: %s", recipient.channel, exc)

    async def _due(
        self, event: alerts_pb2.AlertEvent, dest: str, notification: Notification, now: float
    ) -> bool:
        key = event.dedup_key
        if await self._sent_log.sent_at(SentKey(key, "RESOLVED", dest)) is not None:
            return False
        fired = await self._sent_log.sent_at(SentKey(key, "FIRING", dest))
        if event.state == alerts_pb2.ALERT_STATE_RESOLVED:
            return fired is not None
        if fired is None:
            return True
        # A repeat is due after repeat_interval; the half-interval tolerance absorbs delivery
        # latency while still stopping a replay sent right after a restart.
        interval = self.dispatcher.config.repeat_interval
        return notification.kind is NotificationKind.REPEAT and now - fired >= interval / 2

    def _cancel_pending_firing(self, key: str, resolved: Sequence[alerts_pb2.AlertEvent]) -> None:
        keys = {event.dedup_key for event in resolved}
        for outgoing in self._outbox:
            if (
                _key(outgoing) == key
                and outgoing.notification.state == alerts_pb2.ALERT_STATE_FIRING
            ):
                outgoing.events = [e for e in outgoing.events if e.dedup_key not in keys]

    def _default_recipient(self) -> RecipientLike | None:
        if not self._default_chat_id:
            return None
        return Recipient(TELEGRAM, self._default_chat_id, "default", "*")

    async def _route(self, event: alerts_pb2.AlertEvent, tally: _Tally) -> Sequence[RecipientLike]:
        labels = {label.name: label.value for label in event.labels}
        try:
            return await self._recipients.recipients_for(event.tenant, labels)
        except AidevopsError as exc:
            # routing is down: the default chat (if any) still hears about it
            _log.error("recipients of tenant %s unavailable: %s", event.tenant, exc)
            tally.errors.append(exc)
            return ()

    async def _recipients_of(
        self, event: alerts_pb2.AlertEvent, tally: _Tally
    ) -> list[RecipientLike]:
        """The message destinations of ``event``: routed ones, then the default chat."""
        out: dict[str, RecipientLike] = {}
        for recipient in await self._route(event, tally):
            if recipient.channel != ALERTMANAGER:
                out.setdefault(destination_key(recipient), recipient)
        default = self._default_recipient()
        if default is not None:
            out.setdefault(destination_key(default), default)
        return list(out.values())
