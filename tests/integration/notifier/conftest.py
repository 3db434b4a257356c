"""A Telegram Bot API stand-in and python-telegram-bot's real ``Bot`` pointed at it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from stream.notifier.telegram import RetryPolicy, TelegramNotifier
from tests.support.telegram_standin import TelegramStandin

TOKEN = "123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 emits a PTBDeprecationWarning while *building* RetryAfter from a 429 unless
    # PTB_TIMEDELTA is set; warnings are errors here, and production sets it too.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def standin() -> AsyncIterator[TelegramStandin]:
    async with TelegramStandin(TOKEN) as running:
        yield running


class Sleeps(list[float]):
    """Records the waits asked for, without waiting."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def notifier(standin: TelegramStandin, sleeps: Sleeps) -> AsyncIterator[TelegramNotifier]:
    bot = TelegramNotifier(
        TOKEN,
        base_url=standin.base_url,
        retry=RetryPolicy(max_attempts=4, backoff=0.5, max_backoff=2.0, max_retry_after=5.0),
        sleep=sleeps,
    )
    async with bot:
        yield bot
