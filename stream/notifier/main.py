"""Entry points of the notifier: the process (``aidevops notify``) and a test message."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator

from stream.notifier.channels import TelegramChannel
from stream.notifier.console import ConsoleNotifier
from stream.notifier.notifier import Notifier
from stream.notifier.outputs import open_outputs
from stream.notifier.runner import run_notifier
from stream.notifier.selftest import SelfTestResult, send_route_tests, send_test_messages
from stream.notifier.sent_log import FileSentLog, InMemorySentLog
from stream.notifier.settings import NotifierSettings
from stream.notifier.telegram import TelegramNotifier
from stream.notifier.template import MessageTemplate
from stream.storage.recipients import TELEGRAM, Recipient
from stream.storage.store import Storage

__all__ = ["send_route_test", "send_test_alert", "serve_notifier"]


@contextlib.asynccontextmanager
async def _notifier(settings: NotifierSettings) -> AsyncIterator[Notifier]:
    """Telegram when a bot token is set, else the console."""
    if settings.telegram_bot_token is None:
        yield ConsoleNotifier()
        return
    async with TelegramNotifier.from_settings(settings) as telegram:
        yield telegram


def serve_notifier(settings: NotifierSettings) -> None:
    """Deliver alerts from Kafka until SIGTERM or SIGINT; recipients from DynamoDB."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        storage = await asyncio.to_thread(Storage.from_settings, settings)
        settings.notify_sent_log_path.parent.mkdir(parents=True, exist_ok=True)
        sent_log = FileSentLog(settings.notify_sent_log_path)
        try:
            async with (
                _notifier(settings) as notifier,
                open_outputs(settings, sent_log, os.environ, clock=time.time) as outputs,
            ):
                await run_notifier(
                    settings.kafka_bootstrap_servers,
                    settings.alerts_topic,
                    settings.notify_group_id,
                    settings,
                    notifier,
                    storage.configs,
                    sent_log,
                    stop,
                    outputs=outputs,
                    deliveries=storage.deliveries,
                    mutes=storage.controls,
                )
        finally:
            storage.close()

    asyncio.run(main())


def send_test_alert(settings: NotifierSettings, tenant: str) -> list[SelfTestResult]:
    """Send a test message to every recipient of ``tenant`` and the default chat."""

    async def main() -> list[SelfTestResult]:
        storage = await asyncio.to_thread(Storage.from_settings, settings)
        try:
            routes = storage.configs.list(tenant)
            template = MessageTemplate.load(
                settings.telegram_template_path,
                grafana_url_template=settings.grafana_url_template,
            )
            async with _notifier(settings) as notifier:
                return await send_test_messages(
                    notifier, template, routes, default_chat_id=settings.telegram_default_chat_id
                )
        finally:
            storage.close()

    return asyncio.run(main())


def send_route_test(
    settings: NotifierSettings, tenant: str, channel: str | None = None
) -> list[SelfTestResult]:
    """Send each channel's test message to every route of ``tenant`` (of ``channel`` only).

    Telegram routes and the default chat go to Telegram (the console without a bot token);
    the other channels resolve their route's secret and go to the real service.
    """

    async def main() -> list[SelfTestResult]:
        storage = await asyncio.to_thread(Storage.from_settings, settings)
        try:
            routes = [r.recipient for r in storage.configs.list(tenant)]
            if settings.telegram_default_chat_id and channel in (None, "telegram"):
                routes.insert(
                    0, Recipient(TELEGRAM, settings.telegram_default_chat_id, "default", "*")
                )
            template = MessageTemplate.load(
                settings.telegram_template_path,
                grafana_url_template=settings.grafana_url_template,
            )
            async with (
                _notifier(settings) as notifier,
                open_outputs(settings, InMemorySentLog(), os.environ, clock=time.time) as outputs,
            ):
                channels = {**outputs.channels, TELEGRAM: TelegramChannel(notifier, template)}
                return await send_route_tests(channels, routes, channel=channel)
        finally:
            storage.close()

    return asyncio.run(main())
