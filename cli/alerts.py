"""Operator commands on alert delivery: ``aidevops alerts recipients ...`` and ``alerts test``."""

from __future__ import annotations

from collections.abc import Sequence

from stream.notifier.main import send_test_alert
from stream.notifier.settings import NotifierSettings
from stream.storage.settings import StorageSettings
from stream.storage.store import Storage

__all__ = ["add_recipient", "list_recipients", "remove_recipient", "test_message"]


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


def test_message(settings: NotifierSettings, tenant: str) -> tuple[list[str], int]:
    """Send a test message to every recipient of ``tenant``: (lines to print, exit status).

    Without recipients nothing can be sent, which is an error (status 1), not a success;
    without a bot token the message goes to the console and the line says so.
    """
    results = send_test_alert(settings, tenant)
    if not results:
        return [
            f"no recipients for tenant {tenant!r}: add one with "
            "'aidevops alerts recipients add TENANT CHAT_ID' or set "
            "AIDEVOPS_TELEGRAM_DEFAULT_CHAT_ID"
        ], 1
    where = "telegram" if settings.telegram_bot_token is not None else "console (no bot token)"
    lines = [
        f"{r.recipient.chat_id}\t{'delivered to ' + where if r.ok else r.error}" for r in results
    ]
    return lines, 1 if any(not r.ok for r in results) else 0
