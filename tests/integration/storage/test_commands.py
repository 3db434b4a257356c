"""The operator commands, run as users run them, against DynamoDB Local, the broker and a
Telegram Bot API stand-in."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from typing import Any

import pytest

from aidevops.kafka.producer import BatchProducer
from aidevops.kafka.topics import ensure_topics
from aidevops.pb import alerts_pb2, remote_write_v1_pb2
from cli.local.broker import LocalBroker
from stream.storage.settings import StorageSettings
from tests.support.telegram_standin import TelegramStandin

pytestmark = pytest.mark.integration

TOKEN = "123456:TEST-token-do-not-log"


def _env(settings: StorageSettings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PTB_TIMEDELTA": "true",
        "AIDEVOPS_DYNAMODB_ENDPOINT_URL": str(settings.dynamodb_endpoint_url),
        "AIDEVOPS_DYNAMODB_TABLE_PREFIX": settings.dynamodb_table_prefix,
        "AIDEVOPS_DYNAMODB_ACCESS_KEY_ID": "local",
        "AIDEVOPS_DYNAMODB_SECRET_ACCESS_KEY": "local",
        **extra,
    }


async def _aidevops(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_dynamodb_init_and_recipients(storage_settings: StorageSettings) -> None:
    env = _env(storage_settings)
    out = await _aidevops(env, "dynamodb", "init")
    assert out.returncode == 0, out.stderr
    prefix = storage_settings.dynamodb_table_prefix
    assert out.stdout.splitlines() == [
        f"{prefix}-{table}\tcreated" for table in ("scores", "alerts", "alert-configs")
    ]

    added = await _aidevops(
        env, "alerts", "recipients", "add", "acme", "-100", "--match", 'job="node"'
    )
    assert added.returncode == 0, added.stderr
    route_id = added.stdout.split("\t")[0]
    listed = await _aidevops(env, "alerts", "recipients", "list", "acme")
    assert listed.stdout.splitlines() == [f'{route_id}\tacme\ttelegram\t-100\tjob="node"']
    assert (await _aidevops(env, "alerts", "recipients", "list", "other")).stdout == ""
    removed = await _aidevops(env, "alerts", "recipients", "remove", "acme", route_id)
    assert removed.returncode == 0
    again = await _aidevops(env, "alerts", "recipients", "remove", "acme", route_id)
    assert again.returncode == 1 and "no route" in again.stderr


async def test_alerts_test_sends_to_every_recipient(storage_settings: StorageSettings) -> None:
    async with TelegramStandin(TOKEN) as standin:
        env = _env(
            storage_settings,
            AIDEVOPS_TELEGRAM_BOT_TOKEN=TOKEN,
            AIDEVOPS_TELEGRAM_API_URL=standin.base_url,
            AIDEVOPS_TELEGRAM_DEFAULT_CHAT_ID="-999",
        )
        await _aidevops(env, "alerts", "recipients", "add", "default", "-100")
        out = await _aidevops(env, "alerts", "test")
        assert out.returncode == 0, out.stderr
        chats = sorted(r.params["chat_id"] for r in standin.delivered())
        assert chats == ["-100", "-999"]
        assert TOKEN not in out.stdout + out.stderr


async def test_notify_delivers_alerts_from_kafka(
    storage_settings: StorageSettings, broker: LocalBroker, tmp_path: Any
) -> None:
    topic = f"alerts-{storage_settings.dynamodb_table_prefix}"
    await ensure_topics(broker.bootstrap_servers, {topic: 2})
    event = alerts_pb2.AlertEvent(
        schema_version=1,
        tenant="default",
        series_id=0xABC,
        dedup_key="0000000000000abc:1700000000000",
        state=alerts_pb2.ALERT_STATE_FIRING,
        reason=alerts_pb2.ALERT_REASON_ANOMALY,
        started_at=1_700_000_000_000,
        event_at=1_700_000_045_000,
        score=0.8,
        peak_score=0.9,
        value=42.0,
        baseline_low=1.0,
        baseline_high=3.0,
        group_key="default/instance=h1",
        labels=[
            remote_write_v1_pb2.Label(name="__name__", value="node_load1"),
            remote_write_v1_pb2.Label(name="instance", value="h1"),
        ],
    )
    producer = BatchProducer(broker.bootstrap_servers, 10.0, "test")
    await producer.start()
    await asyncio.wait_for(producer.connected.wait(), 20)
    await producer.send(topic, [(0, event.dedup_key.encode(), event.SerializeToString())])
    await producer.stop()
    async with TelegramStandin(TOKEN) as standin:
        env = _env(
            storage_settings,
            AIDEVOPS_KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap_servers,
            AIDEVOPS_ALERTS_TOPIC=topic,
            AIDEVOPS_NOTIFY_GROUP_ID=f"notify-{topic}",
            AIDEVOPS_NOTIFY_SENT_LOG_PATH=str(tmp_path / "sent.jsonl"),
            AIDEVOPS_ALERT_GROUP_WAIT_SECONDS="0",
            AIDEVOPS_TELEGRAM_BOT_TOKEN=TOKEN,
            AIDEVOPS_TELEGRAM_API_URL=standin.base_url,
            AIDEVOPS_TELEGRAM_DEFAULT_CHAT_ID="-555",
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "notify"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            for _ in range(120):
                if standin.delivered():
                    break
                await asyncio.sleep(0.25)
            [message] = standin.delivered()
            assert message.params["chat_id"] == "-555"
            assert "node_load1" in message.params["text"]
            assert message.params["parse_mode"] == "HTML"
        finally:
            proc.send_signal(signal.SIGTERM)
            output = (await asyncio.to_thread(proc.communicate, timeout=30))[0].decode()
        assert proc.returncode == 0, output
        assert TOKEN not in output
