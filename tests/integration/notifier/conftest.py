"""A Telegram Bot API stand-in and python-telegram-bot's real ``Bot`` pointed at it."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator

import pytest

from cli.local.dynamodb import LocalDynamoDB
from stream.notifier.telegram import RetryPolicy, TelegramNotifier
from stream.storage.settings import StorageSettings
from stream.storage.store import Storage
from tests.support.telegram_standin import TelegramStandin

_prefixes = itertools.count()
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


@pytest.fixture
def controls_storage(dynamodb: LocalDynamoDB) -> Iterator[Storage]:
    """Routes and controls in DynamoDB Local, with tables of the test's own."""
    opened = Storage.from_settings(
        StorageSettings(
            dynamodb_endpoint_url=dynamodb.endpoint_url,
            dynamodb_table_prefix=f"mutes{next(_prefixes)}",
            dynamodb_access_key_id="local",
            dynamodb_secret_access_key="local",  # type: ignore[arg-type]
        )
    )
    yield opened
    opened.close()
