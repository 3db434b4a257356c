"""The console's "send test" button: one route's test message, sent from the API process.

It goes through the notifier's own channels (:func:`~stream.notifier.outputs.open_outputs`,
Telegram when a bot token is set), configured by the API process's notifier settings: a
route whose secret is ``env:NAME`` needs ``NAME`` in the API's environment too, or the test
says it is not set (which is what the notifier would say as well).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator
from typing import Protocol

from stream.notifier.channels import Channel, TelegramChannel
from stream.notifier.outputs import open_outputs
from stream.notifier.selftest import send_route_tests
from stream.notifier.sent_log import InMemorySentLog
from stream.notifier.settings import NotifierSettings
from stream.notifier.telegram import TelegramNotifier
from stream.notifier.template import MessageTemplate
from stream.storage.recipients import TELEGRAM, Recipient

__all__ = ["NotifierRouteTester", "RouteTester"]


class RouteTester(Protocol):
    """Sends one route its channel's test message."""

    async def __call__(self, recipient: Recipient) -> str | None:
        """``None`` when the channel accepted it, else why not (no secret in it)."""
        ...


class NotifierRouteTester:
    """A :class:`RouteTester` over the notifier's channels, opened for each test."""

    def __init__(self, settings: NotifierSettings) -> None:
        self.settings = settings

    def __repr__(self) -> str:
        return "NotifierRouteTester()"

    @contextlib.asynccontextmanager
    async def _telegram(self) -> AsyncIterator[Channel | None]:
        if self.settings.telegram_bot_token is None:
            yield None
            return
        template = MessageTemplate.load(
            self.settings.telegram_template_path,
            grafana_url_template=self.settings.grafana_url_template,
        )
        async with TelegramNotifier.from_settings(self.settings) as bot:
            yield TelegramChannel(bot, template)

    async def __call__(self, recipient: Recipient) -> str | None:
        async with (
            self._telegram() as telegram,
            open_outputs(self.settings, InMemorySentLog(), os.environ, clock=time.time) as out,
        ):
            channels = dict(out.channels)
            if telegram is not None:
                channels[TELEGRAM] = telegram
            (result,) = await send_route_tests(channels, [recipient])
        return None if result.ok else str(result.error)
