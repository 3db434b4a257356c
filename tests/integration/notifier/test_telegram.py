"""Delivery through python-telegram-bot's real Bot against the Bot API stand-in."""

from __future__ import annotations

import logging
import time

import pytest

from stream.notifier.errors import BotTokenRejected, DeliveryFailed, DeliveryRejected
from stream.notifier.telegram import RetryPolicy, TelegramNotifier
from tests.integration.notifier.conftest import TOKEN, Sleeps
from tests.support.telegram_standin import Reply, TelegramStandin

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


def assert_no_token(caplog: pytest.LogCaptureFixture, *errors: BaseException) -> None:
    assert TOKEN not in caplog.text
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
    for error in errors:
        assert TOKEN not in str(error) and TOKEN not in repr(error)
        assert error.__cause__ is None and error.__suppress_context__


async def test_a_message_is_one_html_sendmessage_request(
    notifier: TelegramNotifier, standin: TelegramStandin, caplog: pytest.LogCaptureFixture
) -> None:
    await notifier.send("-1001234", "<b>cpu</b> &lt;high&gt;")
    (request,) = standin.received("sendMessage")
    assert request.token == TOKEN
    assert request.params["chat_id"] == "-1001234"
    assert request.params["text"] == "<b>cpu</b> &lt;high&gt;"
    assert request.params["parse_mode"] == "HTML"
    assert [r.method for r in standin.requests] == ["getMe", "sendMessage"]
    assert notifier.username == "aidevops_test_bot"
    assert "HTTP Request: POST" in caplog.text  # httpx logged the URL, scrubbed
    assert_no_token(caplog)
    assert TOKEN not in repr(notifier)


async def test_429_retry_after_is_honoured(
    notifier: TelegramNotifier, standin: TelegramStandin, sleeps: Sleeps
) -> None:
    standin.script("sendMessage", Reply.too_many_requests(3), Reply.too_many_requests(1))
    await notifier.send("42", "hi")
    assert sleeps == [3.0, 1.0]
    assert [r.status for r in standin.received()] == [429, 429, 200]


async def test_429_waits_for_real_with_the_default_sleep(standin: TelegramStandin) -> None:
    standin.script("sendMessage", Reply.too_many_requests(1))
    async with TelegramNotifier(TOKEN, base_url=standin.base_url) as bot:
        started = time.monotonic()
        await bot.send("42", "hi")
        assert time.monotonic() - started >= 1.0
    assert [r.status for r in standin.received()] == [429, 200]


async def test_5xx_is_retried_with_exponential_backoff(
    notifier: TelegramNotifier, standin: TelegramStandin, sleeps: Sleeps
) -> None:
    standin.script("sendMessage", Reply.server_error(502), Reply.server_error(500))
    await notifier.send("42", "hi")
    assert sleeps == [0.5, 1.0]
    assert [r.status for r in standin.received()] == [502, 500, 200]
    assert len(standin.delivered()) == 1


async def test_persistent_5xx_fails_after_max_attempts_without_leaking(
    notifier: TelegramNotifier,
    standin: TelegramStandin,
    sleeps: Sleeps,
    caplog: pytest.LogCaptureFixture,
) -> None:
    standin.script("sendMessage", *[Reply.server_error()] * 4)
    with pytest.raises(DeliveryFailed) as caught:
        await notifier.send("42", "hi")
    assert sleeps == [0.5, 1.0, 2.0]
    assert len(standin.received()) == 4 and standin.delivered() == []
    assert caught.value.chat_id == "42"
    assert "after 4 attempt(s)" in str(caught.value)
    assert_no_token(caplog, caught.value)


async def test_a_too_long_retry_after_is_deferred_not_slept(
    notifier: TelegramNotifier, standin: TelegramStandin, sleeps: Sleeps
) -> None:
    standin.script("sendMessage", Reply.too_many_requests(300))
    with pytest.raises(DeliveryFailed) as caught:
        await notifier.send("42", "hi")
    assert caught.value.retry_after == 300.0
    assert sleeps == [] and len(standin.received()) == 1


async def test_a_bad_request_is_rejected_without_retry(
    notifier: TelegramNotifier,
    standin: TelegramStandin,
    sleeps: Sleeps,
    caplog: pytest.LogCaptureFixture,
) -> None:
    standin.script("sendMessage", Reply.bad_request("Bad Request: chat not found"))
    with pytest.raises(DeliveryRejected, match="Chat not found") as caught:
        await notifier.send("-999", "hi")
    assert sleeps == [] and len(standin.received()) == 1
    assert_no_token(caplog, caught.value)


async def test_a_read_timeout_is_retried(standin: TelegramStandin, sleeps: Sleeps) -> None:
    standin.script("sendMessage", Reply.slow(0.5))
    retry = RetryPolicy(backoff=0.01)
    async with TelegramNotifier(
        TOKEN, base_url=standin.base_url, retry=retry, read_timeout=0.1, sleep=sleeps
    ) as bot:
        await bot.send("42", "hi")
    # the slow first request was received too: at-least-once, as documented
    assert len(standin.received()) == 2 and sleeps == [0.01]


async def test_a_wrong_token_is_rejected_at_start_without_leaking(
    standin: TelegramStandin, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "987654321:AAWrongTokenWrongTokenWrongToken_xyz"
    bot = TelegramNotifier(wrong, base_url=standin.base_url)
    with pytest.raises(BotTokenRejected) as caught:
        await bot.start()
    await bot.close()
    assert wrong not in caplog.text and wrong not in str(caught.value)
    assert wrong not in repr(caught.value) and caught.value.__cause__ is None
    assert [r.status for r in standin.requests] == [401]


async def test_an_unreachable_api_fails_transiently(sleeps: Sleeps) -> None:
    bot = TelegramNotifier(
        TOKEN,
        base_url="http://127.0.0.1:9/bot",
        retry=RetryPolicy(max_attempts=2, backoff=0.01),
        connect_timeout=0.5,
        sleep=sleeps,
    )
    with pytest.raises(DeliveryFailed) as caught:
        await bot.start()
    await bot.close()
    assert TOKEN not in str(caught.value) and sleeps == [0.01]
