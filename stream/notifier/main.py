"""Entry points of the notifier: the process (``aidevops notify``) and a test message."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator

from stream.notifier.console import ConsoleNotifier
from stream.notifier.notifier import Notifier
from stream.notifier.runner import run_notifier
from stream.notifier.selftest import SelfTestResult, send_test_messages
from stream.notifier.sent_log import FileSentLog
from stream.notifier.settings import NotifierSettings
from stream.notifier.telegram import TelegramNotifier
from stream.notifier.template import MessageTemplate
from stream.storage.store import Storage

__all__ = ["send_test_alert", "serve_notifier"]


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
            async with _notifier(settings) as notifier:
                await run_notifier(
                    settings.kafka_bootstrap_servers,
                    settings.alerts_topic,
                    settings.notify_group_id,
                    settings,
                    notifier,
                    storage.configs,
                    sent_log,
                    stop,
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
