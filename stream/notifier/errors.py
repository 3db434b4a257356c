"""Errors of notification delivery; the lead moves them into :mod:`aidevops.errors`.

Telegram's own errors (``telegram.error.*``) are translated into these by
:mod:`stream.notifier.telegram`; their messages are scrubbed of the bot token and they are
raised without the vendor exception chained (which carries request URLs with the token).
"""

from __future__ import annotations

from aidevops.errors import AidevopsError, ConfigurationError

__all__ = [
    "BotTokenRejected",
    "CredentialsRejected",
    "DeliveryFailed",
    "DeliveryRejected",
    "NotificationError",
    "SecretUnavailable",
    "SentLogError",
    "TemplateError",
]


class NotificationError(AidevopsError):
    """A notification could not be delivered."""

    def __init__(self, message: str, *, chat_id: str | None = None) -> None:
        super().__init__(message)
        self.chat_id = chat_id


class DeliveryFailed(NotificationError):
    """Transient failure (timeouts, 5xx, long 429) outlasted the retries; try again later.

    ``retry_after`` is the wait the server asked for, in seconds, when it asked for one.
    """

    def __init__(
        self, message: str, *, chat_id: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, chat_id=chat_id)
        self.retry_after = retry_after


class DeliveryRejected(NotificationError):
    """Telegram refused the message for good (bad request, chat not found, bot blocked).

    Retrying the same message cannot succeed; the recipient or the template needs fixing.
    """


class CredentialsRejected(DeliveryRejected):
    """A channel refused the credential it was given (token, routing key, webhook URL, keys)."""


class BotTokenRejected(CredentialsRejected):
    """Telegram does not accept the bot token (HTTP 401/404 on the Bot API)."""


class SecretUnavailable(DeliveryRejected):
    """A route's secret reference names an environment variable or secret that is not there."""


class TemplateError(ConfigurationError):
    """The message template cannot be read or uses a placeholder that does not exist."""


class SentLogError(NotificationError):
    """The persistent sent log cannot be read or written."""
