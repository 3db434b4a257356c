"""Telegram delivery through python-telegram-bot's :class:`telegram.Bot`.

The boundary with the vendor library: it retries what is worth retrying and translates every
``telegram.error.*`` into :mod:`stream.notifier.errors`, with the bot token scrubbed from the
message and the vendor exception not chained (its ``__cause__`` holds httpx requests whose
URL contains the token).

* Timeouts and server errors (5xx, connection failures: ``NetworkError``/``TimedOut``) are
  retried with exponential backoff, ``max_attempts`` in all, then :class:`DeliveryFailed`.
* HTTP 429 (``RetryAfter``) waits the ``retry_after`` Telegram asked for, then retries; a wait
  longer than ``max_retry_after`` is not slept through but raised as :class:`DeliveryFailed`
  carrying ``retry_after``, so the caller can defer the message instead of blocking.
* Anything else (400 bad request, 403 blocked, chat migrated) is :class:`DeliveryRejected`;
  401/404 on the token is :class:`BotTokenRejected`. Neither is retried.

A message counts as sent only when :meth:`TelegramNotifier.send` returns, i.e. when Telegram
answered ``ok``. A read timeout after Telegram accepted a message makes the retry deliver it
twice; at-least-once is the price of never losing one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from pydantic import SecretStr
from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from aidevops.errors import ConfigurationError
from stream.notifier.errors import (
    BotTokenRejected,
    DeliveryFailed,
    DeliveryRejected,
    NotificationError,
)
from stream.notifier.redaction import Redactor, install_log_redaction, uninstall_log_redaction
from stream.notifier.settings import NotifierSettings

__all__ = ["DEFAULT_API_URL", "RetryPolicy", "TelegramNotifier"]

DEFAULT_API_URL = "https://api.telegram.org/bot"

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard one message is retried before :class:`DeliveryFailed`.

    The backoff after attempt ``n`` (1-based) is ``min(max_backoff, backoff * 2**(n-1))``.

    Examples
    --------
    >>> [RetryPolicy(backoff=1.0, max_backoff=5.0).delay(n) for n in range(1, 5)]
    [1.0, 2.0, 4.0, 5.0]
    """

    max_attempts: int = 5
    backoff: float = 1.0
    max_backoff: float = 30.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt``."""
        return float(min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))


class TelegramNotifier:
    """A :class:`~stream.notifier.notifier.Notifier` over python-telegram-bot's real ``Bot``.

    Use it as an async context manager (or call :meth:`start` and :meth:`close`): starting
    calls ``getMe``, which checks the token.

    Parameters
    ----------
    token
        The bot token. It stays inside the :class:`~telegram.Bot`; this object's repr, its
        errors and the records of the telegram/httpx loggers never show it.
    base_url
        Bot API base URL; the token is appended (``https://api.telegram.org/bot``).
    retry
        Retry policy for one message.
    connect_timeout, read_timeout
        HTTP timeouts in seconds.
    sleep
        How to wait between attempts (injected so tests can observe the waits).
    """

    def __init__(
        self,
        token: SecretStr | str,
        *,
        base_url: str = DEFAULT_API_URL,
        retry: RetryPolicy | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        secret = token.get_secret_value() if isinstance(token, SecretStr) else token
        self._redactor = Redactor(secret)
        install_log_redaction(secret)
        self._secret = secret
        request = HTTPXRequest(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            write_timeout=read_timeout,
            pool_timeout=connect_timeout,
        )
        try:
            self._bot = Bot(secret, base_url=base_url, request=request)
        except TelegramError as exc:
            uninstall_log_redaction(secret)
            raise self._translate(exc, None, "create bot", 1) from None
        self._base_url = self._redactor.scrub(base_url)
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self.username: str | None = None

    @classmethod
    def from_settings(cls, settings: NotifierSettings, *, sleep: Sleep = asyncio.sleep) -> Self:
        """A notifier configured by ``settings``; :class:`ConfigurationError` without a token."""
        if settings.telegram_bot_token is None:
            raise ConfigurationError("set AIDEVOPS_TELEGRAM_BOT_TOKEN to deliver to Telegram")
        return cls(
            settings.telegram_bot_token,
            base_url=settings.telegram_api_url,
            retry=RetryPolicy(
                max_attempts=settings.telegram_max_attempts,
                backoff=settings.telegram_backoff_seconds,
                max_backoff=settings.telegram_max_backoff_seconds,
                max_retry_after=settings.telegram_max_retry_after_seconds,
            ),
            connect_timeout=settings.telegram_connect_timeout_seconds,
            read_timeout=settings.telegram_read_timeout_seconds,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"TelegramNotifier(base_url={self._base_url!r}, retry={self._retry!r})"

    async def __aenter__(self) -> TelegramNotifier:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Open the HTTP client and check the token with ``getMe``."""
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._bot.initialize()
                break
            except TelegramError as exc:
                wait = self._wait_before_retry(exc, attempt)
                if wait is None:
                    await self._bot.shutdown()
                    raise self._translate(exc, None, "getMe", attempt) from None
                await self._sleep(wait)
        self.username = self._bot.username

    async def close(self) -> None:
        """Close the HTTP client; stop scrubbing this token from logs."""
        try:
            await self._bot.shutdown()
        finally:
            if self._secret:
                uninstall_log_redaction(self._secret)
                self._secret = ""

    async def send(self, chat_id: str, text: str) -> None:
        """Send an HTML message; return once Telegram accepted it (see the module docstring)."""
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._bot.send_message(
                    chat_id=chat_id,
                    text=text,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
                return
            except TelegramError as exc:
                wait = self._wait_before_retry(exc, attempt)
                if wait is None:
                    raise self._translate(exc, chat_id, "sendMessage", attempt) from None
                await self._sleep(wait)

    def _wait_before_retry(self, exc: TelegramError, attempt: int) -> float | None:
        """Seconds to wait before retrying after ``exc``, or ``None`` to give up."""
        if attempt >= self._retry.max_attempts:
            return None
        if isinstance(exc, RetryAfter):
            wait = _retry_after_seconds(exc)
            return wait if wait <= self._retry.max_retry_after else None
        if _is_transient(exc):
            return self._retry.delay(attempt)
        return None

    def _translate(
        self, exc: TelegramError, chat_id: str | None, what: str, attempts: int
    ) -> NotificationError:
        where = f" to chat {chat_id}" if chat_id is not None else ""
        detail = self._redactor.scrub(f"{type(exc).__name__}: {exc}")
        message = f"telegram {what}{where} failed after {attempts} attempt(s): {detail}"
        if isinstance(exc, RetryAfter):
            return DeliveryFailed(message, chat_id=chat_id, retry_after=_retry_after_seconds(exc))
        if _is_transient(exc):
            return DeliveryFailed(message, chat_id=chat_id)
        if isinstance(exc, InvalidToken):
            return BotTokenRejected(message, chat_id=chat_id)
        return DeliveryRejected(message, chat_id=chat_id)


def _is_transient(exc: TelegramError) -> bool:
    # BadRequest derives from NetworkError in PTB but is a client error: never retried.
    return isinstance(exc, NetworkError) and not isinstance(exc, BadRequest)


def _retry_after_seconds(exc: RetryAfter) -> float:
    # PTB 22 warns on this attribute unless PTB_TIMEDELTA=true; either type is handled.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return float(value)
