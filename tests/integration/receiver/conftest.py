"""A receiver built by the real factory, publishing to the real broker."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cli.local.broker import LocalBroker
from receiver.app import PUBLISHER, create_app
from receiver.settings import ReceiverSettings

_topics = itertools.count()

ClientFactory = Callable[..., Any]


@pytest.fixture
async def receiver_factory(
    broker: LocalBroker,
) -> AsyncIterator[Callable[..., Any]]:
    """Build receivers with settings overrides; each gets a fresh topic unless one is given."""
    clients: list[TestClient[Any, Any]] = []

    async def make(**overrides: Any) -> tuple[TestClient[Any, Any], ReceiverSettings]:
        values: dict[str, Any] = {
            "kafka_bootstrap_servers": broker.bootstrap_servers,
            "samples_topic": f"samples-{next(_topics)}",
            "samples_partitions": 4,
            "publish_timeout_seconds": 3.0,
        }
        values.update(overrides)
        settings = ReceiverSettings(**values)
        client = TestClient(TestServer(create_app(settings)))
        await client.start_server()
        clients.append(client)
        if values["kafka_bootstrap_servers"] == broker.bootstrap_servers:
            publisher = client.app[PUBLISHER]
            for _ in range(200):
                if await publisher.ready():
                    break
                import asyncio

                await asyncio.sleep(0.05)
        return client, settings

    yield make
    for client in clients:
        await client.close()
