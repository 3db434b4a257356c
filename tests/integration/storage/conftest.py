"""DynamoDB Local fixtures: one in-memory server per session, fresh tables per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from cli.local.dynamodb import LocalDynamoDB
from stream.storage.dynamodb import DynamoDBClient, make_client
from stream.storage.settings import StorageSettings
from stream.storage.store import Storage

_prefixes = itertools.count()


def local_client(endpoint_url: str) -> DynamoDBClient:
    return make_client(endpoint_url, "us-east-1", "local", "local", read_timeout=5)


@pytest.fixture
def storage_settings(dynamodb: LocalDynamoDB) -> StorageSettings:
    """Settings pointing at DynamoDB Local, with a table prefix of the test's own."""
    return StorageSettings(
        dynamodb_endpoint_url=dynamodb.endpoint_url,
        dynamodb_table_prefix=f"test{next(_prefixes)}",
        dynamodb_access_key_id="local",
        dynamodb_secret_access_key="local",  # type: ignore[arg-type]
        scores_bucket_seconds=3600,
    )


@pytest.fixture
def storage(storage_settings: StorageSettings) -> Iterator[Storage]:
    """The stores on freshly created tables."""
    opened = Storage.from_settings(storage_settings)
    yield opened
    opened.close()
