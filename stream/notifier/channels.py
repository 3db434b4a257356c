"""The port every message channel implements, and Telegram behind it.

A :class:`Channel` turns one recipient's share of a notification into whatever its service
takes (a Telegram HTML message, Slack blocks, PagerDuty events, an SNS publish, a webhook
document) and returns only once the service accepted it. It raises
:class:`~stream.notifier.errors.DeliveryFailed` (transient: the notifier retries later,
honouring ``retry_after``) or :class:`~stream.notifier.errors.DeliveryRejected` (permanent).

Grouping, the rate limit and the sent log are the notifier service's, the same for every
channel (:mod:`stream.notifier.delivery`). Alertmanager is not a message channel: it groups
and silences by itself (:mod:`stream.notifier.alertmanager`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from aidevops.pb import alerts_pb2
from stream.notifier.notification import Notification
from stream.notifier.notifier import Notifier
from stream.notifier.template import MessageTemplate
from stream.storage.recipients import TELEGRAM, RecipientLike

__all__ = ["Channel", "Message", "TelegramChannel", "destination_key"]


@dataclass(frozen=True, slots=True)
class Message:
    """One recipient's share of a notification: ``events`` worst first, plus a count."""

    notification: Notification
    events: Sequence[alerts_pb2.AlertEvent]
    untracked: int = 0

    @property
    def total(self) -> int:
        """Alerts the message is about."""
        return len(self.events) + self.untracked


class Channel(Protocol):
    """A service that delivers messages to the recipients routed to it."""

    async def deliver(self, recipient: RecipientLike, message: Message) -> None:
        """Deliver ``message``; return once the service accepted it."""
        ...

    async def deliver_test(self, recipient: RecipientLike) -> None:
        """Deliver the test message of ``aidevops alerts test``."""
        ...


def destination_key(recipient: RecipientLike) -> str:
    """Who a recipient is, for the sent log: the same destination is told once.

    A Telegram chat keeps its bare chat id (the sent log's format before other channels);
    another channel's destination is ``channel:destination``, or ``channel:secret_ref`` when
    the secret is the destination (a Slack webhook, a PagerDuty routing key).

    Examples
    --------
    >>> from stream.storage.recipients import Recipient
    >>> destination_key(Recipient("telegram", "-100", "r", "acme"))
    '-100'
    >>> destination_key(Recipient("pagerduty", "", "r", "acme", "env:PD_KEY"))
    'pagerduty:env:PD_KEY'
    """
    if recipient.channel == TELEGRAM:
        return recipient.chat_id
    return f"{recipient.channel}:{recipient.chat_id or recipient.secret_ref}"


class TelegramChannel:
    """Telegram: the HTML template over a :class:`~stream.notifier.notifier.Notifier`."""

    def __init__(self, notifier: Notifier, template: MessageTemplate) -> None:
        self.notifier = notifier
        self.template = template

    def __repr__(self) -> str:
        return f"TelegramChannel({self.notifier!r})"

    async def deliver(self, recipient: RecipientLike, message: Message) -> None:
        text = self.template.render(
            message.notification, message.events, untracked=message.untracked
        )
        await self.notifier.send(recipient.chat_id, text)

    async def deliver_test(self, recipient: RecipientLike) -> None:
        text = self.template.render_test(
            chat_id=recipient.chat_id, tenant=recipient.tenant, route_id=recipient.route_id
        )
        await self.notifier.send(recipient.chat_id, text)
