"""The worker's Faust agent, timers and pages, wired to the scoring service."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import faust
from prometheus_client import generate_latest

from aidevops.auth import Authenticator
from aidevops.kafka.producer import BatchProducer
from aidevops.kafka.topics import ensure_topics
from stream.alerting.policy import AlertPolicy
from stream.worker.app import WorkerApp, create_app
from stream.worker.controls import WorkerControls
from stream.worker.engine import ScoringEngine
from stream.worker.history import PrometheusHistory
from stream.worker.memory import release_free_memory
from stream.worker.scoring import ScoringService
from stream.worker.settings import WorkerSettings
from stream.worker.snapshots import open_snapshots
from stream.worker.topics import declare_topics

__all__ = ["build_worker", "run_worker"]

log = logging.getLogger(__name__)


def build_worker(settings: WorkerSettings) -> tuple[WorkerApp, ScoringService]:
    """The Faust app with every agent, timer and page registered, and its scoring service."""
    app = create_app(settings)
    topics = declare_topics(app, settings)
    engine = ScoringEngine(
        AlertPolicy(settings.policy_config()),
        settings.detector_config(),
        max_live_series=settings.max_live_series,
        idle_seconds=settings.idle_series_seconds,
        metadata_wait_ms=round(settings.metadata_wait_seconds * 1000),
        history_tenants=frozenset(settings.history_tenants if settings.prometheus_url else ()),
    )
    history = (
        PrometheusHistory(
            settings.prometheus_url,
            settings.history_seconds,
            settings.history_step_seconds,
            rate=settings.history_queries_per_second,
            rhythm_seconds=settings.history_rhythm_seconds,
        )
        if settings.prometheus_url
        else None
    )
    compression = settings.outputs_compression
    producer = BatchProducer(
        settings.kafka_bootstrap_servers,
        settings.publish_timeout_seconds,
        "aidevops-worker",
        compression_type=None if compression == "none" else compression,
    )
    snapshots = open_snapshots(settings.snapshot_url) if settings.snapshot_url else None
    service = ScoringService(
        settings,
        engine,
        producer,
        topics,
        snapshots=snapshots,
        history=history,
        controls=_controls(settings),
    )
    samples_topic = settings.samples_topic

    def committable() -> dict[Any, int]:
        return {
            faust.types.TP(samples_topic, partition): offset
            for partition, offset in service.committable().items()
        }

    async def before_stop() -> None:
        await service.stop(timeout=settings.broker_rebalance_timeout_seconds / 2)
        await app.consumer.commit()
        if snapshots is not None:  # a stopped local stack starts again where it was
            await service.snapshot()

    app.committable = committable
    app.before_rebalance = service.checkpoint
    app.before_stop = before_stop

    @app.agent(topics.samples, name="score")
    async def score(stream: Any) -> None:
        # Hand each record over and return: Faust acknowledges it at once, so nothing a
        # rebalance or a stop waits for is ever held here (see stream.worker.scoring).
        async for event in stream.events():
            message = event.message
            await service.offer(message.partition, message.offset, event.value)

    @app.timer(settings.checkpoint_interval_seconds)  # type: ignore[untyped-decorator]
    async def checkpoint() -> None:
        await service.checkpoint()
        release_free_memory()  # what the steps' temporaries left (see stream.worker.memory)

    if service.controls is not None:

        @app.timer(settings.controls_refresh_seconds)  # type: ignore[untyped-decorator]
        async def refresh_controls() -> None:
            await service.refresh_controls()

    if snapshots is not None:

        @app.timer(settings.snapshot_interval_seconds)  # type: ignore[untyped-decorator]
        async def snapshot() -> None:
            await service.snapshot()

    @app.timer(1.0)  # type: ignore[untyped-decorator]
    async def highwaters() -> None:
        consumer = app.consumer
        for tp in consumer.assignment():
            if tp.topic == samples_topic:
                service.highwater[tp.partition] = consumer.highwater(tp)

    auth = Authenticator.from_settings(settings)

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        # Every tenant's series are here: the operator's credentials only.
        if auth.enabled and not auth.check(request.headers.get("Authorization")):
            return web.text(
                "missing or wrong credentials\n",
                status=401,
                headers={"WWW-Authenticate": auth.challenge},
            )
        body = generate_latest(service.metrics.registry).decode()
        # aiohttp adds the charset itself and refuses one inside content_type.
        return web.text(body, content_type="text/plain; version=0.0.4")

    def samples_partitions(tps: Any) -> list[int]:
        return [tp.partition for tp in tps if tp.topic == samples_topic]

    # Faust sends these signals as handler(sender, partitions, signal=...).
    @app.on_partitions_assigned.connect
    async def on_assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        service.assigned(samples_partitions(args[0] if args else kwargs["assigned"]))

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        gone = samples_partitions(args[0] if args else kwargs["revoked"])
        await service.revoked(gone, timeout=settings.broker_rebalance_timeout_seconds / 3)
        # Commit what the checkpoint covers while the partitions are still ours.
        await app.consumer.commit()

    @app.task  # type: ignore[untyped-decorator]
    async def start_producer() -> None:
        await producer.start()

    return app, service


def _controls(settings: WorkerSettings) -> WorkerControls | None:
    """The controls of the alert-configs table, when DynamoDB is configured."""
    if not settings.controls_enabled:
        return None
    from stream.storage.controls import ControlStore
    from stream.storage.dynamodb import DynamoGateway
    from stream.storage.store import client_from_settings
    from stream.storage.tables import table_names

    # A short deadline: a throttled read is retried at the next refresh, not held.
    gateway = DynamoGateway(client_from_settings(settings), deadline_seconds=5.0)
    store = ControlStore(gateway, table_names(settings.dynamodb_table_prefix)[2])
    return WorkerControls(store.everything)


def run_worker(settings: WorkerSettings, loglevel: str = "INFO") -> None:
    """Create the topics if missing, then run the worker until SIGTERM/SIGINT."""
    asyncio.run(
        ensure_topics(
            settings.kafka_bootstrap_servers,
            {
                settings.samples_topic: settings.samples_partitions,
                settings.scores_topic: settings.samples_partitions,
                settings.alerts_topic: settings.samples_partitions,
                settings.checkpoint_topic: settings.samples_partitions,
            },
        )
    )
    app, _ = build_worker(settings)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    # Faust's terminal spinner, at WARNING and above, sets the root logger to DEBUG so that
    # every record turns it: each debug call of every library would then build a record.
    worker.spinner = None
    # What start-up made (modules, Faust's app and worker) lives as long as the process:
    # out of the collector's sight, a full collection no longer walks it (80 ms each time,
    # measured under load, otherwise).
    gc.collect()
    gc.freeze()
    worker.execute_from_commandline()
