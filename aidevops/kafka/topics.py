"""Create topics the platform owns, with their partition counts, if they are missing."""

from __future__ import annotations

from collections.abc import Mapping

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from aidevops.errors import BrokerUnavailable
from aidevops.kafka.security import client_security
from aidevops.settings import KafkaSettings

__all__ = ["ensure_topics"]


async def ensure_topics(
    bootstrap_servers: str,
    partitions: Mapping[str, int],
    timeout_ms: int = 10_000,
    security: KafkaSettings | None = None,
) -> None:
    """Create each topic in ``partitions`` that does not exist; leave existing ones alone.

    An existing topic keeps its partition count: changing it would move series between
    partitions and away from their detectors, so that stays an operator's decision.
    ``security``: see :func:`~aidevops.kafka.security.client_security`.
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        request_timeout_ms=timeout_ms,
        **client_security(security),
    )
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(name, num_partitions=count, replication_factor=1)
            for name, count in partitions.items()
            if name not in existing
        ]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass  # another process created it between our list and create
    except KafkaError as exc:
        raise BrokerUnavailable(f"cannot create topics on {bootstrap_servers}: {exc}") from exc
    finally:
        await admin.close()
