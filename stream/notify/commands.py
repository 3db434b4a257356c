"""The notification side of the command line: ``aidevops notify`` and ``aidevops alerts``."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Sequence

from stream.alerting.settings import AlertSettings
from stream.notify.console import ConsoleNotifier
from stream.notify.notifier import Notifier
from stream.notify.runner import run_notifier
from stream.notify.selftest import send_test_messages
from stream.notify.sent_log import FileSentLog
from stream.notify.telegram import TelegramNotifier
from stream.notify.template import MessageTemplate
from stream.storage.service import Storage
from stream.storage.settings import StorageSettings

__all__ = ["add_recipient", "list_recipients", "notify", "remove_recipient", "test_alerts"]


@contextlib.asynccontextmanager
async def _notifier(settings: AlertSettings) -> AsyncIterator[Notifier]:
    """Telegram when a bot token is set, else the console."""
    if settings.telegram_bot_token is None:
        yield ConsoleNotifier()
        return
    async with TelegramNotifier.from_settings(settings) as telegram:
        yield telegram


def notify(settings: AlertSettings, storage_settings: StorageSettings, bootstrap: str) -> None:
    """Deliver alerts from Kafka until SIGTERM or SIGINT; recipients from DynamoDB."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        storage = await asyncio.to_thread(Storage.from_settings, storage_settings)
        settings.notify_sent_log_path.parent.mkdir(parents=True, exist_ok=True)
        sent_log = FileSentLog(settings.notify_sent_log_path)
        try:
            async with _notifier(settings) as notifier:
                await run_notifier(
                    bootstrap,
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


def add_recipient(
    storage_settings: StorageSettings, tenant: str, chat_id: str, matchers: Sequence[str]
) -> str:
    storage = Storage.from_settings(storage_settings)
    try:
        route = storage.configs.add(tenant, chat_id, list(matchers))
    finally:
        storage.close()
    return f"{route.route_id}\t{route.tenant}\t{route.channel}\t{route.chat_id}"


def list_recipients(storage_settings: StorageSettings, tenant: str) -> list[str]:
    storage = Storage.from_settings(storage_settings)
    try:
        routes = storage.configs.list(tenant)
    finally:
        storage.close()
    return [
        f"{r.route_id}\t{r.tenant}\t{r.channel}\t{r.chat_id}\t"
        + ",".join(str(m) for m in r.matchers)
        for r in routes
    ]


def remove_recipient(storage_settings: StorageSettings, tenant: str, route_id: str) -> bool:
    storage = Storage.from_settings(storage_settings)
    try:
        return storage.configs.remove(tenant, route_id)
    finally:
        storage.close()


def test_alerts(settings: AlertSettings, storage_settings: StorageSettings, tenant: str) -> int:
    """Send a test message to every recipient of ``tenant`` and the default chat.

    Returns how many deliveries failed.
    """

    async def main() -> int:
        storage = await asyncio.to_thread(Storage.from_settings, storage_settings)
        try:
            routes = storage.configs.list(tenant)
            template = MessageTemplate.load(
                settings.telegram_template_path,
                grafana_url_template=settings.grafana_url_template,
            )
            async with _notifier(settings) as notifier:
                results = await send_test_messages(
                    notifier, template, routes, default_chat_id=settings.telegram_default_chat_id
                )
        finally:
            storage.close()
        for result in results:
            print(f"{result.recipient.chat_id}\t{'ok' if result.ok else result.error}")
        return sum(1 for r in results if not r.ok)

    return asyncio.run(main())
