"""Consuming the ``alerts`` topic into notifications, at least once.

The dispatcher holds events in memory while it groups them (``alert_group_wait_seconds``)
and retries failed deliveries, so an offset is committed only once its event is older than
the group wait and nothing waits for a retry. A crash replays those events; the sent log
keeps a chat from getting the same message twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from google.protobuf.message import DecodeError

from aidevops.kafka.security import client_security
from aidevops.pb import alerts_pb2
from stream.notifier.delivery import DeliveryLog, NotificationService
from stream.notifier.notifier import Notifier
from stream.notifier.outputs import Outputs
from stream.notifier.sent_log import SentLog
from stream.notifier.settings import NotifierSettings
from stream.storage.controls import MuteSource
from stream.storage.recipients import RecipientSource

__all__ = ["run_notifier"]

log = logging.getLogger(__name__)

_MARGIN_SECONDS = 5.0


async def run_notifier(
    bootstrap_servers: str,
    alerts_topic: str,
    group_id: str,
    settings: NotifierSettings,
    notifier: Notifier,
    recipients: RecipientSource,
    sent_log: SentLog,
    stop: asyncio.Event,
    *,
    outputs: Outputs | None = None,
    deliveries: DeliveryLog | None = None,
    mutes: MuteSource | None = None,
) -> None:
    """Deliver alert events until ``stop`` is set (to Telegram and every other output)."""
    service = NotificationService.from_settings(
        settings,
        notifier=notifier,
        recipients=recipients,
        sent_log=sent_log,
        clock=time.time,
        channels=outputs.channels if outputs is not None else None,
        alertmanager=outputs.alertmanager if outputs is not None else None,
        deliveries=deliveries,
        mutes=mutes,
    )
    consumer = AIOKafkaConsumer(
        alerts_topic,
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **client_security(settings),
    )
    await consumer.start()
    pending: dict[TopicPartition, deque[tuple[int, float]]] = {}
    hold = settings.alert_group_wait_seconds + _MARGIN_SECONDS
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=1000)
            now = time.time()
            for tp, records in batch.items():
                for record in records:
                    try:
                        event = alerts_pb2.AlertEvent.FromString(record.value or b"")
                    except DecodeError:
                        log.warning("skipping undecodable alert at %s offset %d", tp, record.offset)
                    else:
                        await service.handle(event)
                    pending.setdefault(tp, deque()).append((record.offset, now))
            await service.tick()
            if service.outbox:
                continue  # a delivery waits for a retry: keep its event replayable
            commit = {}
            for tp, queue in pending.items():
                last = None
                while queue and now - queue[0][1] > hold:
                    last = queue.popleft()[0]
                if last is not None:
                    commit[tp] = OffsetAndMetadata(last + 1, "")
            if commit:
                await consumer.commit(commit)
    finally:
        await consumer.stop()
