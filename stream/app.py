"""Builds the Faust application of the workers, and nothing else."""

from __future__ import annotations

import faust

from aidevops.settings import WorkerSettings

__all__ = ["create_app"]


def _broker_urls(bootstrap_servers: str) -> str:
    return ";".join(f"kafka://{host.strip()}" for host in bootstrap_servers.split(","))


def create_app(settings: WorkerSettings) -> faust.App:
    """A Faust app whose consumer group is ``settings.worker_group``.

    At-least-once: this build of the local broker has no transactions, and every sink
    downstream is idempotent. Messages are raw protobuf bytes; schemas live in ``proto/``.
    """
    return faust.App(
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
