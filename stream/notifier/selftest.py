"""``aidevops alerts test``: send a test message to every configured recipient.

It goes through the same :class:`~stream.notifier.notifier.Notifier` as real alerts (retries,
error translation), so a success proves the token, the network path and each chat id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from stream.notifier.channels import Channel, destination_key
from stream.notifier.errors import NotificationError
from stream.notifier.notifier import Notifier
from stream.notifier.template import MessageTemplate
from stream.storage.recipients import TELEGRAM, Recipient, RecipientLike

__all__ = ["SelfTestResult", "send_route_tests", "send_test_messages"]


@dataclass(frozen=True, slots=True)
class SelfTestResult:
    """The outcome for one recipient; ``error`` is ``None`` when Telegram accepted it."""

    recipient: RecipientLike
    error: NotificationError | None = None

    @property
    def ok(self) -> bool:
        """Whether the test message was delivered."""
        return self.error is None


async def send_test_messages(
    notifier: Notifier,
    template: MessageTemplate,
    recipients: Iterable[RecipientLike],
    *,
    default_chat_id: str | None = None,
) -> list[SelfTestResult]:
    """Send the template's test message to each Telegram recipient (each chat once).

    Parameters
    ----------
    notifier
        A started notifier (``async with TelegramNotifier.from_settings(s) as notifier``).
    template
        Provides the ``test`` message.
    recipients
        Every configured recipient (all routes of the alert-configs table); other channels
        are skipped.
    default_chat_id
        The settings' default chat, tested as the route ``default`` of tenant ``*``.

    Returns
    -------
    list[SelfTestResult]
        One per chat, in order; a failure does not stop the others. The CLI exits non-zero
        if any is not ``ok``.
    """
    targets: list[RecipientLike] = []
    if default_chat_id:
        targets.append(Recipient(TELEGRAM, default_chat_id, "default", "*"))
    targets.extend(r for r in recipients if r.channel == TELEGRAM)
    seen: set[str] = set()
    results: list[SelfTestResult] = []
    for recipient in targets:
        if recipient.chat_id in seen:
            continue
        seen.add(recipient.chat_id)
        text = template.render_test(
            chat_id=recipient.chat_id, tenant=recipient.tenant, route_id=recipient.route_id
        )
        try:
            await notifier.send(recipient.chat_id, text)
        except NotificationError as exc:
            results.append(SelfTestResult(recipient, exc))
        else:
            results.append(SelfTestResult(recipient))
    return results


async def send_route_tests(
    channels: Mapping[str, Channel],
    recipients: Iterable[RecipientLike],
    *,
    channel: str | None = None,
) -> list[SelfTestResult]:
    """Send each channel's test message to each destination (once), any channel.

    ``channel`` keeps only the routes of that channel. A route whose channel is not
    configured (no Telegram token, say) is a failed result, not a silent skip.
    """
    seen: set[str] = set()
    results: list[SelfTestResult] = []
    for recipient in recipients:
        if channel is not None and recipient.channel != channel:
            continue
        key = destination_key(recipient)
        if key in seen:
            continue
        seen.add(key)
        target = channels.get(recipient.channel)
        if target is None:
            error = NotificationError(f"no {recipient.channel} channel configured")
            results.append(SelfTestResult(recipient, error))
            continue
        try:
            await target.deliver_test(recipient)
        except NotificationError as exc:
            results.append(SelfTestResult(recipient, exc))
        else:
            results.append(SelfTestResult(recipient))
    return results
