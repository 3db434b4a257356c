"""Builds the Faust application of the workers, and nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import faust

from stream.worker.settings import WorkerSettings

__all__ = ["WorkerApp", "create_app"]


class WorkerApp(faust.App):
    """A Faust app that lets the worker release held offsets before Faust waits for them.

    The scoring agent acknowledges events only once a checkpoint covers them. Faust drains
    in-flight events when it stops and when a rebalance revokes partitions, so the worker
    checkpoints at those moments instead of waiting for its timer.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.release_held: Callable[[], Awaitable[None]] | None = None
        self._releasing: asyncio.Task[None] | None = None

    def on_rebalance_start(self) -> None:
        super().on_rebalance_start()
        if self.release_held is not None and (self._releasing is None or self._releasing.done()):
            self._releasing = asyncio.ensure_future(self.release_held())

    async def on_stop(self) -> None:
        if self.release_held is not None:
            await self.release_held()
        await super().on_stop()


def _broker_urls(bootstrap_servers: str) -> str:
    return ";".join(f"kafka://{host.strip()}" for host in bootstrap_servers.split(","))


def create_app(settings: WorkerSettings) -> WorkerApp:
    """A Faust app whose consumer group is ``settings.worker_group``.

    At-least-once: this build of the local broker has no transactions, and every sink
    downstream is idempotent. Messages are raw protobuf bytes; schemas live in ``proto/``.
    """
    return WorkerApp(
        settings.worker_group,
        broker=_broker_urls(settings.kafka_bootstrap_servers),
        store="memory://",
        autodiscover=False,
        processing_guarantee="at_least_once",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.samples_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_session_timeout=settings.broker_session_timeout_seconds,
        broker_rebalance_timeout=settings.broker_rebalance_timeout_seconds,
        broker_heartbeat_interval=min(3.0, settings.broker_session_timeout_seconds / 3),
        web_enabled=True,
        web_host=settings.worker_host,
        web_port=settings.worker_port,
        web_in_thread=False,
    )
