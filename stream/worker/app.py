"""Builds the Faust application of the workers, and nothing else.

Faust runs the consumer group, the partition assignment callbacks, the web server and the
process lifecycle. What it commits is the one thing changed: a worker commits the position
its last acknowledged detector checkpoint covers (:class:`CheckpointedConsumer`), not what
Faust acknowledged, because the agent acknowledges every event as soon as it is handed over
(see :mod:`stream.worker.scoring`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from aidevops.kafka.security import faust_credentials
from stream.worker.settings import WorkerSettings

__all__ = ["CheckpointedConsumer", "WorkerApp", "create_app"]


FETCH_MAX_WAIT_SECONDS = 0.1
"""Longest a fetch of ``samples`` waits at the broker for data (Faust hard-codes 1.5 s).

A broker may answer a waiting fetch late when data arrives meanwhile (the local broker
delivered a record up to half a second late with 1.5 s, 27 ms at most with 0.1 s): that
delay is a sample's, from the receiver's answer to its score. An idle worker pays one
fetch request per interval."""


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka reads it when the consumer starts; Faust offers no setting for it.
        consumer._fetch_max_wait_ms = int(FETCH_MAX_WAIT_SECONDS * 1000)
        return consumer


class CheckpointedConsumer(faust_aiokafka.Consumer):
    """A Faust consumer that commits checkpointed positions instead of acknowledged ones.

    ``app.committable()`` maps each owned partition of the source topic to the offset the
    last acknowledged checkpoint covers; Faust's own ack bookkeeping is cleared, unused.
    """

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def _filter_tps_with_pending_acks(self, topics: Any = None) -> Iterator[Any]:
        app = cast(WorkerApp, self.app)
        for tp in app.committable():
            if topics is None or tp in topics or tp.topic in topics:
                yield tp

    def _filter_committable_offsets(self, tps: Iterable[Any]) -> dict[Any, int]:
        app = cast(WorkerApp, self.app)
        wanted = set(tps)
        positions = app.committable()
        for tp in list(self._acked):
            self._acked[tp].clear()  # acked as soon as handed over: not a position
            self._acked_index[tp].clear()
        out = {}
        for tp, offset in positions.items():
            committed = self._committed_offset.get(tp)
            if tp in wanted and (committed is None or offset > committed):
                out[tp] = offset
        return out


class _Transport(faust_aiokafka.Transport):
    Consumer = CheckpointedConsumer


class WorkerApp(faust.App):
    """The workers' Faust app: commits checkpointed positions, checkpoints when moved."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.committable: Callable[[], Mapping[Any, int]] = dict
        self.before_rebalance: Callable[[], Awaitable[None]] | None = None
        self.before_stop: Callable[[], Awaitable[None]] | None = None

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)

    def on_rebalance_start(self) -> None:
        super().on_rebalance_start()
        if self.before_rebalance is not None:
            self.add_future(self.before_rebalance())

    async def on_stop(self) -> None:
        if self.before_stop is not None:
            await self.before_stop()
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
        broker_credentials=faust_credentials(settings),
        store="memory://",
        # Faust creates its data directory even with in-memory tables; keep it out of the
        # working directory (the repository, under `aidevops up`).
        datadir=str(Path(tempfile.gettempdir()) / f"aidevops-faust-{settings.worker_group}"),
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
        broker_commit_interval=min(2.0, settings.checkpoint_interval_seconds),
        web_enabled=True,
        web_host=settings.worker_host,
        web_port=settings.worker_port,
        web_in_thread=False,
        # Faust's debug pages (/router, /table, /graph, stats) would serve state without
        # credentials; the worker serves its own /metrics only.
        web_router_enabled=False,
        web_tables_enabled=False,
        web_graph_enabled=False,
        web_stats_enabled=False,
    )
