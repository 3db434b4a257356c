"""``aidevops alerts test`` and building the notifier and service from settings."""

from __future__ import annotations

import pytest

from aidevops.errors import ConfigurationError
from stream.notifier.delivery import NotificationService
from stream.notifier.errors import DeliveryRejected
from stream.notifier.selftest import send_test_messages
from stream.notifier.sent_log import InMemorySentLog
from stream.notifier.settings import NotifierSettings
from stream.notifier.telegram import TelegramNotifier
from stream.notifier.template import MessageTemplate
from stream.storage.recipients import TELEGRAM, Recipient
from tests.integration.notifier.conftest import TOKEN
from tests.support.telegram_standin import Reply, TelegramStandin

pytestmark = pytest.mark.integration


async def test_each_recipient_gets_one_test_message(
    notifier: TelegramNotifier, standin: TelegramStandin
) -> None:
    recipients = [
        Recipient(TELEGRAM, "-1", "ops", "acme"),
        Recipient("email", "ops@example.com", "mail", "acme"),
        Recipient(TELEGRAM, "-1", "ops-again", "acme"),
        Recipient(TELEGRAM, "-2", "dba", "globex"),
    ]
    standin.script("sendMessage", Reply(), Reply.bad_request("Bad Request: chat not found"))
    results = await send_test_messages(
        notifier, MessageTemplate.load(), recipients, default_chat_id="-9"
    )
    assert [(r.recipient.chat_id, r.ok) for r in results] == [
        ("-9", True),
        ("-1", False),
        ("-2", True),
    ]
    assert isinstance(results[1].error, DeliveryRejected)
    requests = standin.received()
    assert [r.params["chat_id"] for r in requests] == ["-9", "-1", "-2"]
    assert all(r.params["parse_mode"] == "HTML" for r in requests)
    assert "tenant <code>globex</code> (route <code>dba</code>)" in requests[2].params["text"]


async def test_notifier_and_service_from_settings(
    standin: TelegramStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIDEVOPS_TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("AIDEVOPS_TELEGRAM_API_URL", standin.base_url)
    monkeypatch.setenv("AIDEVOPS_TELEGRAM_DEFAULT_CHAT_ID", "-9")
    settings = NotifierSettings()
    async with TelegramNotifier.from_settings(settings) as notifier:
        service = NotificationService.from_settings(
            settings,
            notifier=notifier,
            recipients=_NoRoutes(),
            sent_log=InMemorySentLog(),
            clock=lambda: 0.0,
        )
        assert TOKEN not in repr(service) and TOKEN not in repr(notifier)
        results = await send_test_messages(
            notifier, MessageTemplate.load(), [], default_chat_id="-9"
        )
    assert [r.ok for r in results] == [True]
    assert [r.method for r in standin.requests] == ["getMe", "sendMessage"]


def test_no_token_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="AIDEVOPS_TELEGRAM_BOT_TOKEN"):
        TelegramNotifier.from_settings(NotifierSettings(telegram_bot_token=None))


class _NoRoutes:
    async def recipients_for(self, tenant: str, labels: object) -> list[Recipient]:
        return []
